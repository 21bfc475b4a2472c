// Shared test helpers: where the sample data lives, and an independent avsc-based reader that
// uses none of src/sysflow (the official schema file, avsc's own container decoder).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

/** Repository root (tests run from dist/test/sysflow). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** shared/ sits beside the repository (CI: a fresh clone with shared/ beside it). */
export const SHARED = process.env.FALCONET_SHARED ?? resolve(REPO, '../shared');
export const TRACES = join(SHARED, 'data/sysflow/traces');
export const SCHEMA_FILE = join(SHARED, 'data/sysflow/schema/avsc/SysFlow.avsc');
export const FIXTURES = join(REPO, 'test/sysflow/fixtures');

if (!existsSync(TRACES)) throw new Error(`sample traces not found at ${TRACES} (set FALCONET_SHARED)`);

/** Every sample trace, as paths relative to TRACES, sorted. */
export function sampleTraces(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n !== 'ORIGIN.txt') out.push(relative(TRACES, p));
    }
  };
  walk(TRACES);
  return out.sort();
}

export const tracePath = (rel: string): string => join(TRACES, rel);

/** avsc long type with exact BigInt values (ns timestamps exceed 2^53). */
const BigLong = avro.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(n);
    return b;
  },
  fromJSON: (x: unknown) => BigInt(x as string),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

function bigLongHook(schema: unknown): avro.Type | undefined {
  if (schema && typeof schema === 'object' && (schema as { type?: unknown }).type === 'long') return BigLong as unknown as avro.Type;
  return undefined;
}

/** Parse a schema the independent way: avsc with BigInt longs (string and object forms). */
export function avscType(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigLong as unknown as avro.Type }, typeHook: bigLongHook as never });
}

/** The official v5 schema file, parsed by avsc. */
export function officialV5Type(): avro.Type {
  return avscType(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
}

/**
 * Decode an Avro container with avsc's BlockDecoder (its own header/block/codec handling).
 * `readerType` given: the file is read with that schema (resolution); else with the writer's.
 * Returns the raw avsc values of the top-level records.
 */
export function avscDecodeContainer(buf: Buffer, readerType?: avro.Type): Promise<{ schema: unknown; records: Record<string, unknown>[] }> {
  return new Promise((res, rej) => {
    const records: Record<string, unknown>[] = [];
    let schema: unknown = null;
    const dec = new avro.streams.BlockDecoder({
      parseHook: (s: unknown) => {
        schema = s;
        return readerType ?? avscType(s);
      },
    } as never);
    dec.on('data', (r: Record<string, unknown>) => records.push(r));
    dec.on('end', () => res({ schema, records }));
    dec.on('error', rej);
    dec.end(buf);
  });
}

/** Plain-JSON form of an avsc value: Buffers as hex, class instances as plain objects. */
export function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}
