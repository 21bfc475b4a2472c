// Fuzz tests must catch an input that hangs a parser or sends it down a super-linear path, without
// a wall-time bound (a slow machine is not a slow parser). The yardstick is the same run's own
// typical cost: the median of the first inputs' cost per character and per input. Costs are CPU
// time (cpuMs), so a CPU taken away by other work does not count. An input fails when it costs
// over FACTOR times what its size predicts; one over a quarter of that is run three more times and
// only the least of the four runs counts, so a GC or a compile on another thread does not make an
// outlier either.

/** This process's CPU time in ms (all threads, user + system; getrusage counts to the µs). */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface CostReport {
  /** inputs whose retried cost stayed over the bound */
  outliers: string[];
  /** the highest first-try cost over its prediction, and its label (for the test's diagnostics) */
  worstRatio: number;
  worst: string;
  /** the highest cost over its prediction once retried (what the bound is held against) */
  worstRetried: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? 0;
};

export class CostOutliers {
  private readonly warm: { ms: number; size: number }[] = [];
  private base: { perChar: number; ms: number } | undefined;
  readonly report: CostReport = { outliers: [], worstRatio: 0, worst: '', worstRetried: 0 };

  constructor(private readonly factor = 200, private readonly warmup = 300) {}

  /** Records one input's cost (CPU ms, from cpuMs()); `again` runs the same input once more (its
   * throws are the caller's business and are ignored here). */
  check(ms: number, size: number, label: string, again: () => void): void {
    const b = this.base;
    if (!b) {
      this.warm.push({ ms, size });
      if (this.warm.length >= this.warmup) {
        this.base = { perChar: median(this.warm.map((w) => w.ms / Math.max(1, w.size))), ms: median(this.warm.map((w) => w.ms)) };
      }
      return;
    }
    const predicted = Math.max(b.perChar * size, b.ms);
    if (ms / predicted > this.report.worstRatio) {
      this.report.worstRatio = ms / predicted;
      this.report.worst = label;
    }
    let least = ms;
    if (ms > (this.factor * predicted) / 4) {
      for (let i = 0; i < 3; i++) {
        const t0 = cpuMs();
        try { again(); } catch { /* judged by the caller on its first run */ }
        least = Math.min(least, cpuMs() - t0);
      }
    }
    this.report.worstRetried = Math.max(this.report.worstRetried, least / predicted);
    if (least > this.factor * predicted) this.report.outliers.push(`${label}: ${least.toFixed(1)} ms, ${(least / predicted).toFixed(0)}× what its ${size} characters predict`);
  }

  /** One line for the test's diagnostics. */
  summary(): string {
    const b = this.base;
    return b
      ? `typical cost ${(b.perChar * 1000).toFixed(3)} µs/char, ${b.ms.toFixed(3)} ms/input; worst first try ${this.report.worstRatio.toFixed(1)}× its prediction (${this.report.worst}), ${this.report.worstRetried.toFixed(1)}× as the least of four runs; bound ${this.factor}×`
      : 'fewer inputs than the yardstick needs';
  }
}
