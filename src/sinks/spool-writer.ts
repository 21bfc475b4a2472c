// The spool's write side (spool.ts): appends are encoded once into runs of frames (run-arena.ts)
// and written by group commit, with one writev per segment and one fdatasync per commit, so a
// record is accepted only once it is on disk. A commit that reaches the segment size rolls to a
// new segment, whose header names the last record before it. Committed runs go to the cache of
// recent runs (spool-hot.ts) for readers; after a write error every append fails.
import type { FileHandle } from 'node:fs/promises';
import type { RecordId, SinkItem } from '../pipeline/types.js';
import { decodeFrame, frameSize, type FrameRun } from './record-frame.js';
import type { RunArena } from './run-arena.js';
import { frameLen, lastFit } from './run-fit.js';
import { releaseHold, type HotCache, type HotPiece, type RunHold } from './spool-hot.js';
import type { Segment } from './spool-recovery.js';
import { createSegmentFile, openSegmentFile } from './spool-segment-files.js';

/**
 * A group commit writes at most this much (whole runs): one commit runs while the next fills.
 * Producers keep a window of several commits' worth of pushes outstanding (push-window.ts).
 */
export const COMMIT_MAX_BYTES = 1 << 20;

/** What the writer needs of the spool. */
export interface SpoolWriterOptions {
  readonly dir: string;
  /** the segments, oldest first: the last one is written to, a roll appends the next */
  readonly segs: () => Segment[];
  readonly segmentBytes: number;
  /** how long a commit waits to gather appends (SpoolConfig.fsyncMs) */
  readonly fsyncMs: number;
  /** where appends are encoded */
  readonly arena: RunArena;
  /** where committed runs go for readers */
  readonly hot: HotCache;
  readonly log: (line: string) => void;
}

export class SpoolWriter {
  private readonly dir: string;
  private readonly segs: () => Segment[];
  private readonly segmentBytes: number;
  private readonly fsyncMs: number;
  private readonly arena: RunArena;
  private readonly hot: HotCache;
  private readonly log: (line: string) => void;
  private writeFh: FileHandle | null = null;
  private lastId: RecordId | undefined;
  /** runs appended and not committed yet, each with the id of its last record */
  private pending: FrameRun[] = [];
  private pendingIds: RecordId[] = [];
  private pendingBytes = 0;
  /** runs ever appended / committed: an append's waiter resolves once its last run is committed */
  private appendedRuns = 0;
  private committedRuns = 0;
  /** bytes of the commit in progress not yet added to a segment's size */
  private writingBytes = 0;
  private waiters: { upTo: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private committing: Promise<void> | null = null;
  private onCommitted: (() => void) | null = null;
  private failed: Error | null = null;

  constructor(o: SpoolWriterOptions) {
    this.dir = o.dir;
    this.segs = o.segs;
    this.segmentBytes = o.segmentBytes;
    this.fsyncMs = o.fsyncMs;
    this.arena = o.arena;
    this.hot = o.hot;
    this.log = o.log;
  }

  /**
   * Starts writing after recovery: at the end of the last segment, or in a new segment `nextSeg`
   * when none is left. `lastId` is the last record on disk.
   */
  async open(lastId: RecordId | undefined, nextSeg: number): Promise<void> {
    this.lastId = lastId;
    if (this.segs().length === 0) await this.createSegment(nextSeg);
    else this.writeFh = await openSegmentFile(this.dir, this.cur.seg);
  }

  /** Called after every group commit (readers waiting for data wake up). */
  setCommitListener(fn: (() => void) | null): void {
    this.onCommitted = fn;
  }

  /** Bytes appended that are not in a segment's size yet (pending or being written). */
  get unwrittenBytes(): number {
    return this.pendingBytes + this.writingBytes;
  }

  /** The id of the last record accepted (committed) or pending, if any was ever written. */
  get lastAcceptedId(): RecordId | undefined {
    return this.lastId;
  }

  private get cur(): Segment {
    const segs = this.segs();
    return segs[segs.length - 1]!;
  }

  private async createSegment(seg: number): Promise<void> {
    const { fh, segment } = await createSegmentFile(this.dir, seg, this.lastId);
    this.writeFh = fh;
    this.segs().push(segment);
  }

  /** Frames the items and resolves once they are committed (written and fdatasync'ed). */
  append(items: readonly SinkItem[], sizes?: ArrayLike<number>): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (items.length === 0) return Promise.resolve();
    // a few runs per append; frames are never copied again before they reach the disk
    let sz = sizes;
    if (!sz) {
      const a = new Array<number>(items.length);
      for (let i = 0; i < items.length; i++) a[i] = frameSize(items[i]!);
      sz = a;
    }
    let n = 0;
    for (const r of this.arena.encode(items, sz)) {
      n += r.ends.length;
      this.pending.push(r);
      this.pendingIds.push(items[n - 1]!.id);
      this.pendingBytes += r.buf.length;
      this.appendedRuns++;
    }
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ upTo: this.appendedRuns, resolve, reject }));
    if (this.committing) return p; // the running commit starts the next one
    // a full commit's worth starts at once: a producer that never yields (its next pushes are
    // microtasks) must not fill its whole window before the first commit starts
    if (this.pendingBytes >= COMMIT_MAX_BYTES) this.startCommit();
    else if (!this.timer) {
      // a timer (0 ms by default) lets the appends of this turn of the event loop join the commit
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.committing && this.pending.length) this.startCommit();
      }, this.fsyncMs);
    }
    return p;
  }

  private startCommit(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.committing = this.commit().finally(() => {
      this.committing = null;
      if (!this.pending.length) return;
      // what was appended while this commit ran goes next, without waiting a turn (unless a
      // positive fsyncMs asks to gather more)
      if (this.fsyncMs === 0 || this.pendingBytes >= COMMIT_MAX_BYTES) this.startCommit();
      else if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          if (!this.committing && this.pending.length) this.startCommit();
        }, this.fsyncMs);
      }
    });
  }

  /** Waits until everything appended so far is committed. */
  async flush(): Promise<void> {
    while (this.pending.length || this.committing) {
      if (!this.committing) this.startCommit();
      await this.committing;
    }
  }

  /**
   * Writes up to COMMIT_MAX_BYTES of the pending runs (whole runs, at least one) with one writev
   * per segment, fdatasyncs, then resolves the appends whose runs are all committed. Bounded
   * commits keep a pipeline: while one commit runs, producers fill the next.
   */
  private async commit(): Promise<void> {
    let k = 0;
    let bytes = 0;
    while (k < this.pending.length && (k === 0 || bytes + this.pending[k]!.buf.length <= COMMIT_MAX_BYTES)) bytes += this.pending[k++]!.buf.length;
    const runs = this.pending.splice(0, k);
    const lastId = this.pendingIds.splice(0, k)[k - 1];
    this.writingBytes = bytes;
    this.pendingBytes -= bytes;
    const upTo = this.committedRuns + k;
    const holds: RunHold[] = runs.map((run) => ({ run, n: 1 }));
    try {
      const placed: HotPiece[] = [];
      let r = 0;
      let from = 0; // first frame of runs[r] not yet written
      while (r < runs.length) {
        // as many frames as fit in this segment, in one writev
        let seg = this.cur;
        if (seg.size > seg.headerLen && seg.size + frameLen(runs[r]!, from) > this.segmentBytes) {
          // the new segment's header names the last record before it: the last one written
          const last = placed[placed.length - 1];
          if (last) this.lastId = decodeFrame(last.run.buf, last.to > 1 ? last.run.ends[last.to - 2]! : 0).id;
          await this.roll();
          seg = this.cur;
        }
        const start = seg.size;
        let off = start;
        const iov: Buffer[] = [];
        while (r < runs.length) {
          const run = runs[r]!;
          const base = from ? run.ends[from - 1]! : 0;
          // frames from..to of this run that fit (at least one in an empty segment)
          let to = lastFit(run, from, base, this.segmentBytes - off);
          if (to === from) {
            if (off > seg.headerLen) break;
            to = from + 1;
          }
          const bytes = run.ends[to - 1]! - base;
          iov.push(base === 0 && to === run.ends.length ? run.buf : run.buf.subarray(base, base + bytes));
          holds[r]!.n++;
          placed.push({ hold: holds[r]!, seg: seg.seg, off, run, from, to, base, bytes });
          off += bytes;
          if (to < run.ends.length) {
            from = to;
            break;
          }
          r++;
          from = 0;
        }
        await this.writeFh!.writev(iov, start);
        seg.size = off;
        this.writingBytes -= off - start;
      }
      await this.writeFh!.datasync();
      this.cur.durable = this.cur.size;
      if (lastId) this.lastId = lastId;
      this.committedRuns = upTo;
      for (const h of placed) this.hot.add(h);
      for (const h of holds) releaseHold(this.arena, h);
      let w = 0;
      while (w < this.waiters.length && this.waiters[w]!.upTo <= upTo) this.waiters[w++]!.resolve();
      this.waiters.splice(0, w);
      this.onCommitted?.();
    } catch (e) {
      // nothing more is written: every append not committed yet fails, and later ones too
      this.writingBytes = 0;
      this.pending = [];
      this.pendingIds = [];
      this.pendingBytes = 0;
      this.failed = e instanceof Error ? e : new Error(String(e));
      this.log(`spool ${this.dir}: write failed: ${this.failed.message}`);
      const ws = this.waiters;
      this.waiters = [];
      for (const x of ws) x.reject(this.failed);
    }
  }

  private async roll(): Promise<void> {
    await this.writeFh!.datasync();
    this.cur.durable = this.cur.size;
    await this.writeFh!.close();
    this.writeFh = null;
    await this.createSegment(this.cur.seg + 1);
  }

  /** Closes the segment being written (after flush). */
  async close(): Promise<void> {
    await this.writeFh?.close();
    this.writeFh = null;
  }
}
