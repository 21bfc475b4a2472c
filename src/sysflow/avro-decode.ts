// Bounded Avro binary decoder compiled from an avsc Type (the writer schema of a trace).
//
// Why not avsc's own `Type.decode`: on corrupt input avsc reads past the end of the buffer
// without failing (missing bytes read as 0), so a mutated array count of 2^50 loops for hours,
// and errors carry no position. This decoder checks every read against the end of the block,
// rejects counts that cannot fit in the remaining bytes, and reports the exact offset. avsc still
// parses and validates the schema (names, references, namespaces); only value decoding is ours.
// int64 values decode to exact bigint.
import type { Type } from 'avsc';

export class AvroDecodeError extends Error {
  constructor(
    message: string,
    /** Offset within the buffer being decoded (a decompressed block, or a socket message). */
    readonly pos: number,
  ) {
    super(message);
    this.name = 'AvroDecodeError';
  }
}

/** Read position over one buffer; `end` bounds every read. */
export class Cursor {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
}

function eof(c: Cursor, what: string): never {
  throw new AvroDecodeError(`unexpected end of data reading ${what} at offset ${c.pos}`, c.pos);
}

/** Zigzag varint that must fit in int32. */
export function readInt(c: Cursor): number {
  const buf = c.buf;
  let pos = c.pos;
  let n = 0;
  let shift = 0;
  let b: number;
  do {
    if (pos >= c.end) eof(c, 'int');
    if (shift > 28) throw new AvroDecodeError(`int varint too long at offset ${c.pos}`, c.pos);
    b = buf[pos++]!;
    n += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  if (n > 0xffffffff) throw new AvroDecodeError(`int out of range at offset ${c.pos}`, c.pos);
  c.pos = pos;
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

const B48 = 48n;
// Consecutive timestamps share their high bits: reuse the shifted high part (saves 2 of the 4
// BigInt allocations per large long).
let lastHi = -1;
let lastHiBig = 0n;

/** Zigzag varint int64 as exact bigint. */
export function readLong(c: Cursor): bigint {
  const buf = c.buf;
  let pos = c.pos;
  // Low 49 bits accumulate exactly in a double; anything above goes to `hi`.
  let lo = 0;
  let shift = 0;
  let b: number;
  do {
    if (pos >= c.end) eof(c, 'long');
    b = buf[pos++]!;
    lo += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80 && shift < 49);
  let hi = 0;
  if (b & 0x80) {
    let hshift = 0;
    do {
      if (pos >= c.end) eof(c, 'long');
      if (hshift >= 15) throw new AvroDecodeError(`long varint too long at offset ${c.pos}`, c.pos);
      b = buf[pos++]!;
      hi += (b & 0x7f) * 2 ** hshift;
      hshift += 7;
    } while (b & 0x80);
    // 10th byte may carry only one significant bit (64 bits total = 49 + 15).
    if (hi >= 2 ** 15) throw new AvroDecodeError(`long out of range at offset ${c.pos}`, c.pos);
  }
  c.pos = pos;
  const neg = lo % 2 === 1;
  if (hi === 0) {
    const half = (lo - (neg ? 1 : 0)) / 2;
    return BigInt(neg ? -half - 1 : half);
  }
  // zigzag: value = (z >>> 1) ^ -(z & 1); z = hi * 2^49 + lo
  if (hi !== lastHi) {
    lastHi = hi;
    lastHiBig = BigInt(hi) << B48;
  }
  const mag = lastHiBig | BigInt(Math.floor(lo / 2));
  return neg ? -mag - 1n : mag;
}

/** A long used as a count, length or union index: decoded as a number, bounded to +-2^31. */
function readCount(c: Cursor): number {
  const buf = c.buf;
  let pos = c.pos;
  let n = 0;
  let shift = 0;
  let b: number;
  do {
    if (pos >= c.end) eof(c, 'count');
    if (shift > 35) throw new AvroDecodeError(`implausible count at offset ${c.pos}`, c.pos);
    b = buf[pos++]!;
    n += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  if (n > 0xffffffff) throw new AvroDecodeError(`implausible count at offset ${c.pos}`, c.pos);
  c.pos = pos;
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

function readLength(c: Cursor, what: string): number {
  const start = c.pos;
  const n = readCount(c);
  if (n < 0) throw new AvroDecodeError(`negative ${what} length ${n} at offset ${start}`, start);
  if (n > c.end - c.pos) {
    throw new AvroDecodeError(`${what} length ${n} exceeds remaining ${c.end - c.pos} bytes at offset ${start}`, start);
  }
  return n;
}

export type Decoder = (c: Cursor) => unknown;

interface AvscTypeLike {
  typeName: string;
  name?: string;
}

/** Minimum encoded size of a value, used to reject impossible array/map counts. */
function minSize(t: Type): number {
  const tn = (t as unknown as AvscTypeLike).typeName;
  switch (tn) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (t as unknown as { size: number }).size;
    case 'record':
    case 'error': {
      let s = 0;
      for (const f of (t as unknown as { fields: { type: Type }[] }).fields) s += minSize(f.type);
      return s;
    }
    default:
      return 1;
  }
}

/**
 * Compile a decoder for `type`. Records decode to plain objects with the writer's field names;
 * unions decode to the branch value, with `branchOf` (if given) receiving the branch index for
 * the top-level union; enums to symbols; fixed to Buffer (copied); bytes to Buffer.
 */
export function compileDecoder(type: Type, cache: Map<Type, Decoder> = new Map()): Decoder {
  const hit = cache.get(type);
  if (hit) return hit;
  let impl: Decoder | undefined;
  // Recursive named types: register a trampoline before compiling the body.
  const tramp: Decoder = (c) => impl!(c);
  cache.set(type, tramp);
  impl = build(type, cache);
  cache.set(type, impl);
  return impl;
}

function build(type: Type, cache: Map<Type, Decoder>): Decoder {
  const tn = (type as unknown as AvscTypeLike).typeName;
  switch (tn) {
    case 'null':
      return () => null;
    case 'boolean':
      return (c) => {
        if (c.pos >= c.end) eof(c, 'boolean');
        const b = c.buf[c.pos]!;
        if (b > 1) throw new AvroDecodeError(`invalid boolean byte ${b} at offset ${c.pos}`, c.pos);
        c.pos++;
        return b === 1;
      };
    case 'int':
      return readInt;
    case 'long':
      return readLong;
    case 'float':
      return (c) => {
        if (c.end - c.pos < 4) eof(c, 'float');
        const v = c.buf.readFloatLE(c.pos);
        c.pos += 4;
        return v;
      };
    case 'double':
      return (c) => {
        if (c.end - c.pos < 8) eof(c, 'double');
        const v = c.buf.readDoubleLE(c.pos);
        c.pos += 8;
        return v;
      };
    case 'string':
      return (c) => {
        const n = readLength(c, 'string');
        const s = c.buf.toString('utf8', c.pos, c.pos + n);
        c.pos += n;
        return s;
      };
    case 'bytes':
      return (c) => {
        const n = readLength(c, 'bytes');
        const b = Buffer.from(c.buf.subarray(c.pos, c.pos + n));
        c.pos += n;
        return b;
      };
    case 'fixed': {
      const size = (type as unknown as { size: number }).size;
      return (c) => {
        if (c.end - c.pos < size) eof(c, `fixed(${size})`);
        const b = Buffer.from(c.buf.subarray(c.pos, c.pos + size));
        c.pos += size;
        return b;
      };
    }
    case 'enum': {
      const symbols = (type as unknown as { symbols: string[] }).symbols;
      const name = (type as unknown as AvscTypeLike).name ?? 'enum';
      return (c) => {
        const start = c.pos;
        const i = readInt(c);
        const s = symbols[i];
        if (s === undefined) throw new AvroDecodeError(`enum ${name} index ${i} out of range at offset ${start}`, start);
        return s;
      };
    }
    case 'array': {
      const itemsType = (type as unknown as { itemsType: Type }).itemsType;
      const item = compileDecoder(itemsType, cache);
      const min = minSize(itemsType);
      return (c) => {
        const out: unknown[] = [];
        for (;;) {
          const start = c.pos;
          let n = readCount(c);
          if (n === 0) return out;
          if (n < 0) {
            n = -n;
            readLong(c); // block size in bytes, not needed
          }
          if (min > 0 && n * min > c.end - c.pos) {
            throw new AvroDecodeError(`array block count ${n} cannot fit in remaining ${c.end - c.pos} bytes at offset ${start}`, start);
          }
          if (min === 0 && n > 1_000_000) throw new AvroDecodeError(`array block count ${n} too large at offset ${start}`, start);
          for (let i = 0; i < n; i++) out.push(item(c));
        }
      };
    }
    case 'map': {
      const valuesType = (type as unknown as { valuesType: Type }).valuesType;
      const val = compileDecoder(valuesType, cache);
      const min = 1 + minSize(valuesType);
      return (c) => {
        const out: Record<string, unknown> = {};
        for (;;) {
          const start = c.pos;
          let n = readCount(c);
          if (n === 0) return out;
          if (n < 0) {
            n = -n;
            readLong(c);
          }
          if (n * min > c.end - c.pos) {
            throw new AvroDecodeError(`map block count ${n} cannot fit in remaining ${c.end - c.pos} bytes at offset ${start}`, start);
          }
          for (let i = 0; i < n; i++) {
            const kl = readLength(c, 'map key');
            const k = c.buf.toString('utf8', c.pos, c.pos + kl);
            c.pos += kl;
            out[k] = val(c);
          }
        }
      };
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const types = (type as unknown as { types: Type[] }).types;
      const branches = types.map((t) => compileDecoder(t, cache));
      return (c) => {
        const start = c.pos;
        const i = readCount(c);
        const d = branches[i];
        if (d === undefined) throw new AvroDecodeError(`union branch ${i} out of range (${branches.length} branches) at offset ${start}`, start);
        return d(c);
      };
    }
    case 'record':
    case 'error': {
      const fields = (type as unknown as { fields: { name: string; type: Type }[] }).fields;
      const names = fields.map((f) => f.name);
      const decs = fields.map((f) => compileDecoder(f.type, cache));
      const n = names.length;
      return (c) => {
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) o[names[i]!] = decs[i]!(c);
        return o;
      };
    }
    default:
      throw new Error(`unsupported Avro type ${tn}`);
  }
}

/** Read a zigzag long from a buffer as a safe number (OCF framing: block counts and sizes). */
export function readFramingLong(c: Cursor, what: string): number {
  const start = c.pos;
  const v = readLong(c);
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new AvroDecodeError(`invalid ${what} ${v} at offset ${start}`, start);
  }
  return Number(v);
}
