// `falconet process`: a pipeline.json over SysFlow trace files — the runtime with the trace-file
// source (sf-processor's file driver). Exporters write to the terminal, a file, null or sink URLs
// in SysFlow's JSON (`format: json`) or Falco's alert JSON (`format: falco`, our extension).
import { Writable } from 'node:stream';
import { writeSync } from 'node:fs';
import { writeAllFd } from '../util/write-fd.js';
import { RuntimeCounters } from '../metrics/counters.js';
import { readPipelineConfig } from './config.js';
import { buildTree } from './registry.js';
import { Runtime } from './runtime.js';
import { sysflowFileSource, ENGINE_RECORD_TYPES } from './sources/sysflow-files.js';

export { ENGINE_RECORD_TYPES };

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
  /** Accepted for compatibility: lenient loading is the default now. */
  readonly lenient?: boolean;
  readonly verbose?: boolean;
  readonly stats?: boolean;
  readonly plugdir?: string;
  /** Output and diagnostics (file descriptors); default stdout/stderr. */
  readonly outFd?: number;
  readonly errFd?: number;
}

const KNOWN_ERRORS = new Set(['PipelineConfigError', 'SysFlowReadError', 'PolicyLoadError', 'TraceInputError', 'SinkUrlError']);

/** A Writable on a file descriptor, written synchronously (one write per batch); EPIPE ends it quietly. */
function fdWritable(fd: number): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      writeAllFd(fd, chunk).then(() => cb(), (e: Error) => cb(e));
    },
  });
}

/** Runs the pipeline; resolves to the process exit code (0 ok, 1 errors). */
export async function runProcess(opts: ProcessOptions): Promise<number> {
  const errFd = opts.errFd ?? 2;
  const err = (s: string): void => {
    try {
      writeSync(errFd, s + '\n');
    } catch {
      /* stderr gone: nothing useful left to do */
    }
  };
  const out = opts.outFd !== undefined && opts.outFd !== 1 ? fdWritable(opts.outFd) : fdWritable(1);
  out.on('error', () => { /* EPIPE: the reader left; the delivery stops writing */ });
  try {
    return await run(opts, err, out);
  } catch (e) {
    if (e instanceof Error && KNOWN_ERRORS.has(e.name)) {
      err(`falconet process: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function run(opts: ProcessOptions, err: (s: string) => void, out: Writable): Promise<number> {
  const cfg = readPipelineConfig(opts.config);
  for (const w of cfg.warnings) err(`falconet process: warning: ${w}`);
  const counters = new RuntimeCounters();
  const log = (t: string) => err(`falconet process: ${t}`);
  const tree = await buildTree(cfg, {
    sourceKind: 'sysflow', counters, log, diag: err, mapping: { mapper: undefined }, stdout: out, plugdir: opts.plugdir,
    policy: { policies: opts.policies, mode: opts.mode, dialect: opts.dialect, strict: opts.strict, lenient: opts.lenient, verbose: opts.verbose },
    format: opts.format,
  });
  const source = sysflowFileSource(opts.traces);
  const rt = new Runtime(source, tree.roots, { counters, log });
  await rt.run();
  if (opts.stats) {
    for (const e of tree.engines) {
      const s = e.engine.stats;
      const p = e.engine.policy;
      err(`falconet process: ${s.records} records, ${s.filtered} filtered, ${s.matched} matched, ${s.emitted} emitted (mode ${e.engine.mode}, ${p.rules.length} rules, ${p.filters.length} filters)`);
    }
    if (tree.engines.length === 0) err(`falconet process: ${counters.sourceRecords} records (no policy engine)`);
  }
  return 0;
}
