// Policy stages on SysFlow records (from traces, or live kernel records through the flattener):
// the policy engine (sf-processor's policyengine: alert, enrich, filter, bypass) and --filter, a
// condition in the same language that drops non-matching records. The filter can also sit before
// the flattener, on kernel records: a record stays when one of its SysFlow records matches.
import { PolicyEngine, compileFilterExpression, type EngineMode, type PolicySet } from '../../policy/index.js';
import type { Dialect } from '../../policy/index.js';
import { EntityTable } from '../../sysflow/index.js';
import type { SfRecordView } from '../../sysflow/view.js';
import type { SysFlowRecord } from '../encoders/sysflow.js';
import type { Envelope, Stage } from '../types.js';
import { sysflowObjects } from './kernel-sysflow.js';
import { LIVE_TABLE_FILES, type SysFlowMapping } from './sysflow.js';
import { ENGINE_RECORD_TYPES } from '../sources/sysflow-files.js';

export class PolicyStage implements Stage {
  readonly name: string;
  readonly engine: PolicyEngine;

  constructor(name: string, policy: PolicySet, mode: EngineMode) {
    this.name = name;
    this.engine = new PolicyEngine(policy, mode);
  }

  process(batch: Envelope[]): Envelope[] {
    const out: Envelope[] = [];
    for (let i = 0; i < batch.length; i++) {
      const env = batch[i]!;
      if (env.kind !== 'sysflow' && env.kind !== 'alert') continue; // kernel records: flatten first
      const r = env.rec as SysFlowRecord;
      const rec = this.engine.process(r.view);
      if (rec === null) continue;
      if (rec.alerts.length === 0 && rec.tags.length === 0 && env.kind === 'sysflow') { out.push(env); continue; }
      // several engines may see the same record: each adds to what earlier ones matched
      const alerts = r.alerts.length ? [...r.alerts, ...rec.alerts.filter((a) => !r.alerts.includes(a))] : rec.alerts;
      const tags = r.tags.length ? [...r.tags, ...rec.tags.filter((t) => !r.tags.includes(t))] : rec.tags;
      const next: SysFlowRecord = { view: r.view, alerts, tags, node: r.node };
      out.push({ kind: alerts.length ? 'alert' : 'sysflow', rec: next, id: env.id, enrich: env.enrich });
    }
    return out;
  }
}

export class FilterStage implements Stage {
  readonly name: string;
  private readonly pred: (v: SfRecordView) => boolean;
  private readonly table = new EntityTable(LIVE_TABLE_FILES);
  /** records dropped (counted as drops with reason "filtered") */
  dropped = 0;

  constructor(name: string, expr: string, dialect: Dialect, private readonly mapping: SysFlowMapping) {
    this.name = name;
    this.pred = compileFilterExpression(expr, { dialect });
  }

  private keeps(env: Envelope): boolean {
    if (env.kind === 'sysflow' || env.kind === 'alert') return this.pred((env.rec as SysFlowRecord).view);
    const objs = sysflowObjects(env, this.mapping.mapper);
    let keep = false;
    for (let j = 0; j < objs.length; j++) {
      // every object goes through the table (entities), even after a match
      const v = this.table.push(objs[j]!);
      if (!keep && v !== null && ENGINE_RECORD_TYPES.has(v.type) && this.pred(v)) keep = true;
    }
    return keep;
  }

  process(batch: Envelope[]): Envelope[] {
    const out: Envelope[] = [];
    for (let i = 0; i < batch.length; i++) if (this.keeps(batch[i]!)) out.push(batch[i]!);
    this.dropped += batch.length - out.length;
    return out;
  }
}
