// Start-up of a spool directory: which segments hold committed records. Segment headers are read
// first: a segment whose header is torn (a crash while creating it, usually the newest file) is
// removed before the last segment is chosen. The last *valid* segment holds the newest records
// (a commit cut by a crash while it rolled to a new segment included), so it alone is scanned:
// it gives the last accepted id, and its torn or corrupt tail is cut before anything is appended
// after it. Start-up therefore costs the same for 1 MiB and 1 GiB of spool.
import { closeSync, fsyncSync, ftruncateSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordId } from '../pipeline/types.js';
import { scanSegment } from './segment-scan.js';
import { parseSegName, readSegHeader, segName, type SegHeader } from './spool-format.js';

export interface Segment {
  readonly seg: number;
  headerLen: number;
  /** bytes written */
  size: number;
  /** bytes written and fdatasync'ed: what readers may see (a record is sent only once committed) */
  durable: number;
}

export interface Recovered {
  /** the valid segments, oldest first */
  segs: Segment[];
  /** the id of the last record on disk (of the last segment, else the newest header's) */
  lastId: RecordId | undefined;
  /** the number a new segment takes when none is left */
  nextSeg: number;
}

/**
 * Reads the segments of `dir`, removing those with a bad header and cutting the last one's torn
 * tail; `repaired(bytes, line)` is told of each removal (bytes lost, a line for the log).
 */
export function recoverSegments(dir: string, repaired: (bytes: number, line: string) => void): Recovered {
  const nums = readdirSync(dir).map(parseSegName).filter((n): n is number => n !== null).sort((a, b) => a - b);
  const valid: { seg: number; path: string; h: SegHeader }[] = [];
  for (const seg of nums) {
    const path = join(dir, segName(seg));
    const h = readSegHeader(path);
    if (!h || h.seg !== seg) {
      // nothing in a segment with a bad header (or a foreign one) can be trusted
      const size = statSync(path).size;
      unlinkSync(path);
      repaired(size, `spool ${dir}: segment ${segName(seg)} has a bad header; removed ${size} bytes`);
      continue;
    }
    valid.push({ seg, path, h });
  }
  const segs: Segment[] = [];
  let lastId: RecordId | undefined;
  for (let i = 0; i < valid.length; i++) {
    const { seg, path, h } = valid[i]!;
    if (h.prev) lastId = h.prev;
    if (i < valid.length - 1) {
      const size = statSync(path).size;
      segs.push({ seg, headerLen: h.size, size, durable: size });
      continue;
    }
    const scan = scanSegment(path, h.size);
    if (scan.goodEnd < scan.fileSize) {
      const cut = scan.fileSize - scan.goodEnd;
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, scan.goodEnd);
      fsyncSync(fd);
      closeSync(fd);
      repaired(cut, `spool ${dir}: truncated ${cut} bytes of torn or corrupt tail (${scan.bad?.why ?? 'torn'}) in ${segName(seg)} at offset ${scan.goodEnd}`);
    }
    if (scan.lastId) lastId = scan.lastId;
    segs.push({ seg, headerLen: h.size, size: scan.goodEnd, durable: scan.goodEnd });
  }
  return { segs, lastId, nextSeg: nums.length ? nums[nums.length - 1]! + 1 : 1 };
}
