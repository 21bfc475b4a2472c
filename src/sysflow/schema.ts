// The v5 schema as avsc Types, and the record-level codec built on it: one SysFlow datum is the
// `rec` union index (v5 branch order, types.ts SF_V5_BRANCHES) followed by the branch record.
// This is the unit of an OCF block and of one socket message.
import avro from 'avsc';
import type { Type } from 'avsc';
import { ByteSink, compileEncoder } from './avro-encode.js';
import type { Encoder } from './avro-encode.js';
import { Cursor } from './avro-decode.js';
import { planForSchema } from './reader.js';
import { SYSFLOW_V5_SCHEMA_JSON } from './schema-v5.js';
import { SF_V5_BRANCHES } from './types.js';
import type { SfObject, SfRecordType } from './types.js';

export { SYSFLOW_V5_SCHEMA_JSON };

let v5: { type: Type; branchEncoders: Map<SfRecordType, { index: number; enc: Encoder }> } | null = null;

function v5Codec(): NonNullable<typeof v5> {
  if (v5) return v5;
  const type = avro.Type.forSchema(JSON.parse(SYSFLOW_V5_SCHEMA_JSON) as avro.Schema);
  const union = (type as unknown as { fields: { type: Type }[] }).fields[0]!.type as unknown as { types: Type[] };
  const cache = new Map<Type, Encoder>();
  const branchEncoders = new Map<SfRecordType, { index: number; enc: Encoder }>();
  union.types.forEach((t, index) => {
    const name = (t as unknown as { name: string }).name;
    const entry = SF_V5_BRANCHES[index];
    if (!entry || entry[1] !== name) throw new Error(`v5 schema branch ${index} is ${name}, expected ${entry?.[1]}`);
    branchEncoders.set(entry[0], { index, enc: compileEncoder(t, cache) });
  });
  v5 = { type, branchEncoders };
  return v5;
}

/** The avsc Type of the v5 top-level record (for tools; encoding does not use avsc). */
export function sysflowV5Type(): Type {
  return v5Codec().type;
}

/** Append one SysFlow datum (union index + record) for `obj` to `w`. Throws on invalid values. */
export function encodeSfObjectInto(w: ByteSink, obj: SfObject): void {
  const b = v5Codec().branchEncoders.get(obj.type);
  if (!b) throw new Error(`unknown SysFlow record type ${String(obj.type)}`);
  const start = w.len;
  try {
    w.varuint(b.index * 2);
    b.enc(w, obj.rec, '');
  } catch (e) {
    w.len = start; // leave no partial record behind
    throw e;
  }
}

/** One SysFlow datum as a standalone Buffer (what the socket output sends per message). */
export function encodeSfObject(obj: SfObject): Buffer {
  const w = new ByteSink(256);
  encodeSfObjectInto(w, obj);
  return w.take();
}

/** Decode one standalone v5 datum (a socket message) back into an SfObject. */
export function decodeSfDatum(buf: Buffer): SfObject {
  const c = new Cursor(buf);
  const obj = planForSchema(SYSFLOW_V5_SCHEMA_JSON).decodeRecord(c);
  if (c.pos !== buf.length) throw new Error(`SysFlow datum has ${buf.length - c.pos} trailing bytes`);
  return obj;
}
