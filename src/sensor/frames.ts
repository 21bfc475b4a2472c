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

export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private consumed = 0; // stream offset of pending[0][0]
  /** bytes the unfinished frame needs: chunks are joined once it is complete, not on each chunk */
  private need = 0;

  /** Feeds a chunk; returns the complete frames it finished. */
  push(chunk: Buffer): Frame[] {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    const out: Frame[] = [];
    if (this.pendingLen < FRAME.size || this.pendingLen < this.need) return out;
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    let pos = 0;
    while (buf.length - pos >= FRAME.size) {
      const len = buf.readUInt32LE(pos);
      const kind = buf.readUInt16LE(pos + 4);
      const flags = buf.readUInt16LE(pos + 6);
      if (kind < FrameKind.Hello || kind > FrameKind.End || len > MAX_FRAME) {
        throw new FrameError(`bad frame header (kind ${kind}, length ${len})`, this.consumed + pos);
      }
      if (buf.length - pos - FRAME.size < len) { this.need = FRAME.size + len; break; }
      const start = pos + FRAME.size;
      out.push({ kind, flags, body: buf.subarray(start, start + len), offset: this.consumed + pos });
      pos = start + len;
    }
    if (buf.length - pos < FRAME.size) this.need = 0;
    this.consumed += pos;
    buf = buf.subarray(pos);
    this.pending = buf.length ? [buf] : [];
    this.pendingLen = buf.length;
    return out;
  }

  /** Bytes of an unfinished frame at end of stream (0 for a clean end). */
  get leftover(): number {
    return this.pendingLen;
  }

  get offset(): number {
    return this.consumed;
  }
}
