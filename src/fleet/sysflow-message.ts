// The fleet's wire format for central processing (`format=sysflow-msg`): one message = one
// SysFlow event or flow together with every entity its policy fields read, as SysFlow v5 Avro
// datums back to back: [header] [container] [pod] [ancestors, root first] [process] [file]
// [new file] event. Processors split the stream between them, so no processor can keep entity
// tables across messages: each message must be self-contained. Decoding pushes the datums into
// a fresh EntityTable, which gives the same SfRecordView (sf.* fields) the sender evaluated.
import { Cursor } from '../sysflow/avro-decode.js';
import { ByteSink } from '../sysflow/avro-encode.js';
import { EntityTable } from '../sysflow/entities.js';
import { planForSchema } from '../sysflow/reader.js';
import { encodeSfObjectInto, SYSFLOW_V5_SCHEMA_JSON } from '../sysflow/schema.js';
import type { SfObject } from '../sysflow/types.js';
import type { SfRecordView } from '../sysflow/view.js';
import type { SysFlowRecord } from '../pipeline/encoders/sysflow.js';
import type { Encoder, Envelope, RecordKind } from '../pipeline/types.js';

export const SYSFLOW_MSG_FORMAT = 'sysflow-msg';

/** Entities bound into one message at most (a deeper ancestry is cut, nearest kept). */
const MAX_ANCESTORS = 64;

export class FleetMessageError extends Error {
  override readonly name = 'FleetMessageError';
}

/** The objects of one message, in the order a reader must see them. */
export function messageObjects(v: SfRecordView): SfObject[] {
  const out: SfObject[] = [];
  if (v.header) out.push({ type: 'H', rec: v.header });
  if (v.container) out.push({ type: 'C', rec: v.container });
  if (v.pod) out.push({ type: 'POD', rec: v.pod });
  const anc = v.ancestors().slice(0, MAX_ANCESTORS);
  for (let i = anc.length - 1; i >= 0; i--) out.push({ type: 'P', rec: anc[i]! });
  // the parent without its own ancestors (the table lacked them) still goes along
  if (v.pproc && !anc.includes(v.pproc)) out.push({ type: 'P', rec: v.pproc });
  if (v.proc) out.push({ type: 'P', rec: v.proc });
  if (v.file) out.push({ type: 'F', rec: v.file });
  if (v.newFile) out.push({ type: 'F', rec: v.newFile });
  out.push(v.obj);
  return out;
}

export function encodeSysFlowMessage(v: SfRecordView): Buffer {
  const w = new ByteSink(1024);
  for (const o of messageObjects(v)) encodeSfObjectInto(w, o);
  return w.take();
}

/** Message bytes → the view its policy fields resolve against. Bad bytes throw FleetMessageError. */
export function decodeSysFlowMessage(data: Uint8Array): SfRecordView {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const plan = planForSchema(SYSFLOW_V5_SCHEMA_JSON);
  const c = new Cursor(buf);
  const table = new EntityTable();
  let view: SfRecordView | null = null;
  let n = 0;
  while (c.pos < buf.length) {
    if (view) throw new FleetMessageError(`SysFlow message: ${buf.length - c.pos} bytes after its event (object #${n})`);
    let obj: SfObject;
    try {
      obj = plan.decodeRecord(c);
    } catch (e) {
      throw new FleetMessageError(`SysFlow message: object #${n + 1} at byte ${c.pos}: ${(e as Error).message}`);
    }
    if (c.pos > buf.length) throw new FleetMessageError(`SysFlow message: object #${n + 1} runs past the end`);
    n++;
    view = table.push(obj);
  }
  if (!view) throw new FleetMessageError(n === 0 ? 'SysFlow message is empty' : `SysFlow message holds ${n} entities and no event or flow`);
  return view;
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * A FleetDecode for the NATS/Kafka sources: each message becomes a `sysflow` record (alerts a
 * sender attached are not carried; the processor's own policies decide). `node` is the header's
 * exporter, else the record id's host.
 */
export function decodeFleetSysFlow(data: Uint8Array, _kind: RecordKind, host?: string): SysFlowRecord {
  const view = decodeSysFlowMessage(data);
  return { view, alerts: NONE, tags: NONE, node: view.header?.exporter || host || '' };
}

/** `format=sysflow-msg`: SysFlow records (and alerts) as self-contained messages; other kinds are skipped. */
export const sysflowMessageEncoder: Encoder = {
  name: SYSFLOW_MSG_FORMAT,
  encode(env: Envelope) {
    if (env.kind !== 'sysflow' && env.kind !== 'alert') return null;
    return encodeSysFlowMessage((env.rec as SysFlowRecord).view);
  },
};
