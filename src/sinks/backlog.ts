// What a Delivery keeps between accepting records and the sink confirming them. Two kinds: in
// memory (bounded in bytes) and on disk (the spool). Both hand out records in order, remember
// what was sent but not yet confirmed, and can rewind to the last confirmed record after a
// failed send so that nothing sent-but-unconfirmed is lost.
import type { SinkItem } from '../pipeline/types.js';
import { frameSize, type FrameRun } from './record-frame.js';
import { encodeLinesInto } from './line-data.js';
import { RunArena } from './run-arena.js';
import type { Spool } from './spool.js';
import type { Pos } from './spool-format.js';

/**
 * What one queued record costs: the bytes of its encoded frame (data, record id, 22 bytes of
 * framing). The memory queue keeps records encoded, not as objects, so this is what it holds.
 */
export function itemBytes(item: SinkItem): number {
  return frameSize(item);
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

/** A column of a run: one value when every record of the run has it (the usual case), else one per record. */
type Column<T> = { readonly one: T; readonly each: null } | { readonly one: null; readonly each: T[] };

function column<T>(items: readonly SinkItem[], from: number, to: number, get: (i: SinkItem) => T): Column<T> {
  const v = get(items[from]!);
  for (let k = from + 1; k < to; k++) {
    if (get(items[k]!) === v) continue;
    const each: T[] = [];
    for (let j = from; j < to; j++) each.push(get(items[j]!));
    return { one: null, each };
  }
  return { one: v, each: null };
}

const at = <T>(c: Column<T>, k: number): T => (c.each === null ? c.one : c.each[k]!);
const MAX_EXACT = 9007199254740991n;
const NO_COLUMN: Column<never> = { one: null, each: [] };

interface QueuedRun {
  /** null once every record of the run was dropped (its memory goes at once) */
  run: FrameRun | null;
  /** ordinal of the run's first record */
  readonly first: number;
  readonly n: number;
  /** what each record counts against the bound, its frame size (itemBytes): `extra` + its data's
   * length when that is the same for all (one host, boot and key), else `costs[k]` */
  extra: number;
  costs: number[] | null;
  /** sequence numbers: `seq0 + k` when consecutive (the usual case), else `seqs[k]`. Few
   * objects per run: per-record columns that live as long as the queue holds the run are
   * promoted by the GC and grew the heap by a third under drop_oldest */
  seq0: bigint;
  seqs: bigint[] | null;
  kind: Column<SinkItem['kind']>;
  host: Column<string>;
  boot: Column<string>;
  key: Column<string | undefined>;
  /** records dropped by drop_oldest after later ones were queued (allocated on first use) */
  dead: Uint8Array | null;
  deadCount: number;
}

export interface MemoryBacklogOptions {
  /**
   * The sink keeps no reference to an item's data once its send has resolved (Sink.releasesData):
   * memory of confirmed records is reused instead of being left to the GC.
   */
  reuse?: boolean;
}

/**
 * Records in memory, kept as bytes: each record's data followed by a newline, packed into slabs
 * (a run of them is what a line sink writes, as it lies), with the ids in typed columns beside
 * them. The queue holds the bytes it accounts for and none of the producer's objects; a record
 * counts its frame size (data, id, framing: itemBytes), as in the spool. Ordinals number the
 * records; [head, next) are taken and not confirmed, [next, end) not taken yet.
 */
export class MemoryBacklog implements Backlog {
  private runs: QueuedRun[] = [];
  private runHead = 0;
  private head = 0;
  private next = 0;
  private end = 0;
  /** taken-and-failed records before this ordinal are re-sends */
  private resendUntil = 0;
  private live = 0;
  private readonly arena = new RunArena(encodeLinesInto);
  private readonly reuse: boolean;
  bytes = 0;

  constructor(opts: MemoryBacklogOptions = {}) {
    this.reuse = opts.reuse === true;
  }

  get depth(): number {
    return this.live;
  }

  get unsent(): number {
    return this.end - this.next;
  }

  /** Queues items; `sizes[i]` is frameSize(items[i]) (what it counts against the bound). */
  pushItems(items: readonly SinkItem[], sizes: ArrayLike<number>): void {
    if (!items.length) return;
    const lines: number[] = [];
    for (let i = 0; i < items.length; i++) lines.push(items[i]!.data.length + 1);
    let i = 0;
    for (const run of this.arena.encode(items, lines)) {
      const n = run.ends.length;
      const extra = sizes[i]! - items[i]!.data.length;
      const seq0 = items[i]!.id.seq;
      let bytes = 0;
      let sameExtra = true;
      let consecutive = seq0 >= 0n && seq0 + BigInt(n) <= MAX_EXACT;
      const s0 = Number(seq0);
      for (let k = 0; k < n; k++) {
        const it = items[i + k]!;
        const c = sizes[i + k]!;
        bytes += c;
        if (c - it.data.length !== extra) sameExtra = false;
        // compared as numbers (exact in this range): no BigInt arithmetic per record
        if (consecutive && (typeof it.id.seq !== 'bigint' || Number(it.id.seq) !== s0 + k || it.id.seq > MAX_EXACT)) consecutive = false;
      }
      let costs: number[] | null = null;
      if (!sameExtra) {
        costs = [];
        for (let k = 0; k < n; k++) costs.push(sizes[i + k]!);
      }
      let seqs: bigint[] | null = null;
      if (!consecutive) {
        seqs = [];
        for (let k = 0; k < n; k++) seqs.push(items[i + k]!.id.seq);
      }
      this.runs.push({
        run, first: this.end, n, extra, costs, seq0, seqs,
        kind: column(items, i, i + n, (x) => x.kind), host: column(items, i, i + n, (x) => x.id.host),
        boot: column(items, i, i + n, (x) => x.id.boot), key: column(items, i, i + n, (x) => x.key),
        dead: null, deadCount: 0,
      });
      this.end += n;
      this.bytes += bytes;
      i += n;
    }
    this.live += items.length;
  }

  private runAt(ord: number): number {
    let lo = this.runHead;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.runs[mid]!.first <= ord) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  private frameBytes(r: QueuedRun, k: number): number {
    if (r.costs !== null) return r.costs[k]!;
    const e = r.run!.ends;
    return r.extra + e[k]! - (k ? e[k - 1]! : 0) - 1;
  }

  /** Drops the oldest record that has not been handed to the sink yet; false if there is none. */
  dropOldestUnsent(): boolean {
    while (this.next < this.end) {
      const r = this.runs[this.runAt(this.next)]!;
      const k = this.next - r.first;
      this.next++;
      if (r.dead?.[k]) continue;
      (r.dead ??= new Uint8Array(r.n))[k] = 1;
      this.bytes -= this.frameBytes(r, k);
      this.live--;
      // a run whose records were all dropped is released now, not when the head passes it
      // (a stalled send at the head would otherwise keep every dropped run)
      if (++r.deadCount === r.n) {
        this.arena.release(r.run!);
        r.run = null;
        // so are its columns (nothing reads a dead record's)
        r.costs = null;
        r.seqs = null;
        r.kind = r.host = r.boot = r.key = NO_COLUMN;
      }
      return true;
    }
    return false;
  }

  /** Removes every record not confirmed yet (shutdown without a spool); returns how many. */
  clear(): number {
    const n = this.live;
    this.live = 0;
    this.runs = [];
    this.runHead = 0;
    this.head = this.next = this.resendUntil = this.end;
    this.bytes = 0;
    return n;
  }

  take(maxItems: number, maxBytes: number): Taken | null {
    if (this.next >= this.end) return null;
    const from = this.next;
    const items: SinkItem[] = [];
    let bytes = 0;
    let resent = 0;
    let ri = this.runAt(this.next);
    while (this.next < this.end && items.length < maxItems && (items.length === 0 || bytes < maxBytes)) {
      let r = this.runs[ri]!;
      if (this.next >= r.first + r.n) r = this.runs[++ri]!;
      const k = this.next - r.first;
      this.next++;
      if (r.dead?.[k]) continue;
      if (this.next <= this.resendUntil) resent++;
      const run = r.run!;
      // the items are views into the slab: unless the sink lets go of them once sent, the slab
      // is never reused (the GC frees it)
      if (!this.reuse) this.arena.lend(run);
      const a = k ? run.ends[k - 1]! : 0;
      const b = run.ends[k]!;
      const id = { host: at(r.host, k), boot: at(r.boot, k), seq: r.seqs === null ? BigInt(Number(r.seq0) + k) : r.seqs[k]! };
      const key = at(r.key, k);
      const data = run.buf.subarray(a, b - 1);
      items.push(key === undefined ? { id, kind: at(r.kind, k), data } : { id, kind: at(r.kind, k), data, key });
      bytes += r.costs === null ? r.extra + b - a - 1 : r.costs[k]!;
    }
    if (items.length === 0) {
      this.confirm(this.next);
      return null;
    }
    return { items, mark: this.next, from, resent };
  }

  taken(): void {
    /* memory does not survive a restart */
  }

  confirm(mark: number | Pos): void {
    const upTo = Math.min(mark as number, this.end);
    while (this.head < upTo) {
      const r = this.runs[this.runHead]!;
      const n = r.n;
      const stop = Math.min(upTo, r.first + n);
      for (let k = this.head - r.first; k < stop - r.first; k++) {
        if (r.dead?.[k]) continue;
        this.bytes -= this.frameBytes(r, k);
        this.live--;
      }
      this.head = stop;
      if (stop === r.first + n) {
        if (r.run) this.arena.release(r.run);
        this.runs[this.runHead++] = undefined as unknown as QueuedRun; // release the run
      }
    }
    if (this.runHead > 1024 && this.runHead * 2 > this.runs.length) {
      this.runs = this.runs.slice(this.runHead);
      this.runHead = 0;
    }
  }

  rewind(unsent: Taken | null): void {
    const upTo = unsent ? (unsent.from as number) : this.next;
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
    const got = this.spool.readBatch(this.consumer, maxItems, maxBytes);
    if (!got) {
      // nothing more to send for now: the last ack goes to disk (while busy it rides along
      // with the next markSent)
      this.spool.persistCursor(this.consumer);
      return null;
    }
    // records ending at or before these positions may have gone out before
    const seg = got.seg;
    const lim = (p: Pos | null): number => (!p || p.seg < seg ? -1 : p.seg > seg ? Infinity : p.off);
    const upTo = Math.max(lim(this.spool.resendUpTo(this.consumer)), lim(this.resendUntil));
    let resent = 0;
    while (resent < got.ends.length && got.ends[resent]! <= upTo) resent++;
    const mark = { seg, off: got.ends[got.ends.length - 1]! };
    this.sentBefore = this.spool.sentPos(this.consumer);
    this.spool.markSent(this.consumer, mark);
    this.inFlight += got.items.length;
    return { items: got.items, mark, from, resent };
  }

  taken(mark: number | Pos): void {
    this.spool.ackSoon(this.consumer, mark as Pos);
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
