// pipeline.json (sf-processor's format, driver/pipeline/config.go): a `pipeline` array of plugins
// joined by channels ("<name> <type>"). A plugin reads one channel (`in`) and writes zero or more
// (`out`: a string or an array). Fan-out: a channel read by several plugins gives each of them
// every record, and a plugin writing several channels feeds each. The first plugin's input is the
// driver (the source: live sensor, replay, trace files); any plugin reading that channel reads the
// source. Every other input must be written by an earlier plugin.
//
// Like sf-processor, plugin settings are strings. A non-string value (e.g. `"concurrency": 10`)
// is ignored there silently; here it is kept as its JSON text and reported as a warning.
// Environment overrides follow sf-processor: `<PROCESSOR>_<KEY>` with `_` → `.` in the key
// (POLICYENGINE_MODE=enrich sets `mode` on every policyengine entry). Errors name file:line:col.
import { readFileSync } from 'node:fs';
import { JsonSyntaxError, parseJsonWithPositions, type Json, type Pos } from './json-positions.js';

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
  /** `file:line:col` of the plugin's object, for messages */
  readonly where: string;
  /** `file:line:col` of each setting given in the file (overrides from the environment: "env NAME") */
  readonly settingWhere: Readonly<Record<string, string>>;
  /** index in the pipeline array */
  readonly index: number;
}

/** sf-processor's optional `drivers` section: where `falconet process` reads from. */
export interface DriverConfig {
  /** `file` (trace files) or `socket` (SysFlow over a UNIX SEQPACKET socket) */
  readonly driver: string;
  /** trace file/directory, or the socket path */
  readonly path?: string;
  readonly where: string;
}

export interface PipelineConfig {
  readonly path: string;
  readonly plugins: readonly PluginConfig[];
  readonly warnings: readonly string[];
  /** the driver channel: the first plugin's input */
  readonly driver: Channel;
  /** the `drivers` section, when the file has one (additive) */
  readonly drivers?: readonly DriverConfig[];
}

export class PipelineConfigError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'PipelineConfigError';
  }
}

const RESERVED = new Set(['processor', 'handler', 'in', 'out']);

function loc(path: string, p: Pos | undefined): string {
  return p ? `${path}:${p.line}:${p.col}` : path;
}

function parseChannel(where: string, field: string, v: Json | undefined): Channel {
  if (typeof v !== 'string') throw new PipelineConfigError(where, `${field} must be a string "<name> <type>"`);
  const parts = v.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] === '') throw new PipelineConfigError(where, `${field} must be "<name> <type>", got ${JSON.stringify(v)}`);
  return { name: parts[0]!, type: parts[1]! };
}

/** Parses pipeline JSON text; `env` supplies the overrides (defaults to process.env). */
export function parsePipelineConfig(path: string, text: string, env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  let parsed;
  try {
    parsed = parseJsonWithPositions(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new PipelineConfigError(loc(path, e.pos), `invalid JSON: ${e.message}`);
    throw e;
  }
  const doc = parsed.value;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Array.isArray(doc['pipeline'])) {
    throw new PipelineConfigError(loc(path, { line: 1, col: 1 }), 'expected an object with a "pipeline" array');
  }
  const entries = doc['pipeline'];
  if (entries.length === 0) throw new PipelineConfigError(loc(path, parsed.at(entries)), 'pipeline: the array is empty');
  const warnings: string[] = [];
  const plugins: PluginConfig[] = [];
  entries.forEach((raw, i) => {
    const where = loc(path, parsed.member(entries, i));
    const field = `pipeline[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PipelineConfigError(where, `${field} must be an object`);
    const at = (k: string) => loc(path, parsed.member(raw, k));
    const proc = raw['processor'];
    if (typeof proc !== 'string' || proc === '') throw new PipelineConfigError(raw['processor'] === undefined ? where : at('processor'), `${field}.processor must be a non-empty string`);
    const processor = proc.toLowerCase();
    const inCh = parseChannel(raw['in'] === undefined ? where : at('in'), `${field}.in`, raw['in']);
    const outRaw = raw['out'];
    const out = outRaw === undefined ? []
      : Array.isArray(outRaw) ? outRaw.map((x, j) => parseChannel(loc(path, parsed.member(outRaw, j)), `${field}.out[${j}]`, x))
        : [parseChannel(at('out'), `${field}.out`, outRaw)];
    const handler = raw['handler'];
    if (handler !== undefined && typeof handler !== 'string') throw new PipelineConfigError(at('handler'), `${field}.handler must be a string`);
    const settings: Record<string, string> = {};
    const settingWhere: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (RESERVED.has(k) || k.startsWith('_')) continue;
      settingWhere[k] = at(k);
      if (typeof v === 'string') settings[k] = v;
      else {
        settings[k] = JSON.stringify(v);
        warnings.push(`${at(k)}: ${field}.${k} is not a string (sf-processor ignores non-string settings); using ${JSON.stringify(v)}`);
      }
    }
    // Environment overrides: name lower-cased, split at the first "_".
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) continue;
      const lower = name.toLowerCase();
      const us = lower.indexOf('_');
      if (us <= 0 || lower.slice(0, us) !== processor) continue;
      const key = lower.slice(us + 1).replace(/_/g, '.');
      settings[key] = value;
      settingWhere[key] = `environment ${name}`;
    }
    plugins.push({ processor, handler: typeof handler === 'string' ? handler : null, in: inCh, out, settings, settingWhere, where, index: i });
  });
  const driver = plugins[0]!.in;
  const produced = new Map<string, string>();
  for (const [i, p] of plugins.entries()) {
    if (p.in.name !== driver.name) {
      const t = produced.get(p.in.name);
      if (t === undefined) throw new PipelineConfigError(p.where, `pipeline[${i}] (${p.processor}) reads channel "${p.in.name}", which no earlier plugin writes`);
      if (t !== p.in.type) throw new PipelineConfigError(p.where, `pipeline[${i}] (${p.processor}) reads "${p.in.name}" as ${p.in.type}, but it is written as ${t}`);
    } else if (p.in.type !== driver.type) {
      throw new PipelineConfigError(p.where, `pipeline[${i}] (${p.processor}) reads the driver channel "${driver.name}" as ${p.in.type}, but it is ${driver.type}`);
    }
    for (const o of p.out) {
      if (o.name === driver.name) throw new PipelineConfigError(p.where, `pipeline[${i}] (${p.processor}) writes the driver channel "${driver.name}"`);
      const t = produced.get(o.name);
      if (t !== undefined && t !== o.type) throw new PipelineConfigError(p.where, `pipeline[${i}] (${p.processor}) writes "${o.name}" as ${o.type}, but it is already written as ${t}`);
      produced.set(o.name, o.type);
    }
  }
  const drivers = parseDrivers(path, parsed, doc);
  return drivers ? { path, plugins, warnings, driver, drivers } : { path, plugins, warnings, driver };
}

const DRIVER_KEYS = new Set(['driver', 'path', 'out']);

/** `"drivers": [{ "driver": "socket", "path": "/var/run/sysflow.sock", "out": "sysflow sysflowchan" }]` */
function parseDrivers(path: string, parsed: ReturnType<typeof parseJsonWithPositions>, doc: { readonly [k: string]: Json }): DriverConfig[] | undefined {
  const raw = doc['drivers'];
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw new PipelineConfigError(loc(path, parsed.member(doc, 'drivers')), 'drivers must be an array of {"driver", "path"} objects');
  return raw.map((d, i) => {
    const where = loc(path, parsed.member(raw, i));
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new PipelineConfigError(where, `drivers[${i}] must be an object`);
    const at = (k: string) => loc(path, parsed.member(d, k));
    const name = d['driver'];
    if (typeof name !== 'string' || name === '') throw new PipelineConfigError(name === undefined ? where : at('driver'), `drivers[${i}].driver must be a non-empty string (file or socket)`);
    const p = d['path'];
    if (p !== undefined && typeof p !== 'string') throw new PipelineConfigError(at('path'), `drivers[${i}].path must be a string`);
    if (d['out'] !== undefined) parseChannel(at('out'), `drivers[${i}].out`, d['out']);
    for (const k of Object.keys(d)) {
      if (!DRIVER_KEYS.has(k) && !k.startsWith('_')) throw new PipelineConfigError(at(k), `drivers[${i}]: unknown key "${k}" (driver, path, out)`);
    }
    return p === undefined ? { driver: name.toLowerCase(), where } : { driver: name.toLowerCase(), path: p, where };
  });
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

/** The plugins that read a channel, in file order. */
export function readersOf(cfg: PipelineConfig, channel: string): PluginConfig[] {
  return cfg.plugins.filter((p) => p.in.name === channel);
}
