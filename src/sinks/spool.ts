// The disk spool: append-only segments with group commit, per-consumer cursors, lazy recovery.
// A record is accepted only once its frame is written and fdatasync'ed (group commit every
// fsyncMs); a new segment is fsync'ed together with its directory. Start-up reads segment
// headers and scans only the last segment (the only one a crash can tear), so it costs the same
// for 1 MiB and 1 GiB. Segments go once every consumer has released them (release: confirmed for
// good, which an ack alone is not).
// Appends are encoded once into runs of frames (run-arena.ts) that are written with one writev
// per commit (spool-writer.ts); readers see only committed data, served from the last few MiB of
// runs kept in memory when they keep up (spool-hot.ts), else read lazily from the segments
// (spool-disk-reader.ts); a consumer's read is spool-read.ts. Start-up's scan and repair of the
// segments: spool-recovery.ts; each consumer's cursors: spool-cursor.ts; which segments are
// deleted: spool-retention.ts; creating and deleting segment files: spool-segment-files.ts.
import { mkdirSync } from 'node:fs';
import type { RecordId, SinkItem } from '../pipeline/types.js';
import { RunArena } from './run-arena.js';
import { recoverSegments, type Segment } from './spool-recovery.js';
import { HotCache, type ReadBatch } from './spool-hot.js';
import { cmpPos, segHeaderLen, segName, type Pos } from './spool-format.js';
import { SpoolCursor } from './spool-cursor.js';
import { SegmentReader } from './spool-disk-reader.js';
import { readBatch, type SpoolReadSide } from './spool-read.js';
import { collectSegments, evictOldestSegment, type SpoolRetentionSide } from './spool-retention.js';
import { removeTempFiles, SegmentDeleter } from './spool-segment-files.js';
import { loadCounters, lockSpool, saveCounters, unlockSpool, type SpoolCounters } from './spool-state.js';
import { SpoolWriter } from './spool-writer.js';

export type { SpoolCounters } from './spool-state.js';

export type { ReadBatch } from './spool-hot.js';

export { COMMIT_MAX_BYTES } from './spool-writer.js';

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

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly log: (line: string) => void;
  private segs: Segment[] = [];
  private readonly consumers = new Map<string, SpoolCursor>();
  private readonly arena = new RunArena(true);
  /** recently committed runs, served to readers without a disk read */
  private readonly hot = new HotCache(this.arena, HOT_MAX_BYTES);
  private readonly disk: SegmentReader;
  /** appends and their group commits (spool-writer.ts) */
  private readonly writer: SpoolWriter;
  /** segment deletions under way (close waits for them) */
  private readonly files: SegmentDeleter;
  /** what a consumer's read (spool-read.ts) and retention (spool-retention.ts) need of the spool */
  private readonly side: SpoolReadSide & SpoolRetentionSide;
  readonly counters: SpoolCounters;

  private constructor(cfg: SpoolConfig) {
    this.dir = cfg.dir;
    this.maxBytes = cfg.maxBytes;
    this.disk = new SegmentReader(cfg.dir);
    this.counters = loadCounters(cfg.dir);
    this.log = cfg.log ?? ((l) => process.stderr.write(`falconet: ${l}\n`));
    this.files = new SegmentDeleter(cfg.dir, this.log);
    this.writer = new SpoolWriter({
      dir: cfg.dir,
      segs: () => this.segs,
      segmentBytes: Math.max(64 << 10, Math.min(cfg.segmentBytes ?? 16 << 20, Math.floor(cfg.maxBytes / 4))),
      fsyncMs: cfg.fsyncMs ?? 0,
      arena: this.arena,
      hot: this.hot,
      log: this.log,
    });
    this.side = {
      dir: cfg.dir,
      segs: () => this.segs,
      end: () => this.end,
      cursors: () => this.consumers.values(),
      hot: this.hot,
      disk: this.disk,
      files: this.files,
      corrupt: (s, at, cut, why) => {
        this.counters.corruptSkippedBytes += cut;
        this.saveCounters();
        this.log(`spool ${this.dir}: ${why} frame in ${segName(s.seg)} at offset ${at}; skipped ${cut} bytes`);
      },
      evicted: (seg, lost) => {
        this.counters.evictedRecords += lost;
        this.saveCounters();
        this.log(`spool ${this.dir}: size cap ${this.maxBytes} reached; deleted ${segName(seg)} with ${lost} unsent records`);
      },
    };
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
    this.writer.setCommitListener(fn);
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
    await this.writer.open(r.lastId, r.nextSeg);
    removeTempFiles(this.dir);
  }

  private get cur(): Segment {
    return this.segs[this.segs.length - 1]!;
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
    let n = this.writer.unwrittenBytes;
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
    const lastId = this.writer.lastAcceptedId;
    const header = segHeaderLen(lastId ?? { host: '', boot: '' }); // with a prev even before the first record
    return this.maxBytes - this.bytes - header;
  }

  /** The id of the last record accepted (committed) or pending, if any was ever written. */
  get lastAcceptedId(): RecordId | undefined {
    return this.writer.lastAcceptedId;
  }

  /** Frames the items and resolves once they are committed (written and fdatasync'ed). */
  append(items: readonly SinkItem[], sizes?: ArrayLike<number>): Promise<void> {
    return this.writer.append(items, sizes);
  }

  /** Waits until everything appended so far is committed. */
  flush(): Promise<void> {
    return this.writer.flush();
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
    return readBatch(this.side, this.consumer(name), maxItems, maxBytes);
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
    collectSegments(this.side);
  }

  /**
   * The cap is reached and the policy is drop_oldest: deletes the oldest sealed segment and
   * returns how many records in it no consumer had acked yet (they are dropped, counted as
   * spool_full). Returns -1 if only the segment being written is left.
   */
  evictOldest(): number {
    return evictOldestSegment(this.side);
  }

  /** Commits what is pending, persists cursors and closes files. */
  async close(): Promise<void> {
    await this.flush();
    for (const c of this.consumers.values()) c.close();
    this.consumers.clear();
    this.disk.close();
    await this.writer.close();
    const deleting = this.files.idle();
    if (deleting) await deleting;
    unlockSpool(this.dir);
  }

  /** Every segment and its file's size (for tests and inspect). */
  segments(): readonly { seg: number; size: number }[] {
    return this.segs.map((s) => ({ seg: s.seg, size: s.size }));
  }
}
