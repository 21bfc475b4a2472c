// Walks the frames of one segment file in bounded chunks (never the whole file in memory) and
// reports where the good data ends. Used by recovery (last segment only), eviction counting,
// `spool inspect` and `spool verify`.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { RecordId } from '../pipeline/types.js';
import { checkFrame, decodeFrame, FRAME_HEADER } from './record-frame.js';

export interface SegmentScan {
  records: number;
  /** offset just after the last good frame */
  goodEnd: number;
  fileSize: number;
  firstId?: RecordId;
  lastId?: RecordId;
  /** the first bad frame, if the scan stopped before the end of the file */
  bad?: { readonly at: number; readonly why: string };
}

const CHUNK = 1 << 20;

/** Scans frames from `from` to the end of the file (or `to`). `onRecord` sees each decoded id. */
export function scanSegment(path: string, from: number, opts: { to?: number; ids?: boolean } = {}): SegmentScan {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const end = Math.min(opts.to ?? fileSize, fileSize);
    const out: SegmentScan = { records: 0, goodEnd: from, fileSize };
    let buf = Buffer.allocUnsafe(CHUNK);
    let pos = from;
    let lastAt = -1;
    while (pos < end) {
      const want = Math.min(buf.length, end - pos);
      const n = readSync(fd, buf, 0, want, pos);
      let at = 0;
      for (;;) {
        const c = checkFrame(buf, at, n);
        if (c.ok) {
          if (opts.ids || out.records === 0) {
            const id = decodeFrame(buf, at).id;
            if (out.records === 0) out.firstId = id;
            out.lastId = id;
          }
          lastAt = pos + at;
          out.records++;
          at += c.size;
          continue;
        }
        if (c.why === 'short' && pos + n < end) {
          // the frame continues past this chunk: grow the buffer if one frame is larger than it
          const need = n - at >= FRAME_HEADER ? FRAME_HEADER + buf.readUInt32LE(at) : CHUNK;
          if (at === 0 && need > buf.length) buf = Buffer.allocUnsafe(need);
          break;
        }
        if (at < n || pos + n < end) out.bad = { at: pos + at, why: c.why === 'short' ? 'torn' : c.why };
        break;
      }
      pos += at;
      out.goodEnd = pos;
      if (out.bad || at === 0 && pos + n >= end) break;
    }
    if (!opts.ids && out.records > 1) out.lastId = readIdAt(fd, lastAt);
    return out;
  } finally {
    closeSync(fd);
  }
}

function readIdAt(fd: number, at: number): RecordId {
  const h = Buffer.alloc(FRAME_HEADER);
  readSync(fd, h, 0, FRAME_HEADER, at);
  const b = Buffer.allocUnsafe(FRAME_HEADER + h.readUInt32LE(0));
  readSync(fd, b, 0, b.length, at);
  return decodeFrame(b, 0).id;
}
