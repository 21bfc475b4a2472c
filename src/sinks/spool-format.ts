// On-disk layout of a spool directory, shared by the spool, `spool inspect` and `spool verify`.
//   NNNNNNNNNNNNNNNNNNNN.seg  append-only segments: header, then record frames (record-frame.ts)
//   <consumer>.cursor         per-sink cursor: two alternating 64-byte slots (a torn write of one
//                             slot leaves the other), each acked + sent positions and a CRC
//   stats.json                drops that happened inside the spool (cap evictions, corruption)
import { closeSync, openSync, readSync } from 'node:fs';
import type { RecordId } from '../pipeline/types.js';
import { crc32c } from './crc32c.js';

const SEG_MAGIC = Buffer.from('FNSPOOL1');
export const SEG_SUFFIX = '.seg';
export const CURSOR_SUFFIX = '.cursor';
const CUR_MAGIC = 0x5543_4e46; // 'FNCU'
const SLOT = 64;

/** A place in the spool: segment number and byte offset inside it. */
export interface Pos {
  readonly seg: number;
  readonly off: number;
}

export function cmpPos(a: Pos, b: Pos): number {
  return a.seg !== b.seg ? a.seg - b.seg : a.off - b.off;
}

export function segName(seg: number): string {
  return String(seg).padStart(20, '0') + SEG_SUFFIX;
}

export function parseSegName(name: string): number | null {
  const m = /^(\d{20})\.seg$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Consumer names become file names: anything outside [A-Za-z0-9_.-] is %-escaped. */
export function cursorName(consumer: string): string {
  return consumer.replace(/[^A-Za-z0-9_.-]|^\./g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')) + CURSOR_SUFFIX;
}

export function consumerOfCursor(file: string): string | null {
  if (!file.endsWith(CURSOR_SUFFIX)) return null;
  return file.slice(0, -CURSOR_SUFFIX.length).replace(/%([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Bytes of the header of a segment whose `prev` has this host and boot (none: no prev). */
export function segHeaderLen(prev: Pick<RecordId, 'host' | 'boot'> | undefined): number {
  return 16 + 8 + 1 + (prev ? 2 + Buffer.byteLength(prev.host) + Buffer.byteLength(prev.boot) + 8 : 0);
}

/**
 * Segment header: magic | u32 headerLen | u32 crc32c(rest) | u64 segNo | u8 hasPrev |
 * [u8 hostLen host u8 bootLen boot u64 seq]. `prev` is the id of the last record written before
 * this segment, so the spool knows what it accepted last even after older segments are deleted.
 */
export function encodeSegHeader(seg: number, prev: RecordId | undefined): Buffer {
  const host = Buffer.from(prev?.host ?? '');
  const boot = Buffer.from(prev?.boot ?? '');
  const len = segHeaderLen(prev);
  const b = Buffer.alloc(len);
  SEG_MAGIC.copy(b, 0);
  b.writeUInt32LE(len, 8);
  b.writeBigUInt64LE(BigInt(seg), 16);
  b[24] = prev ? 1 : 0;
  if (prev) {
    let o = 25;
    b[o++] = host.length;
    host.copy(b, o);
    o += host.length;
    b[o++] = boot.length;
    boot.copy(b, o);
    o += boot.length;
    b.writeBigUInt64LE(BigInt.asUintN(64, prev.seq), o);
  }
  b.writeUInt32LE(crc32c(b, 16, len), 12);
  return b;
}

export interface SegHeader {
  readonly seg: number;
  readonly size: number;
  readonly prev?: RecordId;
}

/** Reads and checks a segment header; null when it is missing, torn or corrupt. */
export function readSegHeader(path: string): SegHeader | null {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(600);
    const n = readSync(fd, b, 0, b.length, 0);
    if (n < 25 || !b.subarray(0, 8).equals(SEG_MAGIC)) return null;
    const len = b.readUInt32LE(8);
    if (len < 25 || len > n) return null;
    if (crc32c(b, 16, len) !== b.readUInt32LE(12)) return null;
    const seg = Number(b.readBigUInt64LE(16));
    if (b[24] !== 1) return { seg, size: len };
    let o = 25;
    const hl = b[o++]!;
    const host = b.toString('utf8', o, o + hl);
    o += hl;
    const bl = b[o++]!;
    const boot = b.toString('utf8', o, o + bl);
    o += bl;
    return { seg, size: len, prev: { host, boot, seq: b.readBigUInt64LE(o) } };
  } finally {
    closeSync(fd);
  }
}

export interface CursorState {
  readonly gen: bigint;
  readonly acked: Pos;
  readonly sent: Pos;
}

export function encodeCursorSlot(c: CursorState): Buffer {
  const b = Buffer.alloc(SLOT);
  b.writeUInt32LE(CUR_MAGIC, 0);
  b.writeBigUInt64LE(c.gen, 8);
  b.writeBigUInt64LE(BigInt(c.acked.seg), 16);
  b.writeBigUInt64LE(BigInt(c.acked.off), 24);
  b.writeBigUInt64LE(BigInt(c.sent.seg), 32);
  b.writeBigUInt64LE(BigInt(c.sent.off), 40);
  b.writeUInt32LE(crc32c(b, 8, 48), 4);
  return b;
}

export function cursorSlotOffset(gen: bigint): number {
  return Number(gen & 1n) * SLOT;
}

/** The newest valid slot of a cursor file's contents, or null if neither slot is valid. */
export function decodeCursor(b: Buffer): CursorState | null {
  let best: CursorState | null = null;
  for (let at = 0; at + SLOT <= b.length && at <= SLOT; at += SLOT) {
    if (b.readUInt32LE(at) !== CUR_MAGIC || crc32c(b, at + 8, at + 48) !== b.readUInt32LE(at + 4)) continue;
    const c: CursorState = {
      gen: b.readBigUInt64LE(at + 8),
      acked: { seg: Number(b.readBigUInt64LE(at + 16)), off: Number(b.readBigUInt64LE(at + 24)) },
      sent: { seg: Number(b.readBigUInt64LE(at + 32)), off: Number(b.readBigUInt64LE(at + 40)) },
    };
    if (!best || c.gen > best.gen) best = c;
  }
  return best;
}
