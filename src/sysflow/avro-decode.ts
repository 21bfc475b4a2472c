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
  const end = c.end;
  let pos = c.pos;
  if (pos >= end) eof(c, 'int');
  let b = buf[pos++]!;
  let n = b & 0x7f;
  let shift = 7;
  while (b & 0x80) {
    if (pos >= end) eof(c, 'int');
    if (shift > 28) throw new AvroDecodeError(`int varint too long at offset ${c.pos}`, c.pos);
    b = buf[pos++]!;
    if (shift === 28 && b > 0x0f) throw new AvroDecodeError(`int out of range at offset ${c.pos}`, c.pos);
    n |= (b & 0x7f) << shift;
    shift += 7;
  }
  c.pos = pos;
  return (n >>> 1) ^ -(n & 1);
}

// Large longs (ns timestamps) are built as (upper << 27) | low27 where `upper` changes rarely
// between consecutive records: its BigInt is cached, leaving one allocation plus one OR.
// Lazily filled: pids, tids and small counters repeat across records (at most 2^17 entries).
const SMALL_N = 1 << 17;
const SMALL: (bigint | undefined)[] = new Array<bigint | undefined>(SMALL_N);
let lastUpper = -1;
let lastUpperBig = 0n;
const B27 = 27n;

/** Zigzag varint int64 as exact bigint. */
export function readLong(c: Cursor): bigint {
  const buf = c.buf;
  const end = c.end;
  let pos = c.pos;
  // lo: bits 0..27 (int32 ops), mid: bits 28..55, hi: bits 56..63.
  let lo = 0;
  let mid = 0;
  let hi = 0;
  let b: number;
  let shift = 0;
  do {
    if (pos >= end) eof(c, 'long');
    b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80 && shift < 28);
  if (b & 0x80) {
    shift = 0;
    do {
      if (pos >= end) eof(c, 'long');
      b = buf[pos++]!;
      mid |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 28);
    if (b & 0x80) {
      shift = 0;
      do {
        if (pos >= end) eof(c, 'long');
        if (shift >= 14) throw new AvroDecodeError(`long varint too long at offset ${c.pos}`, c.pos);
        b = buf[pos++]!;
        hi |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80);
      if (hi > 0xff) throw new AvroDecodeError(`long out of range at offset ${c.pos}`, c.pos);
    }
  }
  c.pos = pos;
  const neg = lo & 1;
  // z >> 1 = upper * 2^27 + (lo >>> 1), upper = hi * 2^28 + mid (exact: < 2^36)
  const upper = hi * 0x10000000 + mid;
  const low27 = lo >>> 1;
  if (upper < 0x4000000) {
    // |value| < 2^53: exact in a double; small non-negative values (zero counters, createTS 0,
    // pids, tids) come from a table instead of a new BigInt each.
    const half = upper * 0x8000000 + low27;
    if (!neg && half < SMALL_N) return SMALL[half] ?? (SMALL[half] = BigInt(half));
    return BigInt(neg ? -half - 1 : half);
  }
  if (upper !== lastUpper) {
    lastUpper = upper;
    lastUpperBig = BigInt(upper) << B27;
  }
  const mag = lastUpperBig | BigInt(low27);
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

// Node's Buffer has direct slice decoders (what Buffer#toString calls after argument checks);
// calling them skips that wrapper on the hot path. Bounds are already checked by the decoder.
interface FastSlices {
  utf8Slice(start: number, end: number): string;
  hexSlice(start: number, end: number): string;
}
const utf8 = (b: Buffer, s: number, e: number): string => (b as unknown as FastSlices).utf8Slice(s, e);
const hex = (b: Buffer, s: number, e: number): string => (b as unknown as FastSlices).hexSlice(s, e);

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
 * the top-level union; enums to symbols; fixed to lowercase hex; bytes to Buffer (copied).
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
        const s = utf8(c.buf, c.pos, c.pos + n);
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
      // Fixed values (FOIDs) decode straight to lowercase hex: that is how the model keys them.
      const size = (type as unknown as { size: number }).size;
      return (c) => {
        if (c.end - c.pos < size) eof(c, `fixed(${size})`);
        const h = hex(c.buf, c.pos, c.pos + size);
        c.pos += size;
        return h;
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
            const k = utf8(c.buf, c.pos, c.pos + kl);
            c.pos += kl;
            // A "__proto__" key must stay data, not replace the object's prototype.
            if (k === '__proto__') Object.defineProperty(out, k, { value: val(c), enumerable: true, writable: true, configurable: true });
            else out[k] = val(c);
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
      // Generated object literal: one hidden class per record type and no keyed stores, which
      // is several times faster than assigning fields in a loop. Names are Avro names (avsc has
      // validated them against [A-Za-z_][A-Za-z0-9_]*) and are JSON-quoted anyway.
      for (const n of names) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new Error(`invalid Avro field name ${JSON.stringify(n)}`);
      const body = `return (c) => ({ ${names.map((n, i) => `${JSON.stringify(n)}: d[${i}](c)`).join(', ')} });`;
      return new Function('d', body)(decs) as Decoder;
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
