// How much of a file of concatenated gzip members (RFC 1952) is whole: the S3 sink appends one
// member per batch to its NDJSON.gz window, so a crash in the middle of an append leaves a torn
// last member, which gunzip and every reader of the object would fail on.
import { inflateRawSync } from 'node:zlib';
import { zlibCrc32 as crc32 } from '../util/zlib-crc32.js';

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

/**
 * Bytes of `file` up to the end of its last whole member, the members before it whole too:
 * each header well formed, its deflate data complete, its trailer's CRC-32 and length those of
 * the data. The first member that is not ends the count, so a torn or damaged member is cut off
 * with everything after it. 0 when the first member is not whole. Never throws.
 */
export function completeGzipLength(file: Buffer): number {
  let good = 0;
  while (good < file.length) {
    const h = headerEnd(file, good);
    if (h < 0) break;
    let data: Buffer;
    let used: number;
    try {
      const r = inflateRawSync(file.subarray(h), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      data = r.buffer;
      used = r.engine.bytesWritten;
    } catch {
      break; // cut short, or not deflate data
    }
    const t = h + used;
    if (t + 8 > file.length) break;
    // without zlib's CRC-32 (Node < 20.15) the trailer's length is still checked, its CRC not
    if (crc32 && file.readUInt32LE(t) !== crc32(data) >>> 0) break;
    if (file.readUInt32LE(t + 4) !== data.length % 2 ** 32) break;
    good = t + 8;
  }
  return good;
}
