// How much of a file of concatenated gzip members (RFC 1952) is whole: the S3 sink appends one
// member per batch to its NDJSON.gz window, so a crash in the middle of an append leaves a torn
// last member, which gunzip and every reader of the object would fail on. Damage in the middle
// (a bad sector) is stepped over to the next whole member (wholeGzipRuns).
import { inflateRawSync } from 'node:zlib';
import { zlibCrc32 as crc32 } from '../util/zlib-crc32.js';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 8]);
const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/** Offset after the header of the member at `p`, or -1 when it is not a whole gzip header. */
function headerEnd(file: Buffer, p: number): number {
  if (p + 10 > file.length || file[p] !== 0x1f || file[p + 1] !== 0x8b || file[p + 2] !== 8) return -1;
  const flags = file[p + 3]!;
  if (flags & 0xe0) return -1; // reserved bits
  let h = p + 10;
  if (flags & FEXTRA) {
    if (h + 2 > file.length) return -1;
    h += 2 + file.readUInt16LE(h);
  }
  for (const f of [FNAME, FCOMMENT]) {
    if (!(flags & f)) continue;
    const z = file.indexOf(0, h);
    if (z < 0) return -1;
    h = z + 1;
  }
  if (flags & FHCRC) h += 2;
  return h <= file.length ? h : -1;
}

/** End of the whole member at `p`: header well formed, deflate data complete, its trailer's
 * CRC-32 and length those of the data. -1 when it is not. Never throws. */
function memberEnd(file: Buffer, p: number): number {
  const h = headerEnd(file, p);
  if (h < 0) return -1;
  let data: Buffer;
  let used: number;
  try {
    const r = inflateRawSync(file.subarray(h), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    data = r.buffer;
    used = r.engine.bytesWritten;
  } catch {
    return -1; // cut short, or not deflate data
  }
  const t = h + used;
  if (t + 8 > file.length) return -1;
  // without zlib's CRC-32 (Node < 20.15) the trailer's length is still checked, its CRC not
  if (crc32 && file.readUInt32LE(t) !== crc32(data) >>> 0) return -1;
  if (file.readUInt32LE(t + 4) !== data.length % 2 ** 32) return -1;
  return t + 8;
}

/**
 * The whole members of `file` as [start, end) runs of adjacent members. After a member that is
 * not whole, the next whole member is searched for from the next gzip magic on, so damage in the
 * middle (a bad sector, not a crash: a crash tears only the end) costs only the members it hit.
 * Empty when no member is whole. Never throws.
 */
export function wholeGzipRuns(file: Buffer): [number, number][] {
  const runs: [number, number][] = [];
  let p = 0;
  while (p < file.length) {
    const e = memberEnd(file, p);
    if (e > 0) {
      const last = runs[runs.length - 1];
      if (last && last[1] === p) last[1] = e;
      else runs.push([p, e]);
      p = e;
      continue;
    }
    const next = file.indexOf(GZIP_MAGIC, p + 1);
    if (next < 0) break;
    p = next;
  }
  return runs;
}
