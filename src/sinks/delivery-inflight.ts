// Sent batches not confirmed yet, in order. A batch is confirmed by time (the confirm window
// passed without a transport error) or, for sinks that acknowledge (SendResult.acked), once its
// acknowledgement came; a failed acknowledgement makes the send loop rewind to the last confirmed
// record, and acknowledgements of batches sent before a rewind are ignored.
import type { Backlog, Taken } from './backlog.js';
import type { DeliveryOptions, DeliveryStats } from './delivery-types.js';
import type { Wakeups } from './delivery-wake.js';

interface Inflight {
  readonly mark: Taken['mark'];
  readonly count: number;
  readonly at: number;
  /** undefined: confirmed by time; true/false: waiting for / got the sink's acknowledgement */
  pending?: boolean;
}

export class InflightBatches {
  private list: Inflight[] = [];
  /** bumped at every rewind: acknowledgements of batches sent before it are stale */
  private epoch = 0;
  /** an acknowledgement failed (connection lost, record refused): the loop rewinds */
  private ackFailure: unknown = null;

  constructor(
    private readonly o: DeliveryOptions,
    private readonly backlog: Backlog,
    private readonly st: DeliveryStats,
    private readonly sig: Wakeups,
  ) {}

  get size(): number {
    return this.list.length;
  }

  /** Why an acknowledgement failed since the last rewind, or null. */
  get failure(): unknown {
    return this.ackFailure;
  }

  private get confirmMs(): number {
    return this.o.confirmMs ?? 0;
  }

  /** A batch went to the sink: it waits for its acknowledgement when there is one, else for the confirm window. */
  sent(t: Taken, acked: Promise<void> | undefined): void {
    if (acked) {
      const f: Inflight = { mark: t.mark, count: t.items.length, at: Date.now(), pending: true };
      this.list.push(f);
      this.track(f, acked);
    } else {
      this.backlog.taken(t.mark);
      this.list.push({ mark: t.mark, count: t.items.length, at: Date.now() });
      if (this.confirmMs === 0) this.confirmDue();
    }
  }

  /**
   * Confirms batches whose confirmation window has passed without a transport error, and
   * acknowledged batches (in order: one still waiting for its acknowledgement holds the rest).
   * `all`: confirm window or not (a clean close of the transport).
   */
  confirmDue(all = false): void {
    const now = Date.now();
    for (;;) {
      const f = this.list[0];
      if (!f || (f.pending === undefined ? !all && now - f.at < this.confirmMs : f.pending)) break;
      this.list.shift();
      // an acknowledged batch is the one a restart need not send again (the others were marked when sent)
      if (f.pending !== undefined) this.backlog.taken(f.mark);
      this.backlog.confirm(f.mark, f.count);
      this.st.delivered += f.count;
    }
    this.sig.notify();
  }

  /** How long the loop may sleep with nothing to send: acknowledgements wake it, a confirm window is waited out. */
  idleWaitMs(): number {
    const f = this.list[0];
    return f && f.pending === undefined ? Math.max(1, this.confirmMs - (Date.now() - f.at)) : 1000;
  }

  /** Starts again after the last confirmed record (everything sent since is re-sent). */
  rewind(unsent: Taken | null): void {
    this.epoch++;
    this.ackFailure = null;
    this.list = [];
    this.backlog.rewind(unsent);
  }

  /** Follows a batch's acknowledgement (SendResult.acked). */
  private track(f: Inflight, acked: Promise<void>): void {
    const epoch = this.epoch;
    acked.then(
      () => {
        f.pending = false;
        if (epoch !== this.epoch) return;
        this.confirmDue();
        this.sig.wake();
      },
      (e: unknown) => {
        if (epoch !== this.epoch || this.ackFailure) return;
        this.ackFailure = e ?? new Error('acknowledgement failed');
        this.sig.wake();
      },
    );
  }
}
