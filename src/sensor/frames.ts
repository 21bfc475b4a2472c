// Splits the sensor's byte stream (or a recorded file) into frames. Chunks may cut frames
// anywhere; a malformed stream raises FrameError naming the byte offset.
import { FRAME, FrameKind } from './layout.js';

export interface Frame {
  kind: FrameKind;
  flags: number;
  body: Buffer;
  /** byte offset of the frame header in the stream */
  offset: number;
}

export class FrameError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte offset ${offset}`);
  }
}

const MAX_FRAME = 64 * 1024 * 1024;

export interface SplitterOptions {
  /**
   * Join frames that straddle chunks into one buffer kept for the next join, instead of a new
   * buffer each time: such frames' bodies are then valid only until the next push(). The
   * sensor's 64 KiB batches straddle nearly every 64 KiB pipe read, and a fresh 64 KiB buffer
   * per frame cost a connection storm's agent ~3 µs per record (its pages faulted in anew).
   * For a reader that decodes each push's frames before the next push (framesOf).
   */
  reuseJoin?: boolean;
}

export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private consumed = 0; // stream offset of pending[0][0]
  /** bytes the unfinished frame needs: chunks are joined once it is complete, not on each chunk */
  private need = 0;
  private joinBuf: Buffer | undefined;

  constructor(private readonly opts: SplitterOptions = {}) {}

  /** The first `size` bytes of the pending chunks, in one buffer. */
  private join(size: number): Buffer {
    if (!this.opts.reuseJoin) return Buffer.concat(this.pending, size);
    if (!this.joinBuf || this.joinBuf.length < size) this.joinBuf = Buffer.allocUnsafe(Math.max(size, 256 * 1024));
    const out = this.joinBuf;
    let n = 0;
    for (const c of this.pending) {
      const k = Math.min(c.length, size - n);
      out.set(k === c.length ? c : c.subarray(0, k), n);
      n += k;
      if (n === size) break;
    }
    return out.subarray(0, size);
  }

  /** Feeds a chunk; returns the complete frames it finished (with reuseJoin, valid until the
   * next push). */
  push(chunk: Buffer): Frame[] {
    const out: Frame[] = [];
    if (this.pendingLen > 0) {
      this.pending.push(chunk);
      this.pendingLen += chunk.length;
      if (this.pendingLen < FRAME.size || this.pendingLen < this.need) return out;
      // the unfinished frame is joined alone, from the head of this chunk; the rest of the
      // chunk is split where it lies (joining whole chunks copied every byte of the stream)
      let size = this.need;
      if (size === 0) {
        const h = Buffer.concat(this.pending, FRAME.size);
        size = FRAME.size + this.checkHeader(h, 0);
        if (this.pendingLen < size) { this.need = size; return out; }
      }
      const joined = this.join(size);
      const rest = chunk.subarray(chunk.length - (this.pendingLen - size));
      this.pending = [];
      this.pendingLen = 0;
      this.need = 0;
      this.scan(joined, out);
      chunk = rest;
    }
    this.scan(chunk, out);
    return out;
  }

  /** The body length of the frame header at pos (a bad header raises FrameError). */
  private checkHeader(buf: Buffer, pos: number): number {
    const len = buf.readUInt32LE(pos);
    const kind = buf.readUInt16LE(pos + 4);
    if (kind < FrameKind.Hello || kind > FrameKind.End || len > MAX_FRAME) {
      throw new FrameError(`bad frame header (kind ${kind}, length ${len})`, this.consumed + pos);
    }
    return len;
  }

  /** Splits the frames of buf (nothing pending before it); keeps what is left of it. */
  private scan(buf: Buffer, out: Frame[]): void {
    let pos = 0;
    while (buf.length - pos >= FRAME.size) {
      const len = this.checkHeader(buf, pos);
      const kind = buf.readUInt16LE(pos + 4) as FrameKind;
      const flags = buf.readUInt16LE(pos + 6);
      if (buf.length - pos - FRAME.size < len) { this.need = FRAME.size + len; break; }
      const start = pos + FRAME.size;
      out.push({ kind, flags, body: buf.subarray(start, start + len), offset: this.consumed + pos });
      pos = start + len;
    }
    if (buf.length - pos < FRAME.size) this.need = 0;
    this.consumed += pos;
    const left = buf.subarray(pos);
    this.pending = left.length ? [left] : [];
    this.pendingLen = left.length;
  }

  /** Bytes of an unfinished frame at end of stream (0 for a clean end). */
  get leftover(): number {
    return this.pendingLen;
  }

  get offset(): number {
    return this.consumed;
  }
}
