// `falconet process`: runs a pipeline.json over SysFlow trace files. Supported today: the
// sysflowreader → [policyengine] → exporter chain, exporting to the terminal, a file or null in
// SysFlow's JSON (`format: json`) or Falco's alert JSON (`format: falco`, our extension).
import { closeSync, openSync, readdirSync, statSync, writeSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { EntityTable, openSysFlow } from '../sysflow/index.js';
import {
  ENGINE_MODES, PolicyEngine, checkPolicies, formatDiagnostic, toFalcoJson, toSysFlowJson,
  type Dialect, type EngineMode, type PolicySet,
} from '../policy/index.js';
import { linearChain, readPipelineConfig } from './config.js';

export interface ProcessOptions {
  readonly config: string;
  readonly traces: readonly string[];
  /** Overrides the policyengine `policies` setting. */
  readonly policies?: string;
  readonly mode?: string;
  readonly format?: string;
  readonly dialect?: string;
  /**
   * Policy checking. Default (false): as sf-processor, every problem is a warning on stderr
   * and the affected condition behaves as there (unknown field = its own name, unknown macro =
   * false). true: unknown fields, macros and bad values are errors and nothing runs.
   */
  readonly strict?: boolean;
  /** The default; true overrides a `strict` key in pipeline.json (--strict wins over both). */
  readonly lenient?: boolean;
  readonly verbose?: boolean;
  readonly stats?: boolean;
  /** Output and diagnostics sinks (file descriptors); default stdout/stderr. */
  readonly outFd?: number;
  readonly errFd?: number;
}

/** The record types sf-processor's flattener hands to the policy engine. */
export const ENGINE_RECORD_TYPES: ReadonlySet<string> = new Set(['PE', 'FF', 'FE', 'NF', 'KE']);

class UsageError extends Error {}

/** Buffered line writer on a file descriptor (one syscall per ~64 KiB). */
class LineWriter {
  private buf: string[] = [];
  private size = 0;
  broken = false;
  constructor(private readonly fd: number) {}
  line(s: string): void {
    if (this.broken) return;
    this.buf.push(s, '\n');
    this.size += s.length + 1;
    if (this.size >= 65536) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0 || this.broken) return;
    const data = this.buf.join('');
    this.buf = [];
    this.size = 0;
    try {
      const b = Buffer.from(data, 'utf8');
      let off = 0;
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') this.broken = true;
      else throw e;
    }
  }
}

function expandTraces(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new UsageError(`cannot read trace ${p}: ${(e as Error).message}`);
    }
    if (st.isDirectory()) {
      // sf-processor reads a directory's files in name order.
      for (const e of readdirSync(p).sort()) {
        const q = join(p, e);
        if (statSync(q).isFile()) out.push(q);
      }
    } else out.push(p);
  }
  return out;
}

/** Resolves a policies path: as given (relative to the CWD), else relative to the config file. */
function resolvePolicies(p: string, configPath: string): string {
  if (isAbsolute(p) || existsSync(p)) return p;
  const alt = resolve(dirname(configPath), p);
  return existsSync(alt) ? alt : p;
}

/** Runs the pipeline; returns the process exit code (0 ok, 1 errors). */
export function runProcess(opts: ProcessOptions): number {
  const errFd = opts.errFd ?? 2;
  const err = (s: string): void => {
    try {
      writeSync(errFd, s + '\n');
    } catch {
      /* stderr gone: nothing useful left to do */
    }
  };
  try {
    return run(opts, err);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof Error && e.name === 'PipelineConfigError') || (e instanceof Error && e.name === 'SysFlowReadError')) {
      err(`falconet process: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

function run(opts: ProcessOptions, err: (s: string) => void): number {
  const cfg = readPipelineConfig(opts.config);
  for (const w of cfg.warnings) err(`falconet process: warning: ${w}`);
  const chain = linearChain(cfg);
  const es = chain.engine?.settings ?? {};
  // Settings that change sf-processor's behaviour but are not implemented yet: say so.
  if (/^on$/i.test(chain.reader.settings['filter.enabled'] ?? '')) err('falconet process: warning: sysflowreader filter.enabled (rate limiter) is not supported yet; all records are processed');
  if (/^local$/i.test(es['monitor'] ?? '')) err('falconet process: warning: policyengine monitor=local (policy reload) does not apply to trace files; ignored');
  const mode = (opts.mode ?? es['mode'] ?? (chain.engine ? 'alert' : 'bypass')).toLowerCase();
  if (!(ENGINE_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`unknown policy engine mode "${mode}" (expected ${ENGINE_MODES.join(', ')})`);
  }
  const language = (es['language'] ?? 'falco').toLowerCase();
  if (language !== 'falco') throw new UsageError(`policy language "${language}" is not supported (only falco-style policies)`);
  const dialect = (opts.dialect ?? es['dialect'] ?? 'sysflow').toLowerCase();
  if (dialect !== 'sysflow' && dialect !== 'falco') throw new UsageError(`unknown dialect "${dialect}" (expected sysflow or falco)`);
  // sf-processor loads policies with typos (unknown attributes, macros) and runs them; so do
  // we unless asked to be strict (--strict, or the policyengine key `strict: "true"`).
  const strict = opts.strict ?? (opts.lenient ? false : /^(true|1|yes|on)$/i.test(es['strict'] ?? '') || /^(false|0|no|off)$/i.test(es['lenient'] ?? ''));
  const lenient = !strict;

  let policy: PolicySet = { rules: [], filters: [], lists: new Map(), macros: new Set(), files: [], diagnostics: [] };
  const policiesSetting = opts.policies ?? es['policies'];
  if (mode !== 'bypass') {
    if (!policiesSetting) throw new UsageError(`the policyengine needs "policies" in ${mode} mode`);
    const path = resolvePolicies(policiesSetting, cfg.path);
    const r = checkPolicies([path], { dialect: dialect as Dialect, lenient });
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    const warnings = r.diagnostics.filter((d) => d.severity === 'warning');
    // Every problem, with file:line:col, before any output.
    for (const d of r.diagnostics) err(formatDiagnostic(d));
    if (!r.policy) {
      err(`falconet process: ${errors.length} error(s) in policies ${path}${strict ? ' (without --strict, sf-processor-era files with unknown fields load with warnings)' : ''}`);
      return 1;
    }
    if (opts.verbose || warnings.length > 0) {
      err(`falconet process: loaded ${r.policy.rules.length} rules, ${r.policy.filters.length} filters from ${path}; ${warnings.length} warning(s)${strict ? '' : ' (--strict makes unknown fields and macros errors)'}`);
    }
    policy = r.policy;
  }
  const engine = new PolicyEngine(policy, mode as EngineMode);

  const xs = chain.exporter.settings;
  const exportTo = (xs['export'] ?? 'terminal').toLowerCase();
  const format = (opts.format ?? xs['format'] ?? 'json').toLowerCase();
  if (format !== 'json' && format !== 'falco') throw new UsageError(`exporter format "${format}" is not supported yet (json, falco)`);
  let outFd = opts.outFd ?? 1;
  let ownFd = false;
  if (exportTo === 'file') {
    // sf-processor removes file.path at start, then appends.
    outFd = openSync(xs['file.path'] ?? './export.out', 'w');
    ownFd = true;
  } else if (exportTo !== 'terminal' && exportTo !== 'null') {
    throw new UsageError(`export "${exportTo}" is not supported yet (terminal, file, null)`);
  }
  const out = new LineWriter(outFd);
  const discard = exportTo === 'null';
  const host = hostname();
  let records = 0;
  try {
    for (const trace of expandTraces(opts.traces)) {
      const reader = openSysFlow(trace);
      const table = new EntityTable();
      try {
        for (const obj of reader) {
          const v = table.push(obj);
          if (v === null || !ENGINE_RECORD_TYPES.has(v.type)) continue;
          records++;
          const rec = engine.process(v);
          if (rec === null || discard) continue;
          if (format === 'json') out.line(toSysFlowJson(rec));
          else {
            const node = v.header?.exporter || host;
            for (const r of rec.alerts) out.line(toFalcoJson(v, r, node));
          }
          if (out.broken) return 0;
        }
      } finally {
        reader.close();
      }
    }
  } finally {
    out.flush();
    if (ownFd) closeSync(outFd);
  }
  if (opts.stats) {
    const s = engine.stats;
    err(`falconet process: ${records} records, ${s.filtered} filtered, ${s.matched} matched, ${s.emitted} emitted (mode ${mode}, ${policy.rules.length} rules, ${policy.filters.length} filters)`);
  }
  return 0;
}
