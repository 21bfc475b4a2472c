// The spool's on-disk record frame. One frame per SinkItem:
//   u32 bodyLen | u32 crc32c(body) | body
//   body = u8 kind | u64 seq | u8 hostLen host | u8 bootLen boot | u16 keyLen key | data
// Little-endian. The length comes first so a reader can skip a frame without decoding it; the
// CRC covers the whole body, so a torn or flipped frame is detected before it is trusted.
import type { RecordKind, SinkItem } from '../pipeline/types.js';
import { crc32c } from './crc32c.js';

export const FRAME_HEADER = 8;
/** A frame body larger than this is treated as corruption (a record is never this big). */
export const MAX_BODY = 64 * 1024 * 1024;

const KINDS: readonly RecordKind[] = ['file', 'socket', 'process', 'payload', 'pid_exit', 'alert', 'sysflow'];
const KIND_CODE = new Map<RecordKind, number>(KINDS.map((k, i) => [k, i]));
const utf8 = new TextEncoder();
const dec = new TextDecoder();

function shortBytes(s: string, what: string, max: number): Uint8Array {
  const b = utf8.encode(s);
  if (b.length > max) throw new RangeError(`record id ${what} is longer than ${max} bytes`);
  return b;
}

/** Encoded size of an item's frame, header included. */
export function frameSize(item: SinkItem): number {
  return FRAME_HEADER + 1 + 8 + 2 + 2 + Buffer.byteLength(item.id.host) + Buffer.byteLength(item.id.boot) + (item.key ? Buffer.byteLength(item.key) : 0) + item.data.length;
}

/** Encodes one item as a frame. */
export function encodeFrame(item: SinkItem): Buffer {
  const host = shortBytes(item.id.host, 'host', 255);
  const boot = shortBytes(item.id.boot, 'boot', 255);
  const key = item.key === undefined ? new Uint8Array(0) : shortBytes(item.key, 'key', 65535);
  const bodyLen = 1 + 8 + 1 + host.length + 1 + boot.length + 2 + key.length + item.data.length;
  const b = Buffer.allocUnsafe(FRAME_HEADER + bodyLen);
  let o = FRAME_HEADER;
  b[o++] = KIND_CODE.get(item.kind) ?? 0;
  b.writeBigUInt64LE(BigInt.asUintN(64, item.id.seq), o);
  o += 8;
  b[o++] = host.length;
  b.set(host, o);
  o += host.length;
  b[o++] = boot.length;
  b.set(boot, o);
  o += boot.length;
  b.writeUInt16LE(key.length, o);
  o += 2;
  b.set(key, o);
  o += key.length;
  b.set(item.data, o);
  b.writeUInt32LE(bodyLen, 0);
  b.writeUInt32LE(crc32c(b, FRAME_HEADER, FRAME_HEADER + bodyLen), 4);
  return b;
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
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bodyLen = dv.getUint32(at, true);
  if (bodyLen < 14 || bodyLen > MAX_BODY) return { ok: false, why: 'length' };
  if (end - at < FRAME_HEADER + bodyLen) return { ok: false, why: 'short' };
  if (crc32c(buf, at + FRAME_HEADER, at + FRAME_HEADER + bodyLen) !== dv.getUint32(at + 4, true)) return { ok: false, why: 'crc' };
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
