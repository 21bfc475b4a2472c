// The agent (live sensor) and replay: kflowd's flags or a pipeline.json, one runtime.
import type { Writable } from 'node:stream';
import type { RecordSource } from '../sensor/source.js';
import { IdNames } from '../enrich/ids.js';
import { RuntimeCounters } from '../metrics/counters.js';
import { figuresObject } from '../metrics/figures.js';
import { parsePipelineConfig, readPipelineConfig, type PipelineConfig } from './config.js';
import { defaultPipeline, type AgentFlagsTree } from './defaults.js';
import { buildTree, type BuiltTree } from './registry.js';
import { Runtime, type RunSummary as RuntimeSummary } from './runtime.js';
import { kernelSource } from './sources/kernel.js';
import { KernelToSysFlow } from './stages/kernel-sysflow.js';
import { payloadStartupNotes } from '../protocols/startup.js';
import type { Control } from './types.js';

export type OutputFormat = 'json' | 'json-min' | 'table';

export interface PipelineOptions {
  output: OutputFormat;
  quiet?: boolean;
  token?: string;
  /** print each sensor stats frame (and the runtime's figures) as JSON lines on stderr */
  stats?: boolean;
  /** use the hostname/kernel recorded in the stream (replay) instead of this machine's */
  hostFromStream?: boolean;
  /** also write SysFlow traces (-w, -G, --exporter-id, --sf-socket) */
  sysflow?: AgentFlagsTree['sysflow'];
  /** --duration: stop the source this many seconds after monitoring started (its hello) */
  durationSec?: number;
  sinks?: readonly string[];
  filter?: string;
  rules?: string;
  strict?: boolean;
  alertFormat?: string;
  plugdir?: string;
  /** -v, -c, --containers, --process-table */
  enrichment?: AgentFlagsTree['enrichment'];
  /** --config: a pipeline.json instead of the tree the flags compile to */
  pipelineFile?: string;
  /** -p syslog's UNIX socket paths: their senders' last records wait for late payloads */
  syslogSockets?: readonly string[];
  /** the counters the metrics endpoint reads (created when absent) */
  counters?: RuntimeCounters;
  /** called once the sensor is ready (daemon mode reports readiness to its parent) */
  onReady?: () => void;
  /** stderr by default */
  log?: (text: string) => void;
}

export interface RunSummary extends RuntimeSummary {
  /** SysFlow trace files written */
  sysflowFiles: string[];
  tree: BuiltTree;
  counters: RuntimeCounters;
}

/** The configuration the options stand for: a pipeline.json, or the flags' default tree. */
export function agentConfig(opts: PipelineOptions): PipelineConfig {
  if (opts.pipelineFile) return readPipelineConfig(opts.pipelineFile);
  const tree = defaultPipeline(opts);
  return parsePipelineConfig('<command line>', JSON.stringify(tree), {});
}

export async function runPipeline(rs: RecordSource, opts: PipelineOptions, out: Writable): Promise<RunSummary> {
  const log = opts.log ?? ((t: string) => { process.stderr.write(`falconet: ${t}\n`); });
  const counters = opts.counters ?? new RuntimeCounters();
  const cfg = agentConfig(opts);
  for (const w of cfg.warnings) log(`warning: ${w}`);
  const ids = new IdNames();
  const mapping: { mapper: KernelToSysFlow | undefined } = { mapper: undefined };
  const tree = await buildTree(cfg, {
    sourceKind: 'kernel', counters, log, mapping, stdout: out, plugdir: opts.plugdir,
    token: opts.token, hostFromStream: opts.hostFromStream,
    sinkWhere: (u) => { const i = opts.pipelineFile ? -1 : (opts.sinks ?? []).indexOf(u); return i >= 0 ? `--sink #${i + 1}` : undefined; },
  });
  const source = kernelSource('sensor', rs, { holdUnixPaths: opts.syslogSockets ?? [] });
  let durationTimer: NodeJS.Timeout | undefined;
  let first = true;
  const onControl = (c: Control): void => {
    if (c.kind === 'hello') {
      const h = c.hello;
      mapping.mapper ??= new KernelToSysFlow(h.bootToRealNs, ids);
      counters.sensorRestarts = source.restarts;
      // a restarted sensor says hello again: say it is ready again (supervisors and tests wait
      // for that line), but set up the run only once
      for (const s of h.programStatus) log(s);
      for (const n of payloadStartupNotes(h.programStatus)) log(n); // src/protocols/startup.ts
      log(opts.hostFromStream
        ? `replaying a stream recorded on ${h.hostname} (${h.kernelRelease}; ${h.programsAttached} programs attached, ${h.programsSkipped} skipped)`
        : `sensor ready (${h.programsAttached} programs attached, ${h.programsSkipped} skipped)`);
      if (!first) return;
      first = false;
      if (opts.durationSec && !durationTimer) durationTimer = setTimeout(() => source.stop(), opts.durationSec * 1000);
      opts.onReady?.();
    } else if (c.kind === 'stats') {
      for (const f of tree.filters) counters.drops.set('filtered', f.dropped);
      if (opts.stats) {
        process.stderr.write(`falconet-stats ${JSON.stringify({ ...c.stats, bootNs: c.stats.bootNs.toString() })}\n`);
        process.stderr.write(`falconet-figures ${JSON.stringify(figuresObject(counters))}\n`);
        printPayloadStats();
      }
    } else if (c.kind === 'end') {
      // the end's join counts: held records that left then, payloads no record took
      if (opts.stats) printPayloadStats();
    } else if (c.kind === 'log') log(c.text);
  };
  function printPayloadStats(): void {
    const j = source.join;
    if (j.kernel) process.stderr.write(`falconet-payload-stats ${JSON.stringify({ ...j.kernel, ...j.stats })}\n`);
  }
  // a replay is finite: its sinks get every record while they make progress; a live agent told
  // to stop gives them 5 s
  const rt = new Runtime(source, tree.roots, { counters, log, onControl, overlapPushes: true, drainWhileProgressing: opts.hostFromStream === true });
  let s;
  try {
    s = await rt.run();
  } finally {
    if (durationTimer) clearTimeout(durationTimer);
  }
  for (const f of tree.filters) counters.drops.set('filtered', f.dropped);
  const sysflowFiles = tree.writers.flatMap((w) => w.paths);
  return { ...s, sysflowFiles, tree, counters };
}

