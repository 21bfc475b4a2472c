// SysFlow trace reader: Avro object container files (OCF) with any SysFlow writer schema,
// codecs null and deflate. Records are yielded as typed SfObjects (types.ts) in file order.
//
// API (synchronous generators, so a consumer can stop early and memory stays bounded: the file
// is read block by block):
//   readSysFlowFile(path)            Generator<SfObject>
//   readSysFlowBuffer(buf, source?)  Generator<SfObject>
//   openSysFlow(path | Buffer)       SysFlowFileReader: header metadata + iterator
// Errors: SysFlowReadError with the file byte offset; every record before the failure point has
// already been yielded (so `for..of` + catch gives "the records before it").
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import avro from 'avsc';
import type { Type } from 'avsc';
import { AvroDecodeError, Cursor, compileDecoder, readFramingLong } from './avro-decode.js';
import type { Decoder } from './avro-decode.js';
import { normalizerFor, shortTypeForName } from './normalize.js';
import type { Normalizer } from './normalize.js';
import type { SfObject, SfRecordType } from './types.js';
import { SYSFLOW_V5_SCHEMA_JSON } from './schema-v5.js';

export class SysFlowReadError extends Error {
  constructor(
    readonly source: string,
    /** Byte offset in the file where the problem was detected. */
    readonly offset: number,
    readonly detail: string,
    /** Records successfully decoded (and yielded) before the error. */
    readonly recordsRead: number,
  ) {
    super(`${source}: ${detail} (file offset ${offset}, after ${recordsRead} records)`);
    this.name = 'SysFlowReadError';
  }
}

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj\x01"

/** Random-access byte source: a file descriptor or an in-memory buffer. */
interface ByteSource {
  readonly size: number;
  read(pos: number, len: number): Buffer;
  close(): void;
}

function bufferSource(buf: Buffer): ByteSource {
  return { size: buf.length, read: (pos, len) => buf.subarray(pos, Math.min(buf.length, pos + len)), close() {} };
}

function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return {
    size,
    read(pos, len) {
      const n = Math.max(0, Math.min(len, size - pos));
      const b = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, b, got, n - got, pos + got);
        if (r === 0) break;
        got += r;
      }
      return got === n ? b : b.subarray(0, got);
    },
    close: () => closeSync(fd),
  };
}

interface Branch {
  type: SfRecordType | null;
  name: string;
  decode: Decoder;
  normalize: Normalizer | null;
}

/** Compiled per-writer-schema decoding plan, cached by schema text. */
export interface SchemaPlan {
  readonly schemaJson: string;
  readonly branchNames: readonly string[];
  /** Writer field names per record type (to tell defaults from real values in old traces). */
  readonly writerFields: Readonly<Partial<Record<SfRecordType, readonly string[]>>>;
  decodeRecord(c: Cursor): SfObject;
}

const planCache = new Map<string, SchemaPlan>();

/** Compile (or fetch) the decoding plan for a writer schema given as JSON text. */
export function planForSchema(schemaJson: string): SchemaPlan {
  const cached = planCache.get(schemaJson);
  if (cached) return cached;
  const schema: unknown = JSON.parse(schemaJson);
  const top = avro.Type.forSchema(schema as avro.Schema) as unknown as {
    typeName: string;
    fields?: { name: string; type: Type }[];
    types?: Type[];
  };
  let unionTypes: Type[];
  if (top.typeName === 'record' && top.fields?.length === 1 && top.fields[0]!.type.typeName.startsWith('union')) {
    unionTypes = (top.fields[0]!.type as unknown as { types: Type[] }).types;
  } else if (top.typeName.startsWith('union')) {
    unionTypes = top.types!;
  } else {
    throw new Error('writer schema is not a SysFlow schema (expected record {rec: union})');
  }
  const cache = new Map<Type, Decoder>();
  const branches: Branch[] = unionTypes.map((t) => {
    const name = (t as unknown as { name?: string }).name ?? t.typeName;
    const st = shortTypeForName(name);
    const fields = ((t as unknown as { fields?: { name: string }[] }).fields ?? []).map((f) => f.name);
    let normalize: Normalizer | null = st ? normalizerFor(st, fields) : null;
    // A branch identical to v5's (same names, fields and types; logicalType tags ignored)
    // decodes straight into the model's shape: skip the copying normaliser.
    if (st !== null && v5Canonical().get(name) === canonical(t)) normalize = identityNormalizer(st);
    return { type: st, name, decode: compileDecoder(t, cache), normalize };
  });
  const writerFields: Partial<Record<SfRecordType, readonly string[]>> = {};
  unionTypes.forEach((t, i) => {
    const st = branches[i]!.type;
    if (st) writerFields[st] = ((t as unknown as { fields?: { name: string }[] }).fields ?? []).map((f) => f.name);
  });
  const plan: SchemaPlan = {
    schemaJson,
    branchNames: branches.map((b) => b.name),
    writerFields,
    decodeRecord(c: Cursor): SfObject {
      const start = c.pos;
      const i = readUnionIndex(c);
      const br = branches[i];
      if (br === undefined) {
        throw new AvroDecodeError(`record union branch ${i} out of range (${branches.length} branches) at offset ${start}`, start);
      }
      const raw = br.decode(c) as Record<string, unknown>;
      if (br.normalize === null) throw new AvroDecodeError(`unknown SysFlow record type ${br.name}`, start);
      return br.normalize(raw);
    },
  };
  planCache.set(schemaJson, plan);
  return plan;
}

function canonical(t: Type): string {
  return JSON.stringify(t.schema({ exportAttrs: false }));
}

let v5Canon: Map<string, string> | null = null;
/** Canonical schema text of each v5 branch, by full name. */
function v5Canonical(): Map<string, string> {
  if (v5Canon) return v5Canon;
  const top = avro.Type.forSchema(JSON.parse(SYSFLOW_V5_SCHEMA_JSON) as avro.Schema) as unknown as { fields: { type: { types: Type[] } }[] };
  v5Canon = new Map(top.fields[0]!.type.types.map((t) => [(t as unknown as { name: string }).name, canonical(t)]));
  return v5Canon;
}

function identityNormalizer(type: SfRecordType): Normalizer {
  // The decoder builds plain objects with v5 field names, FOIDs as hex, OIDs as {createTS,
  // hpid}, enums as symbols, optional unions unwrapped: exactly the model types.
  return (raw) => ({ type, rec: raw }) as unknown as SfObject;
}

function readUnionIndex(c: Cursor): number {
  const b = c.buf[c.pos];
  if (b === undefined || c.pos >= c.end) throw new AvroDecodeError(`unexpected end of data reading union index at offset ${c.pos}`, c.pos);
  if (b < 0x80) {
    c.pos++;
    return b & 1 ? -1 : b >> 1;
  }
  throw new AvroDecodeError(`union index varint too long at offset ${c.pos}`, c.pos);
}

export interface SysFlowFileInfo {
  source: string;
  codec: 'null' | 'deflate';
  schemaJson: string;
  /** Union branch full names of the writer schema, in union order. */
  branchNames: readonly string[];
  /** Writer field names per record type. */
  writerFields: Readonly<Partial<Record<SfRecordType, readonly string[]>>>;
  /** Other metadata keys (raw bytes). */
  meta: Record<string, Buffer>;
  /** File offset of the first data block. */
  dataOffset: number;
  sync: Buffer;
}

/** Parse the OCF header. Throws SysFlowReadError with the offset on any problem. */
function readHeader(src: ByteSource, source: string): SysFlowFileInfo {
  if (src.size < 4) throw new SysFlowReadError(source, 0, `file too short for an Avro container (${src.size} bytes)`, 0);
  const magic = src.read(0, 4);
  if (!magic.equals(MAGIC)) throw new SysFlowReadError(source, 0, 'not an Avro object container file (bad magic)', 0);
  // The header holds the schema (~6 kB for v5); grow the window until it parses.
  let window = 65536;
  for (;;) {
    const buf = src.read(0, window);
    const c = new Cursor(buf, 4);
    try {
      const meta: Record<string, Buffer> = {};
      for (;;) {
        const blockStart = c.pos;
        let n = Number(readFramingSigned(c, 'metadata count'));
        if (n === 0) break;
        if (n < 0) {
          n = -n;
          readFramingLong(c, 'metadata block size');
        }
        if (n > 1000) throw new AvroDecodeError(`implausible metadata count ${n} at offset ${blockStart}`, blockStart);
        for (let i = 0; i < n; i++) {
          const k = readBytes(c, 'metadata key').toString('utf8');
          meta[k] = readBytes(c, 'metadata value');
        }
      }
      if (c.remaining < 16) throw new AvroDecodeError(`unexpected end of data reading sync marker at offset ${c.pos}`, c.pos);
      const sync = Buffer.from(buf.subarray(c.pos, c.pos + 16));
      c.pos += 16;
      const codecName = meta['avro.codec']?.toString('utf8') ?? 'null';
      if (codecName !== 'null' && codecName !== 'deflate') {
        throw new SysFlowReadError(source, 4, `unsupported Avro codec "${codecName}" (supported: null, deflate)`, 0);
      }
      const schemaBuf = meta['avro.schema'];
      if (!schemaBuf) throw new SysFlowReadError(source, 4, 'Avro header has no avro.schema', 0);
      const schemaJson = schemaBuf.toString('utf8');
      let plan: SchemaPlan;
      try {
        plan = planForSchema(schemaJson);
      } catch (e) {
        throw new SysFlowReadError(source, 4, `invalid writer schema: ${(e as Error).message}`, 0);
      }
      const rest: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(meta)) if (k !== 'avro.codec' && k !== 'avro.schema') rest[k] = v;
      return {
        source,
        codec: codecName,
        schemaJson,
        branchNames: plan.branchNames,
        writerFields: plan.writerFields,
        meta: rest,
        dataOffset: c.pos,
        sync,
      };
    } catch (e) {
      if (e instanceof AvroDecodeError) {
        if (buf.length === window && window < src.size) {
          window *= 4;
          continue;
        }
        throw new SysFlowReadError(source, e.pos, `corrupt Avro header: ${e.message}`, 0);
      }
      throw e;
    }
  }
}

function readFramingSigned(c: Cursor, what: string): number {
  // Metadata counts may be negative (block form); reuse the bounded long reader.
  const start = c.pos;
  const b = c.buf[c.pos];
  if (b === undefined || c.pos >= c.end) throw new AvroDecodeError(`unexpected end of data reading ${what} at offset ${start}`, start);
  let n = 0;
  let shift = 0;
  let x: number;
  let pos = c.pos;
  do {
    if (pos >= c.end) throw new AvroDecodeError(`unexpected end of data reading ${what} at offset ${start}`, start);
    if (shift > 49) throw new AvroDecodeError(`invalid ${what} at offset ${start}`, start);
    x = c.buf[pos++]!;
    n += (x & 0x7f) * 2 ** shift;
    shift += 7;
  } while (x & 0x80);
  c.pos = pos;
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

function readBytes(c: Cursor, what: string): Buffer {
  const start = c.pos;
  const n = readFramingLong(c, `${what} length`);
  if (n > c.remaining) throw new AvroDecodeError(`${what} length ${n} exceeds remaining data at offset ${start}`, start);
  const b = c.buf.subarray(c.pos, c.pos + n);
  c.pos += n;
  return b;
}

/** An opened trace: header information plus a one-shot record iterator. */
export interface SysFlowFileReader extends Iterable<SfObject> {
  readonly info: SysFlowFileInfo;
  /** Records yielded so far. */
  readonly recordsRead: number;
  close(): void;
}

/** Open a trace file (path) or an in-memory trace (Buffer). The header is parsed eagerly. */
export function openSysFlow(input: string | Buffer, sourceName?: string): SysFlowFileReader {
  const source = sourceName ?? (typeof input === 'string' ? input : '<buffer>');
  const src = typeof input === 'string' ? fileSource(input) : bufferSource(input);
  let info: SysFlowFileInfo;
  try {
    info = readHeader(src, source);
  } catch (e) {
    src.close();
    throw e;
  }
  const plan = planForSchema(info.schemaJson);
  let count = 0;
  let started = false;
  let closed = false;
  const close = (): void => {
    if (!closed) {
      closed = true;
      src.close();
    }
  };
  function* iterate(): Generator<SfObject> {
    try {
      let pos = info.dataOffset;
      while (pos < src.size) {
        const blockStart = pos;
        // Block framing: count (long), size (long), data, 16-byte sync.
        const head = src.read(pos, 20);
        const hc = new Cursor(head);
        let n: number;
        let size: number;
        try {
          n = readFramingLong(hc, 'block record count');
          size = readFramingLong(hc, 'block byte size');
        } catch (e) {
          if (e instanceof AvroDecodeError) {
            throw new SysFlowReadError(source, blockStart + e.pos, `corrupt block header: ${e.message.replace(/ at offset \d+$/, '')}`, count);
          }
          throw e;
        }
        const dataStart = pos + hc.pos;
        if (dataStart + size + 16 > src.size) {
          throw new SysFlowReadError(
            source,
            blockStart,
            `truncated block: header says ${n} records in ${size} bytes but only ${Math.max(0, src.size - dataStart)} bytes remain (need ${size + 16} with sync marker)`,
            count,
          );
        }
        const raw = src.read(dataStart, size);
        const sync = src.read(dataStart + size, 16);
        if (!sync.equals(info.sync)) {
          throw new SysFlowReadError(source, dataStart + size, 'sync marker mismatch after block (corrupt block size or data)', count);
        }
        let data: Buffer;
        if (info.codec === 'deflate') {
          try {
            data = inflateRawSync(raw);
          } catch (e) {
            throw new SysFlowReadError(source, dataStart, `deflate block does not decompress: ${(e as Error).message}`, count);
          }
        } else {
          data = raw;
        }
        if (n > data.length) {
          throw new SysFlowReadError(source, blockStart, `block claims ${n} records in ${data.length} bytes`, count);
        }
        const c = new Cursor(data);
        for (let i = 0; i < n; i++) {
          const recStart = c.pos;
          let obj: SfObject;
          try {
            obj = plan.decodeRecord(c);
          } catch (e) {
            if (e instanceof AvroDecodeError) {
              const where = info.codec === 'deflate' ? dataStart : dataStart + e.pos;
              throw new SysFlowReadError(
                source,
                where,
                `record ${i} of block at offset ${blockStart} does not decode (${info.codec === 'deflate' ? 'decompressed ' : ''}offset ${recStart}): ${e.message}`,
                count,
              );
            }
            throw e;
          }
          count++;
          yield obj;
        }
        if (c.pos !== data.length) {
          throw new SysFlowReadError(source, dataStart, `block has ${data.length - c.pos} bytes after its ${n} records`, count);
        }
        pos = dataStart + size + 16;
      }
    } finally {
      close();
    }
  }
  return {
    info,
    get recordsRead() {
      return count;
    },
    close,
    [Symbol.iterator]() {
      if (started) throw new Error(`${source}: reader already iterated`);
      started = true;
      return iterate();
    },
  };
}

/** All records of a trace file, in order. */
export function* readSysFlowFile(path: string): Generator<SfObject> {
  yield* openSysFlow(path);
}

/** All records of an in-memory trace (e.g. stdin), in order. */
export function* readSysFlowBuffer(buf: Buffer, source = '<buffer>'): Generator<SfObject> {
  yield* openSysFlow(buf, source);
}

/** Convenience: every record that decodes, plus the error that stopped reading (if any). */
export function readSysFlowFilePartial(input: string | Buffer): { objects: SfObject[]; error: SysFlowReadError | null } {
  const objects: SfObject[] = [];
  try {
    for (const o of openSysFlow(input)) objects.push(o);
    return { objects, error: null };
  } catch (e) {
    if (e instanceof SysFlowReadError) return { objects, error: e };
    throw e;
  }
}
