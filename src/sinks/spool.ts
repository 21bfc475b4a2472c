// The disk spool: append-only segments with group commit, per-consumer cursors, lazy recovery.
// A record is accepted only once its frame is written and fdatasync'ed (group commit every
// fsyncMs); a new segment is fsync'ed together with its directory. Start-up reads segment
// headers and scans only the last segment (the only one a crash can tear), so it costs the same
// for 1 MiB and 1 GiB. Segments go once every consumer's acked cursor has passed them.
// Appends are encoded once into runs of frames (run-arena.ts) that are written with one writev
// per commit; readers see only committed data, served from the last few MiB of runs kept in
// memory when they keep up (spool-hot.ts), else read lazily from the segments
// (spool-disk-reader.ts); a consumer's read is spool-read.ts. Start-up's scan and repair of the
// segments: spool-recovery.ts; each consumer's cursors: spool-cursor.ts.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, unlink, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordId, SinkItem } from '../pipeline/types.js';
import { decodeFrame, frameSize, type FrameRun } from './record-frame.js';
import { RunArena } from './run-arena.js';
import { recoverSegments, type Segment } from './spool-recovery.js';
import { HotCache, releaseHold, type HotPiece, type ReadBatch, type RunHold } from './spool-hot.js';
import { scanSegment } from './segment-scan.js';
import { cmpPos, encodeSegHeader, segName, type Pos } from './spool-format.js';
import { SpoolCursor } from './spool-cursor.js';
import { SegmentReader } from './spool-disk-reader.js';
import { readBatch, type SpoolReadSide } from './spool-read.js';
import { loadCounters, lockSpool, saveCounters, unlockSpool, type SpoolCounters } from './spool-state.js';

export type { SpoolCounters } from './spool-state.js';

export type { ReadBatch } from './spool-hot.js';

export interface SpoolConfig {
  dir: string;
  /** size cap for all segments together, bytes */
  maxBytes: number;
  segmentBytes?: number;
  /**
   * How long a group commit waits to gather records before it starts. Default 0: a commit
   * starts as soon as the disk is free, and what was appended while one ran goes into the next
   * (up to COMMIT_MAX_BYTES), so a record waits about one commit (a few ms) and no fsync is
   * wasted on one record while another is running. A positive value trades latency for fewer
   * fsyncs.
   */
  fsyncMs?: number;
  /** consumers whose cursors hold segments back (one per sink) */
  consumers: readonly string[];
  log?: (line: string) => void;
}

/** An item read back from the spool with the position just after it. */
export interface SpooledItem {
  readonly item: SinkItem;
  readonly end: Pos;
  readonly bytes: number;
}

const HOT_MAX_BYTES = 16 << 20;
/**
 * A group commit writes at most this much (whole runs): one commit runs while the next fills.
 * Producers keep a window of several commits' worth of pushes outstanding (push-window.ts).
 */
export const COMMIT_MAX_BYTES = 1 << 20;

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly fsyncMs: number;
  private readonly log: (line: string) => void;
  private segs: Segment[] = [];
  private writeFh: FileHandle | null = null;
  private lastId: RecordId | undefined;
  private readonly consumers = new Map<string, SpoolCursor>();
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
  private readonly arena = new RunArena(true);
  /** recently committed runs, served to readers without a disk read */
  private readonly hot = new HotCache(this.arena, HOT_MAX_BYTES);
  private readonly disk: SegmentReader;
  /** what a consumer's read needs of the spool (spool-read.ts) */
  private readonly readSide: SpoolReadSide;
  private onCommitted: (() => void) | null = null;
  private failed: Error | null = null;
  /** segment deletions under way, and who waits for them (close) */
  private unlinking = 0;
  private unlinked: (() => void)[] = [];
  readonly counters: SpoolCounters;

  private constructor(cfg: SpoolConfig) {
    this.dir = cfg.dir;
    this.maxBytes = cfg.maxBytes;
    this.segmentBytes = Math.max(64 << 10, Math.min(cfg.segmentBytes ?? 16 << 20, Math.floor(cfg.maxBytes / 4)));
    this.fsyncMs = cfg.fsyncMs ?? 0;
    this.disk = new SegmentReader(cfg.dir);
    this.readSide = {
      segs: () => this.segs,
      end: () => this.end,
      hot: this.hot,
      disk: this.disk,
      corrupt: (s, at, cut, why) => {
        this.counters.corruptSkippedBytes += cut;
        this.saveCounters();
        this.log(`spool ${this.dir}: ${why} frame in ${segName(s.seg)} at offset ${at}; skipped ${cut} bytes`);
      },
    };
    this.counters = loadCounters(cfg.dir);
    this.log = cfg.log ?? ((l) => process.stderr.write(`falconet: ${l}\n`));
  }

  /** Opens (creating or recovering) a spool directory. */
  static async open(cfg: SpoolConfig): Promise<Spool> {
    if (!(cfg.maxBytes > 0)) throw new RangeError(`spool ${cfg.dir}: size cap must be positive`);
    mkdirSync(cfg.dir, { recursive: true });
    lockSpool(cfg.dir);
    const s = new Spool(cfg);
    await s.recover();
    for (const c of cfg.consumers) s.openConsumer(c);
    return s;
  }

  /** Called after every group commit (readers waiting for data wake up). */
  setCommitListener(fn: (() => void) | null): void {
    this.onCommitted = fn;
  }

  // ---------------------------------------------------------------- recovery

  private saveCounters(): void {
    saveCounters(this.dir, this.counters);
  }

  private async recover(): Promise<void> {
    const r = recoverSegments(this.dir, (bytes, line) => {
      this.counters.truncatedBytes += bytes;
      this.saveCounters();
      this.log(line);
    });
    this.segs = r.segs;
    this.lastId = r.lastId;
    if (this.segs.length === 0) await this.createSegment(r.nextSeg);
    else this.writeFh = await open(join(this.dir, segName(this.cur.seg)), 'r+');
    this.removeTempFiles();
  }

  private removeTempFiles(): void {
    for (const f of readdirSync(this.dir)) if (f.endsWith('.tmp')) unlinkSync(join(this.dir, f));
  }

  private get cur(): Segment {
    return this.segs[this.segs.length - 1]!;
  }

  private async createSegment(seg: number): Promise<void> {
    const path = join(this.dir, segName(seg));
    const header = encodeSegHeader(seg, this.lastId);
    const fh = await open(path, 'w+');
    await fh.write(header, 0, header.length, 0);
    await fh.sync();
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    this.writeFh = fh;
    this.segs.push({ seg, headerLen: header.length, size: header.length, durable: header.length });
  }

  private openConsumer(name: string): void {
    const first: Pos = { seg: this.segs[0]!.seg, off: this.segs[0]!.headerLen };
    this.consumers.set(name, SpoolCursor.open(this.dir, name, first, (p) => this.clamp(p), this.log));
  }

  /** Moves a saved position onto data that still exists (segments may be gone or truncated). */
  private clamp(p: Pos): Pos {
    for (const s of this.segs) {
      if (s.seg < p.seg) continue;
      if (s.seg > p.seg) return { seg: s.seg, off: s.headerLen };
      return { seg: s.seg, off: Math.max(s.headerLen, Math.min(p.off, s.size)) };
    }
    return { seg: this.cur.seg, off: this.cur.size };
  }

  // ---------------------------------------------------------------- writing

  /** Bytes on disk plus bytes waiting for the next commit. */
  get bytes(): number {
    let n = this.pendingBytes + this.writingBytes;
    for (const s of this.segs) n += s.size;
    return n;
  }

  get capBytes(): number {
    return this.maxBytes;
  }

  /** Would `more` bytes fit under the cap? */
  fits(more: number): boolean {
    return more <= this.room();
  }

  /** Bytes that may still be appended under the cap. */
  room(): number {
    // room for the header of a segment the commit may have to start
    const header = 35 + Buffer.byteLength(this.lastId?.host ?? '') + Buffer.byteLength(this.lastId?.boot ?? '');
    return this.maxBytes - this.bytes - header;
  }

  /** The id of the last record accepted (committed) or pending, if any was ever written. */
  get lastAcceptedId(): RecordId | undefined {
    return this.lastId;
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

  // ---------------------------------------------------------------- reading

  private consumer(name: string): SpoolCursor {
    const c = this.consumers.get(name);
    if (!c) throw new Error(`spool ${this.dir}: unknown consumer ${name}`);
    return c;
  }

  /** The committed end of the spool. */
  get end(): Pos {
    return { seg: this.cur.seg, off: this.cur.durable };
  }

  /** Is there committed data the consumer has not read yet? */
  hasUnread(name: string): boolean {
    return cmpPos(this.consumer(name).read, this.end) < 0;
  }

  /** Records read but not yet acked, plus unread ones, in bytes (frames). */
  unackedBytes(name: string): number {
    const c = this.consumer(name);
    let n = 0;
    for (const s of this.segs) {
      if (s.seg < c.held.seg) continue;
      n += s.size - (s.seg === c.held.seg ? c.held.off : s.headerLen);
    }
    return n;
  }

  /** Position that starts the consumer's next read. */
  readPos(name: string): Pos {
    return this.consumer(name).read;
  }

  /** Records ending at or before this position may have been sent before the last restart. */
  resendUpTo(name: string): Pos {
    return this.consumer(name).resendUpTo;
  }

  /** True if the record ending at `end` may have been sent before the last restart. */
  maybeSentBefore(name: string, end: Pos): boolean {
    return cmpPos(end, this.consumer(name).resendUpTo) <= 0;
  }

  /** Reads up to maxItems/maxBytes committed records from the consumer's read position. */
  read(name: string, maxItems: number, maxBytes: number): SpooledItem[] {
    const out: SpooledItem[] = [];
    while (out.length < maxItems) {
      const b = this.readBatch(name, maxItems - out.length, maxBytes);
      if (!b) break;
      let prev = b.ends[b.ends.length - 1]! - b.bytes;
      b.items.forEach((item, i) => {
        const end = b.ends[i]!;
        out.push({ item, end: { seg: b.seg, off: end }, bytes: end - prev });
        prev = end;
      });
      maxBytes -= b.bytes;
      if (maxBytes <= 0) break;
    }
    return out;
  }

  /**
   * Reads up to maxItems/maxBytes committed records from the consumer's read position, all from
   * one segment (a batch stops at a segment's end). Null when there is nothing to read.
   */
  readBatch(name: string, maxItems: number, maxBytes: number): ReadBatch | null {
    return readBatch(this.readSide, this.consumer(name), maxItems, maxBytes);
  }

  /** Moves the read position back to the last confirmed record (after a failed send). */
  rewind(name: string): void {
    this.consumer(name).rewind();
  }

  /** Records the position up to which records have been handed to the sink (before sending). */
  markSent(name: string, upTo: Pos): void {
    this.consumer(name).markSent(upTo);
  }

  /** The sent cursor (persisted high-water mark of records handed to the sink). */
  sentPos(name: string): Pos {
    return this.consumer(name).sent;
  }

  /** Moves the sent cursor back (the last send put nothing on the wire); never before acked. */
  resetSent(name: string, to: Pos): void {
    this.consumer(name).resetSent(to);
  }

  /** The sink took everything before `upTo` (persisted: a restart resumes there). */
  ack(name: string, upTo: Pos): void {
    this.consumer(name).ack(upTo, true);
  }

  /**
   * Like ack, but the cursor is written with the next cursor write (the next markSent, or
   * persistCursor when the sender finds nothing more to send, or close) instead of now: one
   * synchronous write per batch instead of two. A crash before that resumes at the previous ack;
   * the range in between lies before the persisted sent cursor, so it is re-sent and reported as
   * possible duplicates, as any batch handed to the sink but not acked is.
   */
  ackSoon(name: string, upTo: Pos): void {
    this.consumer(name).ack(upTo, false);
  }

  /** Writes the consumer's cursor if an ackSoon is not on disk yet. */
  persistCursor(name: string): void {
    this.consumer(name).persist();
  }

  /** Everything before `upTo` is confirmed for good; segments nobody needs any more are deleted. */
  release(name: string, upTo: Pos): void {
    const c = this.consumer(name);
    c.ack(upTo, true);
    if (cmpPos(upTo, c.held) <= 0) return;
    c.held = upTo;
    this.collect();
  }

  private minHeld(): Pos {
    let m: Pos | null = null;
    for (const c of this.consumers.values()) if (!m || cmpPos(c.held, m) < 0) m = c.held;
    return m ?? this.end;
  }

  /** Deletes sealed segments that every consumer has acked. */
  private collect(): void {
    const m = this.minHeld();
    while (this.segs.length > 1) {
      const s = this.segs[0]!;
      if (!(s.seg < m.seg || (s.seg === m.seg && m.off >= s.size))) break;
      this.dropSegment();
    }
  }

  private dropSegment(): void {
    const s = this.segs.shift()!;
    this.disk.forget(s.seg);
    // unlinking a full segment takes tens of ms on ext4: off the event loop. Should the process
    // die first, recovery finds a segment before every cursor, and the next release deletes it
    const path = join(this.dir, segName(s.seg));
    this.unlinking++;
    unlink(path, (e) => {
      this.unlinking--;
      if (e && e.code !== 'ENOENT') this.log(`spool ${this.dir}: cannot delete ${segName(s.seg)}: ${e.message}`);
      if (this.unlinking === 0) for (const r of this.unlinked.splice(0)) r();
    });
    this.hot.dropThrough(s.seg);
    const next = this.segs[0]!;
    for (const c of this.consumers.values()) c.moveOffSegment(s.seg, { seg: next.seg, off: next.headerLen });
  }

  /**
   * The cap is reached and the policy is drop_oldest: deletes the oldest sealed segment and
   * returns how many records in it no consumer had acked yet (they are dropped, counted as
   * spool_full). Returns -1 if only the segment being written is left.
   */
  evictOldest(): number {
    if (this.segs.length < 2) return -1;
    const s = this.segs[0]!;
    const m = this.minHeld();
    const from = m.seg === s.seg ? m.off : m.seg > s.seg ? s.size : s.headerLen;
    const lost = from < s.size ? scanSegment(join(this.dir, segName(s.seg)), from, { to: s.size }).records : 0;
    this.counters.evictedRecords += lost;
    this.saveCounters();
    this.log(`spool ${this.dir}: size cap ${this.maxBytes} reached; deleted ${segName(s.seg)} with ${lost} unsent records`);
    this.dropSegment();
    for (const c of this.consumers.values()) c.write();
    return lost;
  }

  /** Commits what is pending, persists cursors and closes files. */
  async close(): Promise<void> {
    await this.flush();
    for (const c of this.consumers.values()) c.close();
    this.consumers.clear();
    this.disk.close();
    await this.writeFh?.close();
    this.writeFh = null;
    if (this.unlinking > 0) await new Promise<void>((r) => this.unlinked.push(r));
    unlockSpool(this.dir);
  }

  /** Size of the segment file that holds `seg` (for tests and inspect). */
  segments(): readonly { seg: number; size: number }[] {
    return this.segs.map((s) => ({ seg: s.seg, size: s.size }));
  }
}

/** Length of frame `i` of a run. */
function frameLen(run: FrameRun, i: number): number {
  return run.ends[i]! - (i ? run.ends[i - 1]! : 0);
}

/** The end index of the frames from `from` that fit in `room` bytes (base = start of frame `from`). */
function lastFit(run: FrameRun, from: number, base: number, room: number): number {
  const e = run.ends;
  if (e[e.length - 1]! - base <= room) return e.length;
  let a = from;
  let b = e.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (e[m]! - base <= room) a = m + 1;
    else b = m;
  }
  return a;
}
