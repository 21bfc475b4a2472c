// Reads committed frames of spool segments from disk (spool.ts serves what it still holds in
// memory from spool-hot.ts instead). Reads go through one chunk of up to READ_CHUNK bytes that
// later batches continue in (a batch is far smaller than a chunk, and committed bytes never
// change), and the items are views into it: each committed byte is read, checked and decoded
// once, without a copy.
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { checkFrame, FRAME_HEADER, RunDecoder } from './record-frame.js';
import type { ReadBatch } from './spool-hot.js';
import type { Segment } from './spool-recovery.js';
import { segName } from './spool-format.js';

const READ_CHUNK = 1 << 20;

/** Bytes of segment `seg` from offset `off`, read from disk (n of buf are valid). */
interface ReadChunk {
  readonly seg: number;
  readonly off: number;
  readonly buf: Buffer;
  readonly n: number;
}

/** What readFrames did: `end` is the offset after the last frame read; `bad` names why the frame
 * at the start offset failed its check (then nothing was read). */
export interface DiskRead {
  readonly bytes: number;
  readonly end: number;
  readonly bad?: string;
}

export class SegmentReader {
  private fd: { seg: number; fd: number } | null = null;
  /** the last bytes read (the next read continues in them) */
  private chunk: ReadChunk | null = null;
  private readonly dec = new RunDecoder();

  constructor(private readonly dir: string) {}

  /** Reads up to maxItems/maxBytes frames of segment s from offset `off` (below s.durable) into out. */
  readFrames(s: Segment, off: number, out: ReadBatch, maxItems: number, maxBytes: number): DiskRead {
    let ch = this.chunk;
    if (!ch || ch.seg !== s.seg || off < ch.off || off >= ch.off + ch.n) ch = this.fill(s, off, READ_CHUNK);
    let at = off - ch.off;
    let bytes = 0;
    for (let got = 0; got < maxItems && bytes < maxBytes; ) {
      const chk = checkFrame(ch.buf, at, ch.n);
      if (!chk.ok && chk.why === 'short' && ch.off + ch.n < s.durable) {
        // the frame continues past the chunk: what was read goes out, the next call reads on
        if (bytes > 0) break;
        // a frame larger than a chunk: read it whole
        const need = ch.n - at >= FRAME_HEADER ? FRAME_HEADER + ch.buf.readUInt32LE(at) : 0;
        ch = this.fill(s, off, Math.max(READ_CHUNK, need));
        at = 0;
        if (ch.n >= need) continue;
        break; // cannot happen (the frame is inside committed bytes); the caller stops on no progress
      }
      if (!chk.ok) {
        if (bytes > 0) break;
        return { bytes: 0, end: off, bad: chk.why };
      }
      out.items.push(this.dec.decode(ch.buf, at, at + chk.size));
      at += chk.size;
      bytes += chk.size;
      got++;
      out.ends.push(ch.off + at);
      if (at >= ch.n) break;
    }
    return { bytes, end: ch.off + at };
  }

  /** Reads up to `want` committed bytes of segment s from `off` into a fresh chunk. */
  private fill(s: Segment, off: number, want: number): ReadChunk {
    if (!this.fd || this.fd.seg !== s.seg) {
      if (this.fd) closeSync(this.fd.fd);
      this.fd = { seg: s.seg, fd: openSync(join(this.dir, segName(s.seg)), 'r') };
    }
    // a fresh buffer each time: items handed out are views into the previous one
    const buf = Buffer.allocUnsafe(Math.min(want, s.durable - off));
    let n = 0;
    while (n < buf.length) {
      const r = readSync(this.fd.fd, buf, n, buf.length - n, off + n);
      if (r === 0) break;
      n += r;
    }
    this.chunk = { seg: s.seg, off, buf, n };
    return this.chunk;
  }

  /** Segment `seg` is being deleted: let go of its file and bytes. */
  forget(seg: number): void {
    if (this.fd?.seg === seg) {
      closeSync(this.fd.fd);
      this.fd = null;
    }
    if (this.chunk?.seg === seg) this.chunk = null;
  }

  close(): void {
    if (this.fd) closeSync(this.fd.fd);
    this.fd = null;
    this.chunk = null;
  }
}
