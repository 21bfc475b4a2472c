// Alerts (policy engine matches) → rule.* with event.kind "alert". One document per alerting
// record: rule.* describes the most severe matched rule, falconet.alert.rules names all of them,
// tags carries every matched rule's tags. The triggering SysFlow record gives process.*.
import type { Envelope } from '../../pipeline/types.js';
import type { SfRecordView } from '../../sysflow/view.js';
import { ECS_VERSION, enrichment, eventBase, isoNs, num, type EcsContext, type EcsDoc } from './common.js';

/** The rule facts the encoder needs (a policy loader Rule satisfies it). */
export interface AlertRule {
  readonly name: string;
  readonly desc: string;
  readonly priority: { readonly name: string; readonly level: number };
  readonly tags: readonly string[];
  readonly file?: string;
}

/** An alert envelope's record: the policy engine's EngineRecord satisfies it. */
export interface AlertRecord {
  readonly alerts: readonly AlertRule[];
  readonly view?: SfRecordView;
  readonly tags?: readonly string[];
  /** epoch ns of the matched record when there is no SysFlow view */
  readonly tsNs?: bigint;
}

export function alertDoc(env: Envelope<AlertRecord>, ctx: EcsContext): EcsDoc | null {
  const r = env.rec;
  if (!r.alerts.length) return null;
  const rule = [...r.alerts].sort((a, b) => b.priority.level - a.priority.level)[0]!;
  const h = enrichment(env).host ?? ctx.host;
  const ts = r.view ? r.view.obj.rec.ts : (r.tsNs ?? 0n);
  const doc: EcsDoc = {
    '@timestamp': isoNs(ts),
    ecs: { version: ECS_VERSION },
    agent: { type: 'falconet', name: ctx.agent.name, version: ctx.agent.version, ...(ctx.agent.id ? { id: ctx.agent.id } : {}) },
    host: { name: h.hostName, hostname: h.hostName, ...(h.hostIP ? { ip: [h.hostIP] } : {}), os: { type: 'linux', kernel: h.kernel } },
  };
  const event = eventBase(env, 'alert');
  event['kind'] = 'alert';
  event['category'] = ['intrusion_detection'];
  event['type'] = ['info'];
  event['action'] = 'rule_matched';
  // ECS severity is numeric; sf-processor priorities are 1 (low) .. 3 (high)
  event['severity'] = rule.priority.level;
  doc['event'] = event;
  doc['rule'] = {
    name: rule.name,
    description: rule.desc,
    ...(rule.file ? { ruleset: rule.file } : {}),
    category: rule.priority.name,
  };
  doc['message'] = `${rule.name}: ${rule.desc}`;
  const tags = [...new Set([...(r.tags ?? []), ...r.alerts.flatMap((a) => a.tags)])];
  if (tags.length) doc['tags'] = tags;
  const v = r.view;
  if (v?.proc) {
    const p = v.proc;
    const proc: EcsDoc = {
      pid: num(p.oid.hpid),
      executable: p.exe,
      name: p.exe.slice(p.exe.lastIndexOf('/') + 1),
      start: isoNs(p.oid.createTS),
      args: p.exeArgs ? p.exeArgs.split(' ') : [],
      command_line: p.exeArgs ? `${p.exe} ${p.exeArgs}` : p.exe,
      user: { id: String(p.uid), ...(p.userName ? { name: p.userName } : {}) },
    };
    if (p.cwd) proc['working_directory'] = p.cwd;
    if (v.pproc) proc['parent'] = { pid: num(v.pproc.oid.hpid), executable: v.pproc.exe };
    doc['process'] = proc;
    doc['user'] = { id: String(p.uid), ...(p.userName ? { name: p.userName } : {}) };
  }
  if (v?.file) doc['file'] = { path: v.file.path };
  doc['falconet'] = { alert: { rules: r.alerts.map((a) => a.name), ...(v ? { record_type: v.type } : {}) } };
  return doc;
}
