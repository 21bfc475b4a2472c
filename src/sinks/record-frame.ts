// The spool's on-disk record frame. One frame per SinkItem:
//   u32 bodyLen | u32 crc32c(body) | body
//   body = u8 kind | u64 seq | u8 hostLen host | u8 bootLen boot | u16 keyLen key | data
// Little-endian. The length comes first so a reader can skip a frame without decoding it; the
// CRC covers the whole body, so a torn or flipped frame is detected before it is trusted.
import type { RecordKind, SinkItem } from '../pipeline/types.js';
import { crc32c } from './crc32c.js';
import { u32le } from '../util/bytes.js';

export const FRAME_HEADER = 8;
/** A frame body larger than this is treated as corruption (a record is never this big). */
export const MAX_BODY = 64 * 1024 * 1024;

const KINDS: readonly RecordKind[] = ['file', 'socket', 'process', 'payload', 'pid_exit', 'alert', 'sysflow'];
const KIND_NUM: Readonly<Record<string, number>> = Object.fromEntries(KINDS.map((k, i) => [k, i]));
const utf8 = new TextEncoder();
const dec = new TextDecoder();

function shortBytes(s: string, what: string, max: number): Uint8Array {
  const b = utf8.encode(s);
  if (b.length > max) throw new RangeError(`record id ${what} is longer than ${max} bytes`);
  return b;
}

let lastHost = '';
let lastHostLen = 0;
let lastBoot = '';
let lastBootLen = 0;

/** Encoded size of an item's frame, header included. */
export function frameSize(item: SinkItem): number {
  const { host, boot } = item.id;
  if (host !== lastHost) {
    lastHostLen = Buffer.byteLength(host);
    lastHost = host;
  }
  if (boot !== lastBoot) {
    lastBootLen = Buffer.byteLength(boot);
    lastBoot = boot;
  }
  return FRAME_HEADER + 1 + 8 + 2 + 2 + lastHostLen + lastBootLen + (item.key ? Buffer.byteLength(item.key) : 0) + item.data.length;
}

/**
 * Frames of consecutive records in one buffer: the unit the spool writes and the memory queue
 * keeps. `ends[i]` is where frame i ends, relative to the start of `buf`. One allocation per run
 * (plus the ends array) instead of several objects per record.
 */
export interface FrameRun {
  readonly buf: Buffer;
  readonly ends: Uint32Array;
}

/** Runs are packed into slabs of this size (run-arena.ts): memory is released in small steps. */
export const RUN_BYTES = 256 << 10;

/** Encodes items[from, to) as frames into buf at `at`; returns each frame's end relative to `at`. */
export function encodeInto(items: readonly SinkItem[], from: number, to: number, buf: Buffer, at: number, crc = true): Uint32Array {
  const enc = new IdBytes(crc);
  const ends = new Uint32Array(to - from);
  let o = at;
  for (let k = from; k < to; k++) {
    o += encodeFrameAt(items[k]!, buf, o, enc);
    ends[k - from] = o - at;
  }
  return ends;
}

/** Encodes one item as a frame. */
export function encodeFrame(item: SinkItem): Buffer {
  const b = Buffer.allocUnsafe(frameSize(item));
  encodeFrameAt(item, b, 0, new IdBytes());
  return b;
}

/** The UTF-8 bytes of the last host and boot seen: a batch nearly always has one of each. */
class IdBytes {
  /** false: frames that never leave memory (the queue) get no CRC (written as 0) */
  constructor(readonly crc = true) {}
  private host = '';
  private hostB: Uint8Array = new Uint8Array(0);
  private boot = '';
  private bootB: Uint8Array = new Uint8Array(0);
  hostBytes(h: string): Uint8Array {
    if (h !== this.host) {
      this.hostB = shortBytes(h, 'host', 255);
      this.host = h;
    }
    return this.hostB;
  }
  bootBytes(b: string): Uint8Array {
    if (b !== this.boot) {
      this.bootB = shortBytes(b, 'boot', 255);
      this.boot = b;
    }
    return this.bootB;
  }
}

const TWO32 = 4294967296;

function encodeFrameAt(item: SinkItem, b: Buffer, at: number, enc: IdBytes): number {
  const hb = enc.hostBytes(item.id.host);
  const bb = enc.bootBytes(item.id.boot);
  const kl = item.key === undefined ? 0 : Buffer.byteLength(item.key);
  if (kl > 65535) shortBytes(item.key!, 'key', 65535);
  const hl = hb.length;
  const bl = bb.length;
  const bodyLen = 1 + 8 + 1 + hl + 1 + bl + 2 + kl + item.data.length;
  let o = at + FRAME_HEADER;
  b[o++] = KIND_NUM[item.kind] ?? 0;
  const seq = item.id.seq;
  if (seq >= 0n && seq <= 9007199254740991n) {
    // the usual case, without BigInt arithmetic (which allocates)
    const n = Number(seq);
    b.writeUInt32LE(n % TWO32, o);
    b.writeUInt32LE(Math.floor(n / TWO32), o + 4);
  } else b.writeBigUInt64LE(BigInt.asUintN(64, seq), o);
  o += 8;
  b[o++] = hl;
  b.set(hb, o);
  o += hl;
  b[o++] = bl;
  b.set(bb, o);
  o += bl;
  b[o++] = kl & 0xff;
  b[o++] = kl >>> 8;
  if (kl) o += b.write(item.key!, o, 'utf8');
  b.set(item.data, o);
  b.writeUInt32LE(bodyLen, at);
  b.writeUInt32LE(enc.crc ? crc32c(b, at + FRAME_HEADER, at + FRAME_HEADER + bodyLen) : 0, at + 4);
  return FRAME_HEADER + bodyLen;
}

export type FrameCheck =
  | { readonly ok: true; readonly size: number }
  | { readonly ok: false; readonly why: 'short' | 'length' | 'crc' | 'body' };

/**
 * Checks the frame at buf[at..end). 'short' means the frame runs past `end` (read more, or a
 * torn tail if `end` is the end of the file).
 */
export function checkFrame(buf: Uint8Array, at: number, end: number): FrameCheck {
  if (end - at < FRAME_HEADER) return { ok: false, why: 'short' };
  // byte reads, not a DataView per frame (this runs for every record read back from disk)
  const bodyLen = u32le(buf, at);
  if (bodyLen < 14 || bodyLen > MAX_BODY) return { ok: false, why: 'length' };
  if (end - at < FRAME_HEADER + bodyLen) return { ok: false, why: 'short' };
  if (crc32c(buf, at + FRAME_HEADER, at + FRAME_HEADER + bodyLen) !== u32le(buf, at + 4)) return { ok: false, why: 'crc' };
  if (!bodyFits(buf, at + FRAME_HEADER, bodyLen)) return { ok: false, why: 'body' };
  return { ok: true, size: FRAME_HEADER + bodyLen };
}

function bodyFits(buf: Uint8Array, o: number, len: number): boolean {
  const end = o + len;
  let p = o + 9;
  p += 1 + buf[p]!;
  if (p >= end) return false;
  p += 1 + buf[p]!;
  if (p + 2 > end) return false;
  p += 2 + (buf[p]! | (buf[p + 1]! << 8));
  return p <= end;
}

/** Decodes a frame already accepted by checkFrame. The item's data is a copy. */
export function decodeFrame(buf: Uint8Array, at: number): SinkItem {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bodyLen = dv.getUint32(at, true);
  const end = at + FRAME_HEADER + bodyLen;
  let o = at + FRAME_HEADER;
  const kind = KINDS[buf[o++]!] ?? 'file';
  const seq = dv.getBigUint64(o, true);
  o += 8;
  const hl = buf[o++]!;
  const host = dec.decode(buf.subarray(o, o + hl));
  o += hl;
  const bl = buf[o++]!;
  const boot = dec.decode(buf.subarray(o, o + bl));
  o += bl;
  const kl = dv.getUint16(o, true);
  o += 2;
  const key = kl ? dec.decode(buf.subarray(o, o + kl)) : undefined;
  o += kl;
  const data = Uint8Array.prototype.slice.call(buf, o, end);
  return key === undefined ? { id: { host, boot, seq }, kind, data } : { id: { host, boot, seq }, kind, data, key };
}

/**
 * Decodes frames this process encoded itself (memory queue, the spool's recent runs): no CRC
 * check, and the data is a view into `buf` (no copy). Host and boot strings are shared between
 * consecutive records that carry the same bytes.
 */
export class RunDecoder {
  private hostAt = -1;
  private hostBuf: Uint8Array | null = null;
  private host = '';
  private bootAt = -1;
  private bootBuf: Uint8Array | null = null;
  private boot = '';

  decode(buf: Buffer, at: number, end: number): SinkItem {
    let o = at + FRAME_HEADER;
    const kind = KINDS[buf[o++]!] ?? 'file';
    const lo = buf.readUInt32LE(o);
    const hi = buf.readUInt32LE(o + 4);
    const seq = hi < 0x200000 ? BigInt(hi * TWO32 + lo) : buf.readBigUInt64LE(o);
    o += 8;
    const hl = buf[o++]!;
    const host = this.sameAs(buf, o, hl, this.hostBuf, this.hostAt) ? this.host : this.setHost(buf, o, hl);
    o += hl;
    const bl = buf[o++]!;
    const boot = this.sameAs(buf, o, bl, this.bootBuf, this.bootAt) ? this.boot : this.setBoot(buf, o, bl);
    o += bl;
    const kl = buf[o]! | (buf[o + 1]! << 8);
    o += 2;
    const data = buf.subarray(o + kl, end);
    if (kl === 0) return { id: { host, boot, seq }, kind, data };
    return { id: { host, boot, seq }, kind, data, key: buf.toString('utf8', o, o + kl) };
  }

  private sameAs(buf: Uint8Array, o: number, n: number, prev: Uint8Array | null, at: number): boolean {
    if (!prev || at < 0 || prev[at - 1] !== n) return false;
    for (let i = 0; i < n; i++) if (buf[o + i] !== prev[at + i]) return false;
    return true;
  }

  private setHost(buf: Buffer, o: number, n: number): string {
    this.hostBuf = buf;
    this.hostAt = o;
    return (this.host = buf.toString('utf8', o, o + n));
  }

  private setBoot(buf: Buffer, o: number, n: number): string {
    this.bootBuf = buf;
    this.bootAt = o;
    return (this.boot = buf.toString('utf8', o, o + n));
  }
}
