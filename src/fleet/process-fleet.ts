// `falconet process --driver nats|kafka --config pipeline.json URL`: a central processor. It
// consumes the fleet stream with a durable consumer (JetStream durable pull consumer, Kafka
// consumer group), decodes each `sysflow-msg` message into the SysFlow view the policy engine
// evaluates, runs the same pipeline.json tree as `process` on trace files, and acknowledges a
// record only once its alerts are delivered (AckTracker). Processors started with the same
// consumer name share the stream; what a dead one held is redelivered to the others.
import { writeSync } from 'node:fs';
import { RuntimeCounters } from '../metrics/counters.js';
import { readPipelineConfig, type PipelineConfig, type PluginConfig } from '../pipeline/config.js';
import { buildTree } from '../pipeline/registry.js';
import { Runtime } from '../pipeline/runtime.js';
import type { SysFlowRecord } from '../pipeline/encoders/sysflow.js';
import type { Envelope, RecordKind, Source } from '../pipeline/types.js';
import type { ProcessCommonOptions } from '../pipeline/process.js';
import { KafkaSource, parseKafkaSourceUrl } from '../source/kafka.js';
import { NatsSource, parseNatsSourceUrl } from '../source/nats.js';
import { AckTracker, trackedSource } from './ack-tracker.js';
import { decodeFleetSysFlow } from './sysflow-message.js';

export type FleetDriver = 'nats' | 'kafka';

export interface FleetProcessOptions extends ProcessCommonOptions {
  readonly driver: FleetDriver;
  /** the stream: nats://…?stream=&durable=  or kafka://…/topic?group= */
  readonly url: string;
  /** replace every exporter's destinations with these sink URLs */
  readonly sinks?: readonly string[];
  readonly errFd?: number;
}

const KNOWN_ERRORS = new Set(['PipelineConfigError', 'PolicyLoadError', 'SinkUrlError', 'FleetUrlError']);

/** A URL without an overload policy gets `policy=block`: an alert refused by a full queue must
 * not be acknowledged upstream as if it had been delivered. */
export function blockingSinkUrl(url: string): string {
  if (url === 'stdout:' || url === '-' || url === 'stdout') return url;
  const q = url.indexOf('?');
  if (q >= 0 && new URLSearchParams(url.slice(q + 1)).has('policy')) return url;
  return `${url}${q >= 0 ? '&' : '?'}policy=block`;
}

/** The pipeline with the processor's sink rules applied (--sink, policy=block). */
export function processorConfig(cfg: PipelineConfig, sinks: readonly string[] | undefined): PipelineConfig {
  const plugins = cfg.plugins.map((p): PluginConfig => {
    if (p.processor !== 'exporter') return p;
    const s: Record<string, string> = { ...p.settings };
    if (sinks?.length) { s['export'] = 'sink'; s['sink'] = sinks.join(' '); }
    if ((s['export'] ?? (s['sink'] ? 'sink' : '')).toLowerCase() === 'sink' && s['sink']) {
      s['sink'] = s['sink'].split(/\s+/).filter(Boolean).map(blockingSinkUrl).join(' ');
    }
    return { ...p, settings: s };
  });
  return { ...cfg, plugins };
}

export class FleetUrlError extends Error {
  override readonly name = 'FleetUrlError';
}

/** The consumer for a driver; `log` receives its diagnostics (bad messages, rejoins). */
export function fleetSource(driver: FleetDriver, url: string, log: (t: string) => void): NatsSource | KafkaSource {
  const decode = (data: Uint8Array, kind: RecordKind): SysFlowRecord => decodeFleetSysFlow(data, kind);
  try {
    if (driver === 'nats') return new NatsSource({ ...parseNatsSourceUrl(url, 'process input'), decode, log });
    return new KafkaSource({ ...parseKafkaSourceUrl(url, 'process input'), decode, log });
  } catch (e) {
    throw new FleetUrlError((e as Error).message);
  }
}

/** Records whose message names no node take the record id's host (Falco's `hostname`). */
function withNode(src: Source): Source {
  async function* run() {
    for await (const ev of src) {
      if (ev.kind === 'records') {
        for (let i = 0; i < ev.records.length; i++) {
          const e = ev.records[i]!;
          const r = e.rec as SysFlowRecord;
          if (!r.node && e.id) (ev.records as Envelope[])[i] = { kind: e.kind, rec: { ...r, node: e.id.host }, id: e.id, enrich: e.enrich };
        }
      }
      yield ev;
    }
  }
  return { name: src.name, [Symbol.asyncIterator]: run, stop: () => src.stop() };
}

export async function runFleetProcess(opts: FleetProcessOptions): Promise<number> {
  const errFd = opts.errFd ?? 2;
  const err = (s: string): void => {
    try { writeSync(errFd, s + '\n'); } catch { /* stderr gone */ }
  };
  try {
    return await run(opts, err);
  } catch (e) {
    if (e instanceof Error && KNOWN_ERRORS.has(e.name)) {
      err(`falconet process: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function run(opts: FleetProcessOptions, err: (s: string) => void): Promise<number> {
  const cfg = processorConfig(readPipelineConfig(opts.config), opts.sinks);
  for (const w of cfg.warnings) err(`falconet process: warning: ${w}`);
  const log = (t: string) => err(`falconet process: ${t}`);
  const source = fleetSource(opts.driver, opts.url, log);
  const counters = new RuntimeCounters();
  const tree = await buildTree(cfg, {
    sourceKind: 'sysflow', counters, log, diag: err, mapping: { mapper: undefined }, stdout: process.stdout, plugdir: opts.plugdir,
    policy: { policies: opts.policies, mode: opts.mode, dialect: opts.dialect, strict: opts.strict, lenient: opts.lenient, verbose: opts.verbose },
    format: opts.format,
  });
  const ports = [...tree.sinks.values()].map((o) => o.delivery);
  const tracker = new AckTracker(source, ports);
  const rt = new Runtime(trackedSource(withNode(source), () => tracker), tree.roots, { counters, log });
  // SIGTERM/SIGINT: stop pulling, deliver what was produced, ack it, leave
  let signalled = false;
  const onSignal = (): void => {
    if (signalled) return;
    signalled = true;
    source.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  log(`consuming ${source.name} (${opts.driver})`);
  try {
    await rt.run();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // deliveries are closed (drained): ack what got through, then leave the consumer
    tracker.check();
    tracker.stop();
    await source.close();
  }
  if (opts.stats) {
    const s = source instanceof NatsSource
      ? `received ${source.stats.received}, redelivered ${source.stats.redelivered}, acked ${source.stats.acked}, bad ${source.stats.bad}`
      : `received ${source.stats.received}, committed ${source.stats.committed}, bad ${source.stats.bad}, joins ${source.stats.joins}`;
    err(`falconet process: ${opts.driver}: ${s}; batches unacknowledged at exit ${tracker.waiting}`);
    for (const e of tree.engines) {
      const st = e.engine.stats;
      err(`falconet process: ${st.records} records, ${st.filtered} filtered, ${st.matched} matched, ${st.emitted} emitted (mode ${e.engine.mode})`);
    }
  }
  return 0;
}
