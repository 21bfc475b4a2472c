// SysFlow records and alerts as Encoders: sf-processor's exporter JSON (`sysflow-json`, with the
// matched policies and tags) and Falco's alert JSON (`falco`, one line per matched alert rule).
import { toFalcoJson, toSysFlowJson, type EngineRecord } from '../../policy/index.js';
import type { SfRecordView } from '../../sysflow/view.js';
import { encodeSfObject } from '../../sysflow/schema.js';
import type { Encoder, Envelope } from '../types.js';

/** A SysFlow record in the runtime: its view and, after a policy engine, what it matched. */
export interface SysFlowRecord extends EngineRecord {
  /** host name for Falco's `hostname` (the trace's exporter, or the live host) */
  readonly node: string;
}

export function asSysFlow(env: Envelope): SysFlowRecord | null {
  return env.kind === 'sysflow' || env.kind === 'alert' ? (env.rec as SysFlowRecord) : null;
}

export function sysflowView(env: Envelope): SfRecordView | null {
  return asSysFlow(env)?.view ?? null;
}

export const sysflowJsonEncoder: Encoder = {
  name: 'sysflow-json',
  encode(env) {
    const r = asSysFlow(env);
    return r ? toSysFlowJson(r) : null;
  },
};

export const falcoEncoder: Encoder = {
  name: 'falco',
  encode(env) {
    const r = asSysFlow(env);
    if (!r || r.alerts.length === 0) return null;
    let s = '';
    for (const rule of r.alerts) s += (s ? '\n' : '') + toFalcoJson(r.view, rule, r.node);
    return s;
  },
};

/**
 * One SysFlow Avro datum (schema v5 union) per SysFlow record: the event or flow itself, without
 * the entities it references, for message sinks feeding a consumer that keeps its own entity
 * tables. Self-contained trace files come from the sysflowwriter stage (-w).
 */
export const sysflowAvroEncoder: Encoder = {
  name: 'sysflow-avro',
  encode(env) {
    const r = asSysFlow(env);
    return r ? encodeSfObject(r.view.obj) : null;
  },
};
