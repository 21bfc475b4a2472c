// The two ways a Delivery waits. Pushes blocked for room wait for the next state change (room
// freed, commit done, close); the send loop sleeps until its timer or an explicit wake (records
// admitted, a commit, an acknowledgement, close), so it never polls faster than it must.

export class Wakeups {
  private waiters: (() => void)[] = [];
  private wakeLoop: (() => void) | null = null;

  /** Resolves at the next state change (room freed, commit done, close). */
  changed(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  /** Ends the send loop's current sleep, if it sleeps. */
  wake(): void {
    const w = this.wakeLoop;
    this.wakeLoop = null;
    w?.();
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wakeLoop = null;
        r();
      }, ms);
      this.wakeLoop = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}
