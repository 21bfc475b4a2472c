// pipeline.json reading (sf-processor's format, driver/pipeline/config.go): a `pipeline` array
// of plugins chained by channels ("<name> <type>"), optional `drivers`. Only what `falconet
// process` needs today; the full runtime (tees, sinks, plugins) comes later.
//
// Like sf-processor, plugin settings are strings. A non-string value (e.g. `"concurrency": 10`)
// is ignored there silently; here it is kept as its JSON text and reported as a warning.
// Environment overrides follow sf-processor: `<PROCESSOR>_<KEY>` with `_` → `.` in the key
// (POLICYENGINE_MODE=enrich sets `mode` on every policyengine entry).
import { readFileSync } from 'node:fs';

export interface Channel {
  readonly name: string;
  readonly type: string;
}

export interface PluginConfig {
  readonly processor: string;
  readonly handler: string | null;
  readonly in: Channel;
  readonly out: readonly Channel[];
  /** Every other key, as strings. */
  readonly settings: Readonly<Record<string, string>>;
}

export interface PipelineConfig {
  readonly path: string;
  readonly plugins: readonly PluginConfig[];
  readonly warnings: readonly string[];
}

export class PipelineConfigError extends Error {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'PipelineConfigError';
  }
}

const RESERVED = new Set(['processor', 'handler', 'in', 'out']);

function parseChannel(path: string, where: string, v: unknown): Channel {
  if (typeof v !== 'string') throw new PipelineConfigError(path, `${where} must be a string "<name> <type>"`);
  const parts = v.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] === '') throw new PipelineConfigError(path, `${where} must be "<name> <type>", got ${JSON.stringify(v)}`);
  return { name: parts[0]!, type: parts[1]! };
}

/** Parses pipeline JSON text; `env` supplies the overrides (defaults to process.env). */
export function parsePipelineConfig(path: string, text: string, env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PipelineConfigError(path, `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { pipeline?: unknown }).pipeline)) {
    throw new PipelineConfigError(path, 'expected an object with a "pipeline" array');
  }
  const warnings: string[] = [];
  const plugins: PluginConfig[] = [];
  const entries = (doc as { pipeline: unknown[] }).pipeline;
  entries.forEach((raw, i) => {
    const where = `pipeline[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PipelineConfigError(path, `${where} must be an object`);
    const o = raw as Record<string, unknown>;
    if (typeof o['processor'] !== 'string' || o['processor'] === '') throw new PipelineConfigError(path, `${where}.processor must be a non-empty string`);
    const processor = o['processor'].toLowerCase();
    const inCh = parseChannel(path, `${where}.in`, o['in']);
    const outRaw = o['out'];
    const out = outRaw === undefined ? [] : Array.isArray(outRaw) ? outRaw.map((x, j) => parseChannel(path, `${where}.out[${j}]`, x)) : [parseChannel(path, `${where}.out`, outRaw)];
    const settings: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      if (RESERVED.has(k) || k.startsWith('_')) continue;
      if (typeof v === 'string') settings[k] = v;
      else {
        settings[k] = JSON.stringify(v);
        warnings.push(`${path}: ${where}.${k} is not a string (sf-processor ignores non-string settings); using ${JSON.stringify(v)}`);
      }
    }
    // Environment overrides: name lower-cased, split at the first "_".
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) continue;
      const lower = name.toLowerCase();
      const us = lower.indexOf('_');
      if (us <= 0 || lower.slice(0, us) !== processor) continue;
      settings[lower.slice(us + 1).replace(/_/g, '.')] = value;
    }
    plugins.push({ processor, handler: typeof o['handler'] === 'string' ? o['handler'] : null, in: inCh, out, settings });
  });
  // Every input channel except the reader's must be produced by an earlier plugin.
  const produced = new Map<string, string>();
  for (const [i, p] of plugins.entries()) {
    if (i > 0 || p.processor !== 'sysflowreader') {
      const t = produced.get(p.in.name);
      if (t === undefined && !(p.processor === 'sysflowreader' || p.processor === 'sysflowprocessor')) {
        throw new PipelineConfigError(path, `pipeline[${i}] (${p.processor}) reads channel "${p.in.name}", which no earlier plugin writes`);
      }
      if (t !== undefined && t !== p.in.type) {
        throw new PipelineConfigError(path, `pipeline[${i}] (${p.processor}) reads "${p.in.name}" as ${p.in.type}, but it is written as ${t}`);
      }
    }
    for (const o of p.out) produced.set(o.name, o.type);
  }
  return { path, plugins, warnings };
}

export function readPipelineConfig(path: string, env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PipelineConfigError(path, `cannot read: ${(e as Error).message}`);
  }
  return parsePipelineConfig(path, text, env);
}

/**
 * The linear chain `process` runs: reader → [policyengine] → exporter. Throws for shapes the
 * runtime does not support yet (fan-out, several engines, custom plugins).
 */
export function linearChain(cfg: PipelineConfig): { reader: PluginConfig; engine: PluginConfig | null; exporter: PluginConfig } {
  const ps = cfg.plugins;
  const reader = ps[0];
  if (!reader || (reader.processor !== 'sysflowreader' && reader.processor !== 'sysflowprocessor')) {
    throw new PipelineConfigError(cfg.path, 'the first plugin must be sysflowreader');
  }
  if (reader.handler !== null && reader.handler !== 'flattener') {
    throw new PipelineConfigError(cfg.path, `handler "${reader.handler}" is not supported (only flattener)`);
  }
  let engine: PluginConfig | null = null;
  let exporter: PluginConfig | null = null;
  for (const p of ps.slice(1)) {
    if (p.processor === 'policyengine') {
      if (engine) throw new PipelineConfigError(cfg.path, 'several policyengine plugins (fan-out) are not supported yet');
      engine = p;
    } else if (p.processor === 'exporter') {
      if (exporter) throw new PipelineConfigError(cfg.path, 'several exporters (fan-out) are not supported yet');
      exporter = p;
    } else {
      throw new PipelineConfigError(cfg.path, `plugin "${p.processor}" is not supported yet (supported: sysflowreader, policyengine, exporter)`);
    }
  }
  for (const p of ps) if (p.out.length > 1) throw new PipelineConfigError(cfg.path, `${p.processor}: several outputs (fan-out) are not supported yet`);
  if (!exporter) throw new PipelineConfigError(cfg.path, 'no exporter in the pipeline');
  return { reader, engine, exporter };
}
