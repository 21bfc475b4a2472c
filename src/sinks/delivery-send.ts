// The sink side of a Delivery's send loop: sending one batch with per-record retries, the
// sink's up/down state (logged when it changes), the log line for records re-sent after a
// failure, and the doubling wait between attempts.
import type { SinkItem } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import type { Taken } from './backlog.js';
import { countDrop, type DeliveryOptions, type DeliveryStats } from './delivery-types.js';
import type { Wakeups } from './delivery-wake.js';

type Retry = NonNullable<DeliveryOptions['retry']>;

/** Waits from retry.minMs, doubling after each use up to retry.maxMs. */
export class Backoff {
  private ms: number;

  constructor(private readonly retry: Retry) {
    this.ms = retry.minMs;
  }

  reset(): void {
    this.ms = this.retry.minMs;
  }

  /** The wait to use now; the next one is twice as long. */
  next(): number {
    const ms = this.ms;
    this.ms = Math.min(this.retry.maxMs, ms * 2);
    return ms;
  }
}

export class Sender {
  private downSince = 0;

  constructor(
    private readonly o: DeliveryOptions,
    private readonly st: DeliveryStats,
    private readonly log: (line: string) => void,
    private readonly sig: Wakeups,
    /** false once close() stops the loop: records failed with retry=true are then dropped */
    private readonly running: () => boolean,
  ) {}

  /**
   * Sends a batch; items the sink failed with retry=true are re-sent alone, the others counted.
   * Returns the batch's acknowledgement when the sink gives one (SendResult.acked).
   */
  async send(items: readonly SinkItem[], retry: Retry): Promise<{ acked?: Promise<void> }> {
    let todo = items;
    const wait = new Backoff(retry);
    for (;;) {
      const res = await this.o.sink.send(todo);
      // a sink that acknowledges later reports refused records by rejecting `acked` (wrapped:
      // an async function returning the promise itself would wait for it)
      if (res.acked) return { acked: res.acked };
      const failed = res.failed ?? [];
      if (failed.length === 0) return {};
      const again: SinkItem[] = [];
      for (const f of failed) {
        const it = todo[f.index];
        if (!it) continue;
        if (f.retry && this.running()) again.push(it);
        else {
          countDrop(this.st.dropped, f.retry ? 'shutdown' : 'sink_rejected');
          this.log(`sink ${this.o.name}: record ${recordIdString(it.id)} ${f.retry ? 'not delivered at shutdown' : 'rejected'}: ${f.reason}`);
        }
      }
      if (again.length === 0) return {};
      todo = again;
      await this.sig.sleep(wait.next());
    }
  }

  reportResend(t: Taken): void {
    this.st.duplicatesResent += t.resent;
    const first = t.items[0]!.id;
    const last = t.items[t.resent - 1]!.id;
    this.log(`sink ${this.o.name}: re-sending ${t.resent} records that may have been delivered already: ${recordIdString(first)} .. ${recordIdString(last)}`);
  }

  up(): void {
    if (!this.st.sinkUp && this.downSince) this.log(`sink ${this.o.name}: up again after ${Date.now() - this.downSince} ms`);
    this.st.sinkUp = true;
    this.downSince = 0;
  }

  down(e: unknown): void {
    if (this.st.sinkUp || !this.downSince) {
      this.log(`sink ${this.o.name}: down: ${e instanceof Error ? e.message : String(e)}`);
      this.downSince = Date.now();
    }
    this.st.sinkUp = false;
  }
}
