// SysFlow trace files as a Source (sf-processor's file driver + sysflowreader/flattener): each
// event or flow record becomes a `sysflow` envelope holding its view; entities only update the
// table the views are joined against. Directories are read in name order, as sf-processor does.
import { readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EntityTable, openSysFlow } from '../../sysflow/index.js';
import type { SysFlowRecord } from '../encoders/sysflow.js';
import type { Envelope, Source, SourceEvent } from '../types.js';

/** The record types sf-processor's flattener hands to the policy engine. */
export const ENGINE_RECORD_TYPES: ReadonlySet<string> = new Set(['PE', 'FF', 'FE', 'NF', 'KE']);

export class TraceInputError extends Error {
  override readonly name = 'TraceInputError';
}

export function expandTraces(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new TraceInputError(`cannot read trace ${p}: ${(e as Error).message}`);
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) {
        const q = join(p, e);
        if (statSync(q).isFile()) out.push(q);
      }
    } else out.push(p);
  }
  return out;
}

const NONE: readonly never[] = Object.freeze([]);

export function sysflowFileSource(paths: readonly string[], batchSize = 256): Source<SysFlowRecord> {
  let stopped = false;
  const files = expandTraces(paths);
  const host = hostname();
  async function* run(): AsyncGenerator<SourceEvent<SysFlowRecord>> {
    let seq = 0n;
    for (const trace of files) {
      if (stopped) break;
      const reader = openSysFlow(trace);
      const table = new EntityTable();
      let batch: Envelope<SysFlowRecord>[] = [];
      try {
        for (const obj of reader) {
          if (stopped) break;
          const v = table.push(obj);
          if (v === null || !ENGINE_RECORD_TYPES.has(v.type)) continue;
          seq++;
          const node = v.header?.exporter || host;
          batch.push({ kind: 'sysflow', rec: { view: v, alerts: NONE, tags: NONE, node }, id: { host: node, boot: trace, seq } });
          if (batch.length >= batchSize) { yield { kind: 'records', records: batch }; batch = []; }
        }
      } finally {
        reader.close();
      }
      if (batch.length) yield { kind: 'records', records: batch };
    }
    yield { kind: 'end' };
  }
  return { name: 'sysflow-files', [Symbol.asyncIterator]: run, stop: () => { stopped = true; } };
}
