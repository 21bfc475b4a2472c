// What a Delivery keeps between accepting records and the sink confirming them. Two kinds: in
// memory (bounded in bytes) and on disk (the spool). Both hand out records in order, remember
// what was sent but not yet confirmed, and can rewind to the last confirmed record after a
// failed send so that nothing sent-but-unconfirmed is lost.
import type { SinkItem } from '../pipeline/types.js';
import type { Spool } from './spool.js';
import type { Pos } from './spool-format.js';

/** Per-record bookkeeping overhead counted against the memory bound. */
export const ITEM_OVERHEAD = 96;

export function itemBytes(item: SinkItem): number {
  return item.data.length + ITEM_OVERHEAD + item.id.host.length + item.id.boot.length + (item.key?.length ?? 0);
}

/** A batch taken for sending: items, and a mark to confirm once the sink has them. */
export interface Taken {
  readonly items: SinkItem[];
  readonly mark: number | Pos;
  /** where the batch starts (the mark of what came before it) */
  readonly from: number | Pos;
  /** how many of the items may have been delivered before (re-sent after a failure or restart) */
  readonly resent: number;
}

export interface Backlog {
  take(maxItems: number, maxBytes: number): Taken | null;
  /** the sink took everything up to `mark` (a restart need not send it again) */
  taken(mark: number | Pos): void;
  /** everything up to `mark` is confirmed for good (its memory or segments can go) */
  confirm(mark: number | Pos, count: number): void;
  /**
   * A send failed: start again after the last confirmed record. `unsent` is the failed batch
   * when the sink says none of it reached the transport (it is then not a possible duplicate).
   */
  rewind(unsent: Taken | null): void;
  /** records accepted but not confirmed, where known */
  readonly depth: number;
  readonly bytes: number;
}

/** Records in memory: a deque with a confirmed head, a sent index and an unsent tail. */
export class MemoryBacklog implements Backlog {
  /** item null: dropped by drop_oldest after later records were queued (a tombstone keeps ordinals) */
  private q: { item: SinkItem | null; bytes: number }[] = [];
  private head = 0;
  private next = 0; // index of the first record not yet taken
  /** taken-and-failed records before this index are re-sends */
  private resendUntil = 0;
  private base = 0; // absolute ordinal of q[0]
  bytes = 0;

  private live = 0;

  get depth(): number {
    return this.live;
  }

  get unsent(): number {
    return this.q.length - this.next;
  }

  push(item: SinkItem, bytes: number): void {
    this.q.push({ item, bytes });
    this.bytes += bytes;
    this.live++;
  }

  /** Drops the oldest record that has not been handed to the sink yet; false if there is none. */
  dropOldestUnsent(): boolean {
    if (this.next >= this.q.length) return false;
    const e = this.q[this.next++]!;
    this.bytes -= e.bytes;
    e.item = null;
    e.bytes = 0;
    this.live--;
    return true;
  }

  /** Removes every record not confirmed yet (shutdown without a spool); returns how many. */
  clear(): number {
    const n = this.live;
    this.live = 0;
    this.base += this.q.length;
    this.q = [];
    this.head = this.next = this.resendUntil = 0;
    this.bytes = 0;
    return n;
  }

  take(maxItems: number, maxBytes: number): Taken | null {
    if (this.next >= this.q.length) return null;
    const from = this.base + this.next;
    const items: SinkItem[] = [];
    let bytes = 0;
    let resent = 0;
    while (this.next < this.q.length && items.length < maxItems && (items.length === 0 || bytes < maxBytes)) {
      const e = this.q[this.next++]!;
      if (!e.item) continue;
      if (this.next <= this.resendUntil) resent++;
      items.push(e.item);
      bytes += e.bytes;
    }
    if (items.length === 0) {
      this.confirm(this.base + this.next);
      return null;
    }
    return { items, mark: this.base + this.next, from, resent };
  }

  taken(): void {
    /* memory does not survive a restart */
  }

  confirm(mark: number | Pos): void {
    const upTo = (mark as number) - this.base;
    while (this.head < upTo && this.head < this.q.length) {
      const e = this.q[this.head++]!;
      this.bytes -= e.bytes;
      if (e.item) this.live--;
    }
    if (this.head > 4096 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head);
      this.base += this.head;
      this.next -= this.head;
      this.resendUntil = Math.max(0, this.resendUntil - this.head);
      this.head = 0;
    }
  }

  rewind(unsent: Taken | null): void {
    const upTo = unsent ? (unsent.from as number) - this.base : this.next;
    this.resendUntil = Math.max(this.resendUntil, upTo);
    this.next = this.head;
  }
}

/** Records in the spool; the spool's cursor for this consumer is the confirmed mark. */
export class SpoolBacklog implements Backlog {
  /** records that failed to send after being taken, still to be re-sent */
  private resendUntil: Pos | null = null;
  private inFlight = 0;
  private sentBefore: Pos | null = null;

  constructor(
    private readonly spool: Spool,
    private readonly consumer: string,
  ) {}

  get depth(): number {
    return this.inFlight;
  }

  get bytes(): number {
    return this.spool.unackedBytes(this.consumer);
  }

  hasUnsent(): boolean {
    return this.spool.hasUnread(this.consumer);
  }

  take(maxItems: number, maxBytes: number): Taken | null {
    const from = this.spool.readPos(this.consumer);
    const got = this.spool.read(this.consumer, maxItems, maxBytes);
    if (got.length === 0) return null;
    let resent = 0;
    for (const g of got) {
      if (this.spool.maybeSentBefore(this.consumer, g.end) || (this.resendUntil && cmp(g.end, this.resendUntil) <= 0)) resent++;
    }
    const mark = got[got.length - 1]!.end;
    this.sentBefore = this.spool.sentPos(this.consumer);
    this.spool.markSent(this.consumer, mark);
    this.inFlight += got.length;
    return { items: got.map((g) => g.item), mark, from, resent };
  }

  taken(mark: number | Pos): void {
    this.spool.ack(this.consumer, mark as Pos);
  }

  confirm(mark: number | Pos, count: number): void {
    this.spool.release(this.consumer, mark as Pos);
    this.inFlight = Math.max(0, this.inFlight - count);
  }

  rewind(unsent: Taken | null): void {
    const r = unsent ? (unsent.from as Pos) : this.spool.readPos(this.consumer);
    // nothing of the failed batch went out: the persisted sent cursor goes back to where it was
    if (unsent && this.sentBefore) this.spool.resetSent(this.consumer, cmp(this.sentBefore, r) > 0 ? this.sentBefore : r);
    if (!this.resendUntil || cmp(r, this.resendUntil) > 0) this.resendUntil = r;
    this.spool.rewind(this.consumer);
    this.inFlight = 0;
  }
}

function cmp(a: Pos, b: Pos): number {
  return a.seg !== b.seg ? a.seg - b.seg : a.off - b.off;
}
