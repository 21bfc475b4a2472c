// Avro binary encoder compiled from an avsc Type (the v5 writer schema). Values follow the
// object model conventions (types.ts): int64 as bigint (number accepted when it is a safe
// integer), fixed as Buffer or lowercase hex string, optional unions ["null", X] as null | X.
// Every value is type-checked; a wrong value throws with its field path, so a bad object never
// produces a corrupt file. Written by hand (not avsc's encoder) so that files we write can be
// checked by avsc as a genuinely independent reader.
import type { Type } from 'avsc';

export class AvroEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AvroEncodeError';
  }
}

/** Growable output buffer. */
export class ByteSink {
  buf: Buffer;
  len = 0;
  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  reset(): void {
    this.len = 0;
  }
  /** A copy of the bytes written so far. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }
  /** Unsigned varint of a non-negative safe integer. */
  varuint(z: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.len;
    while (z >= 0x80) {
      b[p++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    b[p++] = z;
    this.len = p;
  }
  int(v: number): void {
    this.varuint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  long(v: bigint): void {
    if (v >= -0x10000000000000n && v <= 0x10000000000000n) {
      this.int(Number(v));
      return;
    }
    // zigzag in 64 bits, then 7 bits at a time from two exact 32-bit halves
    const z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    let l = Number(z & 0xffffffffn);
    let h = Number(z >> 32n);
    this.ensure(10);
    const b = this.buf;
    let p = this.len;
    while (h !== 0 || l >= 0x80) {
      b[p++] = (l & 0x7f) | 0x80;
      l = ((l >>> 7) | ((h & 0x7f) << 25)) >>> 0;
      h = h >>> 7;
    }
    b[p++] = l;
    this.len = p;
  }
  /** Append a string known to be ASCII/latin1 (e.g. json.dumps output with ensure_ascii). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    if (n < 48) {
      // A JS loop beats Buffer#write's binding overhead for the short values that dominate.
      const b = this.buf;
      let p = this.len;
      for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
      this.len = p;
    } else this.len += this.buf.write(s, this.len, 'latin1');
  }
  /** Decimal digits of a safe integer, without allocating a string. */
  int10(n: number): void {
    this.ensure(21);
    const b = this.buf;
    if (n < 0) {
      b[this.len++] = 0x2d;
      n = -n;
    }
    if (n < 10) {
      b[this.len++] = 0x30 + n;
      return;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.len + digits;
    this.len = p;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      b[--p] = 0x30 + (n - q * 10);
      n = q;
    }
    b[--p] = 0x30 + n;
  }
  /** Exactly `width` decimal digits (zero-padded) of 0 <= n < 10^width. */
  int10pad(n: number, width: number): void {
    this.ensure(width);
    const b = this.buf;
    let p = this.len + width;
    this.len = p;
    for (let i = 0; i < width; i++) {
      const q = Math.floor(n / 10);
      b[--p] = 0x30 + (n - q * 10);
      n = q;
    }
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(src: Buffer): void {
    this.int(src.length);
    this.raw(src);
  }
  raw(src: Buffer): void {
    const n = src.length;
    this.ensure(n);
    if (n < 48) {
      const b = this.buf;
      let p = this.len;
      for (let i = 0; i < n; i++) b[p++] = src[i]!;
      this.len = p;
    } else {
      this.buf.set(src, this.len); // TypedArray#set: a plain memmove, no Buffer#copy wrapper
      this.len += n;
    }
  }
  string(s: string): void {
    // Worst case 3 bytes per UTF-16 unit; write in place after reserving the length slot.
    const max = s.length * 3;
    if (max < 64) {
      this.ensure(1 + max);
      const n = this.buf.write(s, this.len + 1, 'utf8');
      this.buf[this.len] = n * 2; // zigzag of n < 64 fits one byte
      this.len += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varuint(n * 2);
    this.ensure(n);
    this.buf.write(s, this.len, 'utf8');
    this.len += n;
  }
}

export type Encoder = (w: ByteSink, v: unknown, path: string) => void;

function fail(path: string, want: string, v: unknown): never {
  const got = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  throw new AvroEncodeError(`${path}: expected ${want}, got ${got}${typeof v === 'number' || typeof v === 'bigint' ? ` ${v}` : ''}`);
}

interface T {
  typeName: string;
  name?: string;
}

export function compileEncoder(type: Type, cache: Map<Type, Encoder> = new Map()): Encoder {
  const hit = cache.get(type);
  if (hit) return hit;
  let impl: Encoder | undefined;
  cache.set(type, (w, v, p) => impl!(w, v, p));
  impl = build(type, cache);
  cache.set(type, impl);
  return impl;
}

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function build(type: Type, cache: Map<Type, Encoder>): Encoder {
  const tn = (type as unknown as T).typeName;
  switch (tn) {
    case 'null':
      return (_w, v, p) => {
        if (v !== null) fail(p, 'null', v);
      };
    case 'boolean':
      return (w, v, p) => {
        if (typeof v !== 'boolean') fail(p, 'boolean', v);
        w.ensure(1);
        w.buf[w.len++] = v ? 1 : 0;
      };
    case 'int':
      return (w, v, p) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < INT_MIN || v > INT_MAX) fail(p, 'int32', v);
        w.int(v);
      };
    case 'long':
      return (w, v, p) => {
        if (typeof v === 'bigint') {
          if (v < LONG_MIN || v > LONG_MAX) fail(p, 'int64', v);
          w.long(v);
        } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
          w.int(v);
        } else fail(p, 'int64 (bigint)', v);
      };
    case 'float':
      return (w, v, p) => {
        if (typeof v !== 'number') fail(p, 'float', v);
        w.ensure(4);
        w.buf.writeFloatLE(v, w.len);
        w.len += 4;
      };
    case 'double':
      return (w, v, p) => {
        if (typeof v !== 'number') fail(p, 'double', v);
        w.ensure(8);
        w.buf.writeDoubleLE(v, w.len);
        w.len += 8;
      };
    case 'string':
      return (w, v, p) => {
        if (typeof v !== 'string') fail(p, 'string', v);
        w.string(v);
      };
    case 'bytes':
      return (w, v, p) => {
        if (!Buffer.isBuffer(v)) fail(p, 'Buffer', v);
        w.bytes(v);
      };
    case 'fixed': {
      const size = (type as unknown as { size: number }).size;
      const hexRe = new RegExp(`^[0-9a-f]{${size * 2}}$`);
      return (w, v, p) => {
        if (Buffer.isBuffer(v)) {
          if (v.length !== size) fail(p, `${size}-byte Buffer`, v);
          w.raw(v);
        } else if (typeof v === 'string' && hexRe.test(v)) {
          w.ensure(size);
          w.buf.write(v, w.len, 'hex');
          w.len += size;
        } else fail(p, `fixed(${size}) as Buffer or ${size * 2} lowercase hex chars`, v);
      };
    }
    case 'enum': {
      const symbols = (type as unknown as { symbols: string[] }).symbols;
      const idx = new Map(symbols.map((s, i) => [s, i]));
      return (w, v, p) => {
        const i = typeof v === 'string' ? idx.get(v) : undefined;
        if (i === undefined) fail(p, `one of ${symbols.join('|')}`, v);
        w.int(i);
      };
    }
    case 'array': {
      const item = compileEncoder((type as unknown as { itemsType: Type }).itemsType, cache);
      return (w, v, p) => {
        if (!Array.isArray(v)) fail(p, 'array', v);
        if (v.length) {
          w.varuint(v.length * 2);
          for (let i = 0; i < v.length; i++) item(w, v[i], `${p}[${i}]`);
        }
        w.varuint(0);
      };
    }
    case 'map': {
      const val = compileEncoder((type as unknown as { valuesType: Type }).valuesType, cache);
      return (w, v, p) => {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(p, 'map object', v);
        const keys = Object.keys(v);
        if (keys.length) {
          w.varuint(keys.length * 2);
          for (const k of keys) {
            w.string(k);
            val(w, (v as Record<string, unknown>)[k], `${p}.${k}`);
          }
        }
        w.varuint(0);
      };
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const types = (type as unknown as { types: Type[] }).types;
      const nullIdx = types.findIndex((t) => (t as unknown as T).typeName === 'null');
      if (types.length !== 2 || nullIdx < 0) {
        throw new Error('only ["null", X] unions are encoded generically; the SysFlow record union is handled by the writer');
      }
      const otherIdx = 1 - nullIdx;
      const other = compileEncoder(types[otherIdx]!, cache);
      return (w, v, p) => {
        if (v === null || v === undefined) w.varuint(nullIdx * 2);
        else {
          w.varuint(otherIdx * 2);
          other(w, v, p);
        }
      };
    }
    case 'record':
    case 'error': {
      const fields = (type as unknown as { fields: { name: string; type: Type }[] }).fields;
      const rname = (type as unknown as T).name ?? 'record';
      const short = rname.slice(rname.lastIndexOf('.') + 1);
      const names = fields.map((f) => f.name);
      const encs = fields.map((f) => compileEncoder(f.type, cache));
      return (w, v, p) => {
        if (v === null || typeof v !== 'object') fail(p || short, `${short} record`, v);
        const o = v as Record<string, unknown>;
        for (let i = 0; i < names.length; i++) encs[i]!(w, o[names[i]!], `${p || short}.${names[i]}`);
      };
    }
    default:
      throw new Error(`unsupported Avro type ${tn}`);
  }
}
