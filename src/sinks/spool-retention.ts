// Which segments the spool keeps (spool.ts). A sealed segment goes once every consumer has
// released it (its held cursor passed it); at the size cap under drop_oldest the oldest one goes
// anyway, and the records in it no consumer had acked are counted as lost. The segment being
// written is never deleted. The cursors of a deleted segment move to the start of the next one.
import { join } from 'node:path';
import { scanSegment } from './segment-scan.js';
import type { SpoolCursor } from './spool-cursor.js';
import type { SegmentReader } from './spool-disk-reader.js';
import { cmpPos, segName, type Pos } from './spool-format.js';
import type { HotCache } from './spool-hot.js';
import type { Segment } from './spool-recovery.js';
import type { SegmentDeleter } from './spool-segment-files.js';

/** What retention needs of the spool. */
export interface SpoolRetentionSide {
  readonly dir: string;
  /** the segments, oldest first: retention removes the first ones */
  segs(): Segment[];
  /** every consumer's cursors */
  cursors(): Iterable<SpoolCursor>;
  /** the committed end */
  end(): Pos;
  /** what is held in memory of a segment is forgotten when it goes */
  readonly hot: HotCache;
  readonly disk: SegmentReader;
  readonly files: SegmentDeleter;
  /** segment `seg` is being evicted with `lost` records no consumer had acked */
  evicted(seg: number, lost: number): void;
}

/** Deletes sealed segments that every consumer has released. */
export function collectSegments(side: SpoolRetentionSide): void {
  const m = minHeld(side);
  const segs = side.segs();
  while (segs.length > 1) {
    const s = segs[0]!;
    if (!(s.seg < m.seg || (s.seg === m.seg && m.off >= s.size))) break;
    dropSegment(side);
  }
}

/**
 * Deletes the oldest sealed segment and returns how many records in it no consumer had acked yet
 * (they are dropped). Returns -1 if only the segment being written is left.
 */
export function evictOldestSegment(side: SpoolRetentionSide): number {
  const segs = side.segs();
  if (segs.length < 2) return -1;
  const s = segs[0]!;
  const m = minHeld(side);
  const from = m.seg === s.seg ? m.off : m.seg > s.seg ? s.size : s.headerLen;
  const lost = from < s.size ? scanSegment(join(side.dir, segName(s.seg)), from, { to: s.size }).records : 0;
  side.evicted(s.seg, lost);
  dropSegment(side);
  for (const c of side.cursors()) c.write();
  return lost;
}

/** The oldest position some consumer still holds (the committed end when there is none). */
function minHeld(side: SpoolRetentionSide): Pos {
  let m: Pos | null = null;
  for (const c of side.cursors()) if (!m || cmpPos(c.held, m) < 0) m = c.held;
  return m ?? side.end();
}

function dropSegment(side: SpoolRetentionSide): void {
  const segs = side.segs();
  const s = segs.shift()!;
  side.disk.forget(s.seg);
  side.files.delete(s.seg);
  side.hot.dropThrough(s.seg);
  const next = segs[0]!;
  for (const c of side.cursors()) c.moveOffSegment(s.seg, { seg: next.seg, off: next.headerLen });
}
