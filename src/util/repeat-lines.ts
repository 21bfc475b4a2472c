// A gate for log lines that repeat: a line that differs from the last one passes at once; the
// same line again passes at most once per interval. For retry loops that can last minutes (a
// NATS cluster without quorum is retried every 5 s, a SysFlow processor that stays away every 11 s).

export class RepeatLines {
  private last: string | undefined;
  private at = 0;
  private quiet = 0;

  constructor(private readonly everyMs: number, private readonly now: () => number = Date.now) {}

  /** undefined: hold `text` back (the same text passed less than the interval ago); otherwise
   * it passes, and the result is how many like it were held back since the last that passed. */
  pass(text: string): number | undefined {
    const t = this.now();
    if (text === this.last && t - this.at < this.everyMs) {
      this.quiet++;
      return undefined;
    }
    const held = text === this.last ? this.quiet : 0;
    this.last = text;
    this.at = t;
    this.quiet = 0;
    return held;
  }
}
