// Builds the runtime's node tree from a pipeline configuration: each plugin becomes a Stage or an
// Output by its `processor` name. Built-ins: sysflowreader (flattener), enrich, filter,
// policyengine, exporter, sysflowwriter. Any other name is a custom stage loaded from the plugin
// directory (--plugdir): `<dir>/<name>.js` or `.mjs` exporting a Stage factory (see docs/pipeline.md).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Writable } from 'node:stream';
import type { RuntimeCounters } from '../metrics/counters.js';
import { PipelineConfigError, type PipelineConfig, type PluginConfig } from './config.js';
import type { DeliveryPort } from './delivery-port.js';
import { kflowdEncoder } from './encoders/kflowd.js';
import { falcoEncoder, sysflowAvroEncoder, sysflowJsonEncoder } from './encoders/sysflow.js';
import { sysflowMessageEncoder } from '../fleet/sysflow-message.js';
import { loadEngine, parseDialect, type PolicyOverrides } from './policy-loading.js';
import type { Node, OutputNode, StageNode } from './runtime.js';
import { loadSinkSchemes, openExportFile, openSinkUrl, openTerminal, type OpenedSink } from './sink-factory.js';
import { EnrichStage } from './stages/enrich.js';
import { hostname, release } from 'node:os';
import { EcsEncoder } from '../format/ecs/encoder.js';
import { agentVersion } from '../enrich/host.js';
import { enrichmentStages, StageChain } from '../enrich/stages.js';
import { FilterStage, PolicyStage } from './stages/policy.js';
import { FlattenerStage, parseSocketBuffer, SOCKET_BUFFER_EXPECTED, TraceWriterStage, type SysFlowMapping } from './stages/sysflow.js';
import type { Encoder, Envelope, Stage } from './types.js';

export type SourceKind = 'kernel' | 'sysflow';

export interface BuildContext {
  readonly sourceKind: SourceKind;
  readonly counters: RuntimeCounters;
  readonly log: (text: string) => void;
  /** policy diagnostics, printed as they are (default: log) */
  readonly diag?: (text: string) => void;
  /** the one kernel → SysFlow mapping, created at the first hello */
  readonly mapping: SysFlowMapping;
  readonly stdout: Writable;
  readonly plugdir?: string;
  /** enrich stage defaults from the command line (-T, replay) */
  readonly token?: string;
  readonly hostFromStream?: boolean;
  /** policyengine overrides from the command line (process --policies/--mode/…) */
  readonly policy?: PolicyOverrides;
  /** exporter format override (process --format) */
  readonly format?: string;
  /** where a sink URL came from, for messages (e.g. "--sink #2") */
  readonly sinkWhere?: (url: string) => string | undefined;
}

export interface BuiltTree {
  roots: Node[];
  engines: PolicyStage[];
  filters: FilterStage[];
  writers: TraceWriterStage[];
  enrichers: EnrichStage[];
  /** one delivery per distinct destination */
  sinks: Map<string, OpenedSink>;
}

/** The format names an exporter accepts, with what each encodes. */
export const EXPORT_FORMATS = ['json', 'sysflow-json', 'falco', 'sysflow-avro', 'sysflow-msg', 'json-min', 'kflowd-json', 'table', 'ecs'] as const;

/** ECS documents take host facts from each record's enrichment; this context covers records without. */
function ecsEncoder(): Encoder {
  const h = hostname();
  return new EcsEncoder({
    host: { hostName: h, hostIP: '', system: 'Linux', kernel: release(), version: `falconet-v${agentVersion()}` },
    bootToRealNs: 0n,
    agent: { name: h, version: agentVersion() },
  });
}

export function encoderFor(format: string, where: string): Encoder {
  switch (format) {
    case 'json': case 'sysflow-json': return sysflowJsonEncoder;
    case 'falco': return falcoEncoder;
    case 'sysflow-avro': return sysflowAvroEncoder;
    case 'sysflow-msg': return sysflowMessageEncoder;
    case 'json-min': return kflowdEncoder('json-min');
    case 'kflowd-json': return kflowdEncoder('json');
    case 'table': return kflowdEncoder('table');
    case 'ecs': return ecsEncoder();
    default: throw new PipelineConfigError(where, `unknown format "${format}" (expected ${EXPORT_FORMATS.join(', ')})`);
  }
}

const passThrough = (name: string): Stage => ({ name, process: (b: Envelope[]) => b });

/** Loads a custom stage. Never throws: a plugin that cannot load is reported and passes records on. */
async function customStage(p: PluginConfig, ctx: BuildContext): Promise<Stage> {
  const name = p.processor;
  const label = `plugin "${name}" (${p.where})`;
  if (!ctx.plugdir) {
    throw new PipelineConfigError(p.where, `unknown processor "${name}" (built-ins: sysflowreader, enrich, filter, policyengine, exporter, sysflowwriter; custom stages need --plugdir)`);
  }
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(name)) throw new PipelineConfigError(p.where, `plugin name "${name}" must be a file name (letters, digits, _ . -)`);
  const dir = resolve(ctx.plugdir);
  const file = [join(dir, `${name}.js`), join(dir, `${name}.mjs`)].find((f) => existsSync(f));
  if (!file) {
    ctx.log(`${label}: no ${name}.js or ${name}.mjs in ${dir}; the stage is left out and records pass on`);
    return passThrough(name);
  }
  try {
    const mod = (await import(pathToFileURL(file).href)) as { default?: unknown; createStage?: unknown };
    const factory = mod.createStage ?? mod.default;
    const stage = typeof factory === 'function' ? await (factory as (s: Readonly<Record<string, string>>) => unknown)(p.settings) : factory;
    if (!stage || typeof (stage as Stage).process !== 'function') {
      throw new Error('the module must export createStage(settings) (or a default) returning an object with process(batch)');
    }
    const s = stage as Stage;
    return { ...bind(s), name };
  } catch (e) {
    ctx.log(`${label} failed to load from ${file}: ${(e as Error).message}; the stage is left out and records pass on`);
    return passThrough(name);
  }
}

/** A plugin's methods bound to it (so the runtime can call them detached). */
function bind(s: Stage): Stage {
  return {
    name: s.name,
    process: s.process.bind(s),
    start: s.start?.bind(s),
    flush: s.flush?.bind(s),
    close: s.close?.bind(s),
  };
}

export async function buildTree(cfg: PipelineConfig, ctx: BuildContext): Promise<BuiltTree> {
  const built: BuiltTree = { roots: [], engines: [], filters: [], writers: [], enrichers: [], sinks: new Map() };
  const nodes: Node[][] = [];
  const names = new Map<string, number>();
  const uniqueName = (base: string): string => {
    const n = (names.get(base) ?? 0) + 1;
    names.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  };
  for (const p of cfg.plugins) nodes.push(await buildPlugin(p, cfg, ctx, built, uniqueName));
  // wire channels: a plugin's nodes feed every plugin reading one of its output channels
  for (const [i, p] of cfg.plugins.entries()) {
    const children: Node[] = [];
    for (const o of p.out) {
      for (const [j, q] of cfg.plugins.entries()) {
        if (j <= i) {
          if (q.in.name === o.name) throw new PipelineConfigError(p.where, `pipeline[${i}] (${p.processor}) writes "${o.name}", which an earlier plugin reads (a cycle)`);
          continue;
        }
        if (q.in.name === o.name) for (const n of nodes[j]!) if (!children.includes(n)) children.push(n);
      }
    }
    for (const n of nodes[i]!) {
      if (n.kind === 'stage') n.next.push(...children);
      else if (children.length) throw new PipelineConfigError(p.where, `${p.processor} is an exporter: it has no output channel`);
    }
    if (p.in.name === cfg.driver.name) built.roots.push(...nodes[i]!);
  }
  gateFlatteners(nodes.flat(), built);
  return built;
}

/**
 * Live policies without needless SysFlow: when the one flattener feeds only policy engines in
 * alert mode, and nothing else uses the kernel → SysFlow mapping (no trace writer, no filter on
 * kernel records), a file record whose previewed FileFlow no alert rule matches is never mapped
 * (stages/sysflow.ts). FALCONET_LIVE_PREFILTER=off turns this off (the equivalence tests).
 */
function gateFlatteners(all: readonly Node[], built: BuiltTree): void {
  if (process.env['FALCONET_LIVE_PREFILTER'] === 'off') return;
  const flat = all.filter((n): n is StageNode => n.kind === 'stage' && n.stage instanceof FlattenerStage);
  if (flat.length !== 1 || built.writers.length > 0 || built.filters.length > 0) return;
  const node = flat[0]!;
  const engines: PolicyStage[] = [];
  for (const c of node.next) {
    if (c.kind !== 'stage' || !(c.stage instanceof PolicyStage) || c.stage.engine.mode !== 'alert') return;
    engines.push(c.stage);
  }
  if (engines.length === 0) return;
  (node.stage as FlattenerStage).onlyFeedsAlerts(engines.map((e) => e.engine));
}

async function buildPlugin(p: PluginConfig, cfg: PipelineConfig, ctx: BuildContext, built: BuiltTree, uniqueName: (b: string) => string): Promise<Node[]> {
  const s = p.settings;
  const stage = (st: Stage): StageNode[] => [{ kind: 'stage', name: st.name, stage: st, next: [] }];
  const where = (k: string): string => p.settingWhere[k] ?? p.where;
  switch (p.processor) {
    case 'sysflowreader': case 'sysflowprocessor': {
      if (p.handler !== null && p.handler !== 'flattener') throw new PipelineConfigError(p.where, `handler "${p.handler}" is not supported (only flattener)`);
      if (/^on$/i.test(s['filter.enabled'] ?? '')) ctx.log(`warning: ${where('filter.enabled')}: sysflowreader filter.enabled (rate limiter) is not supported yet; all records are processed`);
      // trace files are flattened by their source already
      if (ctx.sourceKind === 'sysflow') return stage(passThrough(uniqueName('sysflowreader')));
      return stage(new FlattenerStage(uniqueName('flattener'), ctx.mapping));
    }
    case 'enrich': {
      const e = new EnrichStage({ token: s['token'] ?? ctx.token, hostFromStream: ctx.hostFromStream });
      built.enrichers.push(e);
      // -v, -c, --containers, --process-table (src/enrich/stages.ts)
      let extra;
      try { extra = enrichmentStages(s); } catch (err) { throw new PipelineConfigError(p.where, (err as Error).message); }
      return stage(extra.length ? new StageChain('enrich', [e, ...extra]) : e);
    }
    case 'filter': {
      const expr = s['expr'] ?? s['filter'];
      if (!expr) throw new PipelineConfigError(p.where, 'filter needs "expr" (a condition in the policy language)');
      let f: FilterStage;
      try {
        f = new FilterStage(uniqueName('filter'), expr, parseDialect(s['dialect'] ?? 'sysflow'), ctx.mapping);
      } catch (e) {
        throw new PipelineConfigError(where('expr'), `filter expr: ${(e as Error).message}`);
      }
      built.filters.push(f);
      return stage(f);
    }
    case 'policyengine': {
      if (/^local$/i.test(s['monitor'] ?? '') && ctx.sourceKind === 'sysflow') ctx.log('warning: policyengine monitor=local (policy reload) does not apply to trace files; ignored');
      const eng = loadEngine(s, ctx.policy ?? {}, cfg.path, ctx.diag ?? ctx.log, ctx.diag ? 'falconet process: ' : '');
      const st = new PolicyStage(uniqueName('policyengine'), eng.policy, eng.mode);
      built.engines.push(st);
      return stage(st);
    }
    case 'sysflowwriter': {
      const output = s['path'] ?? s['file.path'];
      const socketPath = s['socket'];
      if (!output && !socketPath) throw new PipelineConfigError(p.where, 'sysflowwriter needs "path" (a trace file or DIR/) or "socket"');
      const rotate = s['rotate'] !== undefined ? Number(s['rotate']) : undefined;
      if (rotate !== undefined && !(Number.isInteger(rotate) && rotate > 0)) throw new PipelineConfigError(where('rotate'), `rotate must be a positive number of seconds, got "${s['rotate']}"`);
      const buffer = s['socket.buffer'] !== undefined ? parseSocketBuffer(s['socket.buffer']) : undefined;
      if (buffer === null) throw new PipelineConfigError(where('socket.buffer'), `socket.buffer must be ${SOCKET_BUFFER_EXPECTED}, got "${s['socket.buffer']}"`);
      const w = new TraceWriterStage(uniqueName('sysflowwriter'), { output, socketPath, socketBufferBytes: buffer, rotateSeconds: rotate, exporterId: s['exporter.id'] }, ctx.mapping, ctx.log);
      built.writers.push(w);
      return stage(w);
    }
    case 'exporter':
      await loadSinkSchemes((s['sink'] ?? '').split(/\s+/).filter(Boolean));
      return buildExporter(p, ctx, built, uniqueName);
    default:
      return stage(await customStage(p, ctx));
  }
}

function buildExporter(p: PluginConfig, ctx: BuildContext, built: BuiltTree, uniqueName: (b: string) => string): Node[] {
  const s = p.settings;
  const where = (k: string): string => p.settingWhere[k] ?? p.where;
  const exportTo = (s['export'] ?? (s['sink'] ? 'sink' : 'terminal')).toLowerCase();
  const format = (ctx.format ?? s['format'] ?? (ctx.sourceKind === 'sysflow' ? 'json' : 'json-min')).toLowerCase();
  const defaultEncoder = encoderFor(format, ctx.format ? '--format' : where('format'));
  const name = uniqueName('exporter');
  const targets: { delivery: DeliveryPort; format?: string }[] = [];
  // one delivery per destination, shared by the exporters that name it
  const add = (key: string, open: () => OpenedSink) => {
    let o = built.sinks.get(key);
    if (!o) { o = open(); built.sinks.set(key, o); }
    targets.push({ delivery: o.delivery, format: o.format });
  };
  const sinkCtx = { stdout: ctx.stdout, counters: ctx.counters, log: ctx.log };
  switch (exportTo) {
    case 'terminal': add('stdout:', () => openTerminal(sinkCtx)); break;
    case 'null': break;
    case 'file': {
      const path = resolve(s['file.path'] ?? './export.out');
      add(`export-file:${path}`, () => openExportFile(path, where('file.path'), sinkCtx));
      break;
    }
    case 'sink': {
      const urls = (s['sink'] ?? '').split(/\s+/).filter(Boolean);
      if (!urls.length) throw new PipelineConfigError(where('sink'), 'exporter: "sink" needs one or more sink URLs (space-separated)');
      urls.forEach((u, i) => {
        const w = ctx.sinkWhere?.(u) ?? `${where('sink')} exporter.sink${urls.length > 1 ? ` #${i + 1}` : ''}`;
        add(u, () => (u === 'stdout:' ? openTerminal(sinkCtx) : openSinkUrl(u, w, sinkCtx)));
      });
      break;
    }
    default:
      throw new PipelineConfigError(where('export'), `export "${exportTo}" is not supported yet (terminal, file, null, sink)`);
  }
  // one output node per format in use (a sink URL may ask for its own format)
  const groups = new Map<string, DeliveryPort[]>();
  for (const t of targets) {
    const f = (t.format ?? format).toLowerCase();
    const list = groups.get(f) ?? [];
    list.push(t.delivery);
    groups.set(f, list);
  }
  const out: OutputNode[] = [];
  if (groups.size === 0) out.push({ kind: 'output', name, encoder: defaultEncoder, deliveries: [] });
  for (const [f, deliveries] of groups) {
    const encoder = f === format ? defaultEncoder : encoderFor(f, p.where);
    out.push({ kind: 'output', name: groups.size > 1 ? `${name}.${f}` : name, encoder, deliveries });
  }
  return out;
}
