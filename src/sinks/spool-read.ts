// A consumer's read of committed records (spool.ts): from the records still held in memory
// (spool-hot.ts) when the consumer keeps up, else from the segments on disk
// (spool-disk-reader.ts), one segment per batch; a frame that fails its check skips the rest of
// its segment, counted and logged by the spool.
import type { Segment } from './spool-recovery.js';
import type { HotCache, ReadBatch } from './spool-hot.js';
import type { SegmentReader } from './spool-disk-reader.js';
import type { SpoolCursor } from './spool-cursor.js';
import { cmpPos, type Pos } from './spool-format.js';

/** What a read needs of the spool. */
export interface SpoolReadSide {
  /** the segments, oldest first */
  segs(): readonly Segment[];
  /** the committed end */
  end(): Pos;
  readonly hot: HotCache;
  readonly disk: SegmentReader;
  /** a frame of s at `at` failed its check (`why`): the `cut` bytes from there are skipped */
  corrupt(s: Segment, at: number, cut: number, why: string): void;
}

/**
 * Reads up to maxItems/maxBytes committed records from c's read position, all from one segment
 * (a batch stops at a segment's end), moving the position on. Null when there is nothing to read.
 */
export function readBatch(side: SpoolReadSide, c: SpoolCursor, maxItems: number, maxBytes: number): ReadBatch | null {
  const b: ReadBatch = { items: [], seg: 0, ends: [], bytes: 0 };
  for (;;) {
    if (cmpPos(c.read, side.end()) >= 0) return null;
    const start = c.read.off;
    const startSeg = c.read.seg;
    if (readHot(side, c, b, maxItems, maxBytes) || readDisk(side, c, b, maxItems, maxBytes) > 0) {
      (b as { seg: number }).seg = c.read.seg;
      (b as { bytes: number }).bytes = c.read.off - start;
      // more of the same segment from memory, if the disk read stopped where the cache starts
      if (b.items.length < maxItems && b.bytes < maxBytes && readHot(side, c, b, maxItems - b.items.length, maxBytes - b.bytes)) {
        (b as { bytes: number }).bytes = c.read.off - start;
      }
      return b;
    }
    if (cmpPos(c.read, side.end()) >= 0) return null;
    // moved past a segment's end (or skipped a corrupt one): try again from there
    if (c.read.seg === startSeg && c.read.off === start && readStalled(side.segs(), c)) return null;
  }
}

/** Reads from the cache at the consumer's position, moving it on; false when the cache lacks it. */
function readHot(side: SpoolReadSide, c: SpoolCursor, out: ReadBatch, maxItems: number, maxBytes: number): boolean {
  const to = side.hot.read(c.read, out, maxItems, maxBytes);
  if (!to) return false;
  c.read = to;
  return true;
}

/** A read that made no progress and cannot move on (should not happen): stop, do not spin. */
function readStalled(segs: readonly Segment[], c: SpoolCursor): boolean {
  const s = segs[segIndex(segs, c.read.seg)];
  return !!s && s.seg === c.read.seg && c.read.off < s.durable;
}

/** Index of segment `seg`, or of the first one after it. */
function segIndex(segs: readonly Segment[], seg: number): number {
  let lo = 0;
  let hi = segs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (segs[mid]!.seg < seg) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The start of the segment after segs[idx], if there is one. */
function nextStart(segs: readonly Segment[], idx: number): Pos | null {
  const n = segs[idx + 1];
  return n ? { seg: n.seg, off: n.headerLen } : null;
}

/** Reads frames from disk. Returns bytes read, or -1 after moving to the next segment. */
function readDisk(side: SpoolReadSide, c: SpoolCursor, out: ReadBatch, maxItems: number, maxBytes: number): number {
  const segs = side.segs();
  const idx = segIndex(segs, c.read.seg);
  const s = segs[idx];
  if (!s) return 0;
  if (s.seg !== c.read.seg || c.read.off >= s.durable) {
    if (s.seg !== c.read.seg) c.read = { seg: s.seg, off: s.headerLen };
    else {
      const next = nextStart(segs, idx);
      if (!next) return 0;
      c.read = next;
    }
    return -1;
  }
  const r = side.disk.readFrames(s, c.read.off, out, maxItems, maxBytes);
  if (r.bad) {
    // disk corruption inside a committed segment: the rest of it is skipped (the next read moves
    // on to the next segment; in the write segment, nothing after the bad frame can be read)
    side.corrupt(s, c.read.off, s.durable - c.read.off, r.bad);
    c.read = { seg: s.seg, off: s.durable };
    return -1;
  }
  c.read = { seg: s.seg, off: r.end };
  return r.bytes;
}
