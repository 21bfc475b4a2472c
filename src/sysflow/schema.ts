// The v5 schema as avsc Types, and the record-level codec built on it: one SysFlow datum is the
// `rec` union index (v5 branch order, types.ts SF_V5_BRANCHES) followed by the branch record.
// This is the unit of an OCF block and of one socket message. Prototype layouts (P4, P7, P8) can
// be written too, for tests and tools that need traces in those schemas.
import { isDeepStrictEqual } from 'node:util';
import avro from 'avsc';
import type { Type } from 'avsc';
import { ByteSink, compileEncoder } from './avro-encode.js';
import type { Encoder } from './avro-encode.js';
import { Cursor } from './avro-decode.js';
import { planForSchema } from './reader.js';
import { EVENT_TYPE_OPFLAG, normalizerFor, shortTypeForName } from './normalize.js';
import type { Normalizer } from './normalize.js';
import { SYSFLOW_P4_SCHEMA_JSON, SYSFLOW_P7_SCHEMA_JSON, SYSFLOW_P8_SCHEMA_JSON } from './schema-prototypes.js';
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

/** A writer schema the writer can produce: v5 (the default), or a prototype's (schema-prototypes.ts). */
export type SysFlowLayout = 'v5' | 'P4' | 'P7' | 'P8';
export const SYSFLOW_LAYOUTS: readonly SysFlowLayout[] = ['v5', 'P4', 'P7', 'P8'];

/** Encodes model objects (types.ts) as the datums of one writer layout. */
export interface LayoutCodec {
  readonly layout: SysFlowLayout;
  /** Writer schema text for the container header. */
  readonly schemaJson: string;
  /** Append one datum for `obj`; throws (writing nothing) when the layout cannot carry it exactly. */
  encodeInto(w: ByteSink, obj: SfObject): void;
}

const layoutCodecs = new Map<SysFlowLayout, LayoutCodec>();

/** The codec for `layout` (compiled once). */
export function layoutCodec(layout: SysFlowLayout): LayoutCodec {
  const hit = layoutCodecs.get(layout);
  if (hit) return hit;
  let codec: LayoutCodec;
  if (layout === 'v5') codec = { layout, schemaJson: SYSFLOW_V5_SCHEMA_JSON, encodeInto: encodeSfObjectInto };
  else {
    const json = { P4: SYSFLOW_P4_SCHEMA_JSON, P7: SYSFLOW_P7_SCHEMA_JSON, P8: SYSFLOW_P8_SCHEMA_JSON }[layout];
    if (json === undefined) throw new Error(`unknown SysFlow layout ${String(layout)} (expected ${SYSFLOW_LAYOUTS.join(', ')})`);
    codec = prototypeCodec(layout, json);
  }
  layoutCodecs.set(layout, codec);
  return codec;
}

interface LayoutBranch {
  index: number;
  name: string;
  fields: readonly string[];
  enc: Encoder;
  normalize: Normalizer;
}

/**
 * A prototype layout: each model record goes to the branch the reader maps back to its type,
 * with the layout's own field names (Process `type` = state; a ProcessFlow with an EventType
 * `type` = the op flag CLONE, EXEC or EXIT). Fields the layout has no place for are dropped,
 * but only when the reader gives back the same value: every record is checked by normalising
 * its raw form, so what this writes reads back exactly or is refused with the reason.
 */
function prototypeCodec(layout: SysFlowLayout, schemaJson: string): LayoutCodec {
  const type = avro.Type.forSchema(JSON.parse(schemaJson) as avro.Schema);
  const union = (type as unknown as { fields: { type: Type }[] }).fields[0]!.type as unknown as { types: Type[] };
  const cache = new Map<Type, Encoder>();
  const byType = new Map<SfRecordType, LayoutBranch>();
  union.types.forEach((t, index) => {
    const name = (t as unknown as { name: string }).name;
    const fields = (t as unknown as { fields: { name: string }[] }).fields.map((f) => f.name);
    const st = shortTypeForName(name);
    if (st === null) return;
    // A ProcessFlow with ProcessEvent's layout is a PE (normalizerFor makes the same choice).
    const target: SfRecordType = st === 'PF' && fields.includes('args') && !fields.includes('numThreadsCloned') ? 'PE' : st;
    const short = name.slice(name.lastIndexOf('.') + 1);
    byType.set(target, { index, name: short, fields, enc: compileEncoder(t, cache), normalize: normalizerFor(st, fields) });
  });
  const toRaw = (b: LayoutBranch, obj: SfObject): Record<string, unknown> => {
    const rec = obj.rec as unknown as Record<string, unknown>;
    const raw: Record<string, unknown> = {};
    for (const f of b.fields) {
      if (f === 'type' && obj.type === 'P') raw[f] = rec.state;
      else if (f === 'type' && obj.type === 'PE' && !b.fields.includes('opFlags')) {
        const op = rec.opFlags as number;
        const sym = (Object.keys(EVENT_TYPE_OPFLAG) as (keyof typeof EVENT_TYPE_OPFLAG)[]).find((k) => EVENT_TYPE_OPFLAG[k] === op);
        if (sym === undefined) throw new Error(`layout ${layout}: ${b.name}.type holds CLONE, EXEC or EXIT only; opFlags ${op} has no EventType`);
        raw[f] = sym;
      } else raw[f] = rec[f];
    }
    return raw;
  };
  return {
    layout,
    schemaJson,
    encodeInto(w: ByteSink, obj: SfObject): void {
      const b = byType.get(obj.type);
      if (!b) throw new Error(`layout ${layout} has no record for SysFlow type ${String(obj.type)}`);
      const raw = toRaw(b, obj);
      const back = b.normalize(raw).rec as unknown as Record<string, unknown>;
      const rec = obj.rec as unknown as Record<string, unknown>;
      for (const k of Object.keys(rec)) {
        if (!isDeepStrictEqual(back[k], rec[k])) {
          throw new Error(`layout ${layout}: ${b.name} cannot hold ${obj.type}.${k} = ${String(rec[k])} (it would read back as ${String(back[k])})`);
        }
      }
      const start = w.len;
      try {
        w.varuint(b.index * 2);
        b.enc(w, raw, '');
      } catch (e) {
        w.len = start;
        throw e;
      }
    },
  };
}
