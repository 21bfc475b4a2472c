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
import { sysflowSocketSource } from './sources/sysflow-socket.js';
import type { PipelineConfig } from './config.js';
import type { Source } from './types.js';

export { ENGINE_RECORD_TYPES };

/** What every `falconet process` driver takes: the configuration and its command-line overrides. */
export interface ProcessCommonOptions {
  readonly config: string;
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
}

export interface ProcessOptions extends ProcessCommonOptions {
  /** trace files/directories (driver file), or the one socket path (driver socket) */
  readonly traces: readonly string[];
  /**
   * `file` or `socket` (sf-processor's -driver). Unset: the config's `drivers` section, else
   * `file`. With `socket` it listens until SIGTERM/SIGINT, then reads what the connection has
   * queued and ends.
   */
  readonly driver?: string;
  /** Output and diagnostics (file descriptors); default stdout/stderr. */
  readonly outFd?: number;
  readonly errFd?: number;
}

const KNOWN_ERRORS = new Set(['SysFlowSocketError', 'PipelineConfigError', 'SysFlowReadError', 'PolicyLoadError', 'TraceInputError', 'SinkUrlError']);

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

/** Removes the signal handlers of a socket run. */
let stopOnSignals: (() => void) | undefined;

class DriverError extends Error {
  override readonly name = 'PipelineConfigError';
}

/** The source the driver names: trace files, or the SysFlow socket. */
function driverSource(opts: ProcessOptions, cfg: PipelineConfig, log: (t: string) => void): Source {
  const fromConfig = cfg.drivers?.[0];
  const driver = (opts.driver ?? fromConfig?.driver ?? 'file').toLowerCase();
  const where = opts.driver !== undefined ? '--driver' : fromConfig ? `${fromConfig.where}: drivers[0].driver` : '--driver';
  const paths = opts.traces.length ? opts.traces : fromConfig?.path !== undefined ? [fromConfig.path] : [];
  if (driver === 'file') {
    if (paths.length === 0) throw new DriverError(`${where}: the file driver needs trace files or directories`);
    return sysflowFileSource(paths);
  }
  if (driver === 'nats' || driver === 'kafka') throw new DriverError(`${where}: the ${driver} driver is chosen on the command line (falconet process --driver ${driver} URL), where its stream URL goes`);
  if (driver !== 'socket') throw new DriverError(`${where}: unknown driver "${driver}" (file, socket, nats or kafka)`);
  if (paths.length !== 1) throw new DriverError(`${where}: the socket driver takes one socket path, got ${paths.length}`);
  const src = sysflowSocketSource(paths[0]!, log);
  const stop = (): void => src.stop();
  process.on('SIGTERM', stop).on('SIGINT', stop);
  stopOnSignals = () => { process.off('SIGTERM', stop).off('SIGINT', stop); };
  src.listening.then(() => log(`listening on SysFlow socket ${paths[0]}`), () => { /* the run reports it */ });
  return src;
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
  const source = driverSource(opts, cfg, log);
  // trace files (and a socket told to stop) end: every record should reach its sinks before exit
  const rt = new Runtime(source, tree.roots, { counters, log, overlapPushes: true, drainWhileProgressing: true });
  try {
    await rt.run();
  } finally {
    stopOnSignals?.();
  }
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
