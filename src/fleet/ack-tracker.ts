// At-least-once for central processors: a fleet record is acknowledged to its engine only once
// everything the runtime made of it has been delivered by every sink (or it produced nothing).
//
// The runtime awaits each batch through its stages and into every delivery's queue before it
// asks the source for the next event, so when the wrapped source resumes after yielding a batch,
// the batch's outputs are queued. At that moment each delivery's `accepted` count is noted;
// deliveries confirm records in order, so once `delivered` reaches that count the batch's
// outputs are through (a record the sink rejected for good counts as delivered: re-sending it
// would not help). With a disk spool, `accepted` already means committed to disk. Acks go out
// in batch order (an ack covers every earlier record).
import type { DeliveryPort } from '../pipeline/delivery-port.js';
import type { RecordId, Source, SourceEvent } from '../pipeline/types.js';

interface Pending { upTo: RecordId; targets: number[] }

export interface AckTrackerStats {
  /** batches fed to the runtime, batches acknowledged */
  fed: number;
  acked: number;
  /** records acknowledged */
  records: number;
}

export class AckTracker {
  private readonly pending: Pending[] = [];
  private readonly counts: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly stats: AckTrackerStats = { fed: 0, acked: 0, records: 0 };

  constructor(
    private readonly source: Source,
    private readonly ports: readonly DeliveryPort[],
    private readonly pollMs = 10,
  ) {
    if (!source.ack) throw new Error(`source ${source.name} cannot acknowledge records`);
  }

  /** The batch ending at `upTo` (of `n` records) went through the runtime: ack once delivered. */
  fed(upTo: RecordId, n: number): void {
    this.stats.fed++;
    this.pending.push({ upTo, targets: this.ports.map((p) => p.stats().accepted) });
    this.counts.push(n);
    this.check();
    if (this.pending.length && !this.timer) {
      this.timer = setInterval(() => this.check(), this.pollMs);
    }
  }

  /** Acks every batch whose outputs are delivered; returns how many batches still wait. */
  check(): number {
    if (this.pending.length) {
      const delivered = this.ports.map((p) => p.stats().delivered);
      let last: RecordId | undefined;
      while (this.pending.length && this.pending[0]!.targets.every((t, i) => delivered[i]! >= t)) {
        last = this.pending.shift()!.upTo;
        this.stats.acked++;
        this.stats.records += this.counts.shift()!;
      }
      if (last) this.source.ack!(last);
    }
    if (!this.pending.length && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    return this.pending.length;
  }

  /** Stops polling; batches not delivered stay unacknowledged (the engine redelivers them). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get waiting(): number {
    return this.pending.length;
  }
}

/**
 * The source as the runtime sees it: every batch is reported to the tracker once the runtime
 * comes back for the next event (the batch is then through the stages and queued).
 */
export function trackedSource(src: Source, tracker: () => AckTracker): Source {
  async function* run(): AsyncGenerator<SourceEvent> {
    for await (const ev of src) {
      yield ev;
      if (ev.kind === 'records' && ev.records.length) {
        const last = ev.records[ev.records.length - 1]!;
        if (last.id) tracker().fed(last.id, ev.records.length);
      }
    }
  }
  return { name: src.name, [Symbol.asyncIterator]: run, stop: () => src.stop() };
}
