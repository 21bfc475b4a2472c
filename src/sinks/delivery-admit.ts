// Admission: what push does with a batch under the overload policy, to the memory queue or to
// the spool's group commit. Every refusal is counted by reason, in the delivery's totals and in
// the push's result.
import type { DropReason, SinkItem } from '../pipeline/types.js';
import { itemBytes, type MemoryBacklog } from './backlog.js';
import { countDrop, type DeliveryOptions, type DeliveryStats, type PushResult } from './delivery-types.js';
import { frameSize } from './record-frame.js';
import type { Spool } from './spool.js';
import type { Wakeups } from './delivery-wake.js';

export class Admission {
  private committingBytes = 0;

  constructor(
    private readonly o: DeliveryOptions,
    private readonly st: DeliveryStats,
    private readonly sig: Wakeups,
    /** close() has begun: blocked pushes give up, the rest is refused as shutdown */
    private readonly closing: () => boolean,
  ) {}

  /** bytes accepted into the spool's commit buffer and not committed yet */
  get committing(): number {
    return this.committingBytes;
  }

  async toMemory(q: MemoryBacklog, items: readonly SinkItem[]): Promise<PushResult> {
    let accepted = 0;
    let refusing = false;
    const dropped: Partial<Record<DropReason, number>> = {};
    // admitted records are encoded into the queue in runs, not one by one; take[takeFrom..] are
    // admitted and not queued yet (drop_oldest may drop from its front: they are older than
    // what comes next, and newer than everything queued)
    let take: SinkItem[] = [];
    let sizes: number[] = [];
    let takeFrom = 0;
    let takeBytes = 0;
    const flush = (): void => {
      if (take.length > takeFrom) q.pushItems(takeFrom ? take.slice(takeFrom) : take, takeFrom ? sizes.slice(takeFrom) : sizes);
      take = [];
      sizes = [];
      takeFrom = 0;
      takeBytes = 0;
    };
    for (const item of items) {
      const b = itemBytes(item);
      let ok = !refusing;
      while (ok && q.bytes + takeBytes + b > this.o.maxBytes) {
        if (this.o.policy === 'drop_oldest') {
          if (q.dropOldestUnsent()) countDrop(this.st.dropped, 'queue_full');
          else if (takeFrom < take.length) {
            takeBytes -= sizes[takeFrom]!;
            takeFrom++;
            accepted--;
            countDrop(this.st.dropped, 'queue_full');
            countDrop(dropped, 'queue_full');
          } else ok = false;
        } else if (this.o.policy === 'block' && (q.bytes > 0 || takeBytes > 0) && !this.closing()) {
          flush();
          this.sig.wake();
          await this.sig.changed();
        } else ok = false;
      }
      if (!ok) {
        // once full, the rest of the batch is refused too: what is dropped is always the newest
        refusing = this.o.policy !== 'drop_oldest';
        const reason: DropReason = this.closing() ? 'shutdown' : this.o.policy === 'reject' ? 'rejected' : 'queue_full';
        countDrop(this.st.dropped, reason);
        countDrop(dropped, reason);
        continue;
      }
      take.push(item);
      sizes.push(b);
      takeBytes += b;
      accepted++;
    }
    flush();
    this.st.accepted += accepted;
    if (accepted) this.sig.wake();
    return { accepted, refused: items.length - accepted, dropped };
  }

  /** Admits to the spool; `commit` settles once the admitted records' group commits are done. */
  async toSpool(sp: Spool, items: readonly SinkItem[]): Promise<{ result: PushResult; commit: Promise<unknown> }> {
    const commits: Promise<void>[] = [];
    let take: SinkItem[] = [];
    let sizes: number[] = [];
    let takeBytes = 0;
    let refused = 0;
    // room under the cap, asked again only when a record does not fit (asking walks the segments)
    let room = sp.room();
    const flushTake = (): void => {
      if (!take.length) return;
      commits.push(this.commitPart(sp, take, sizes, takeBytes));
      take = [];
      sizes = [];
      takeBytes = 0;
      room = sp.room();
    };
    const policy = this.o.policy;
    let sticky: DropReason | null = null;
    const dropped: Partial<Record<DropReason, number>> = {};
    for (const item of items) {
      const f = frameSize(item);
      let reason: DropReason | null = sticky;
      // the memory bound covers records waiting for their group commit
      while (reason === null && this.committingBytes + takeBytes + f > this.o.maxBytes) {
        if (takeBytes > 0) flushTake();
        else if (policy === 'block' && this.committingBytes > 0 && !this.closing()) await this.sig.changed();
        else {
          reason = this.closing() ? 'shutdown' : policy === 'reject' ? 'rejected' : 'queue_full';
          break;
        }
      }
      // the size cap on disk
      while (reason === null && takeBytes + f > room && takeBytes + f > (room = sp.room())) {
        if (policy === 'block') {
          flushTake();
          if (this.closing()) reason = 'shutdown';
          else await this.sig.changed();
        } else if (policy === 'drop_oldest') {
          flushTake();
          const lost = sp.evictOldest();
          if (lost < 0) reason = 'spool_full';
          else countDrop(this.st.dropped, 'spool_full', lost);
        } else reason = policy === 'reject' ? 'rejected' : 'spool_full';
      }
      if (reason !== null) {
        // once full, the rest of the batch is refused too: what is dropped is always the newest
        if (policy !== 'drop_oldest') sticky = reason;
        countDrop(this.st.dropped, reason);
        countDrop(dropped, reason);
        refused++;
        continue;
      }
      take.push(item);
      sizes.push(f);
      takeBytes += f;
    }
    flushTake();
    return { result: { accepted: items.length - refused, refused, dropped }, commit: Promise.all(commits) };
  }

  private commitPart(sp: Spool, items: SinkItem[], sizes: number[], bytes: number): Promise<void> {
    this.committingBytes += bytes;
    const n = items.length;
    return sp.append(items, sizes).then(
      () => {
        this.st.accepted += n;
        this.committingBytes -= bytes;
        this.sig.notify();
      },
      (e: unknown) => {
        // the spool cannot write (disk error): these records were never accepted
        this.committingBytes -= bytes;
        countDrop(this.st.dropped, 'spool_full', n);
        this.sig.notify();
        throw e;
      },
    );
  }
}
