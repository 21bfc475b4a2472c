// Opens a destination for an exporter: the terminal, sf-processor's `export: file`, or a sink URL
// (--sink, exporter `sink`). Sink URLs, sinks, their bounded queues and spools are src/sinks/
// (DELIVERY-CONTRACT.md). The terminal and sf-processor's export file are written in step by the
// runtime itself (delivery-port.ts): a terminal must see records in order and at once.
import { openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RuntimeCounters } from '../metrics/counters.js';
import { Delivery } from '../sinks/delivery.js';
import { createSink, parseSinkUrl, sinkSchemes } from '../sinks/registry.js';
import { PipelineConfigError } from './config.js';
import { StreamDelivery, type DeliveryPort } from './delivery-port.js';

// The fleet sinks plug into the registry by scheme (nats://, kafka://, es+http(s)://,
// s3+http(s)://). Their engines' clients take about a second to load together, which every start
// of the agent paid before its sensor was ready; a scheme's module is loaded when a URL uses it.
const FLEET_MODULES: Record<string, () => Promise<void>> = {
  nats: async () => { (await import('../sinks/nats.js')).registerNats(); },
  kafka: async () => { (await import('../sinks/kafka.js')).registerKafka(); },
  es: async () => { (await import('../sinks/elasticsearch.js')).registerElasticsearch(); },
  s3: async () => { (await import('../sinks/s3.js')).registerS3(); },
};
const FLEET_SCHEMES: Record<string, keyof typeof FLEET_MODULES> = {
  nats: 'nats', kafka: 'kafka', 'es+http': 'es', 'es+https': 'es', 's3+http': 's3', 's3+https': 's3',
};
const loading = new Map<string, Promise<void>>();

function loadFleetModule(key: string): Promise<void> {
  let p = loading.get(key);
  if (!p) { p = FLEET_MODULES[key]!(); loading.set(key, p); }
  return p;
}

/**
 * Registers the fleet schemes these URLs use. A URL whose scheme nobody knows loads them all, so
 * that the error parseSinkUrl gives lists every scheme there is.
 */
export async function loadSinkSchemes(urls: Iterable<string>): Promise<void> {
  const want = new Set<string>();
  for (const u of urls) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(u)?.[1]?.toLowerCase();
    if (scheme === undefined || sinkSchemes().includes(scheme)) continue;
    const key = FLEET_SCHEMES[scheme];
    if (key) want.add(key);
    else for (const k of Object.keys(FLEET_MODULES)) want.add(k);
  }
  await Promise.all([...want].map(loadFleetModule));
}

export interface OpenedSink {
  readonly name: string;
  readonly delivery: DeliveryPort;
  /** the URL's format=…, when it asks for one */
  readonly format?: string;
}

export interface SinkContext {
  readonly stdout: Writable;
  readonly counters: RuntimeCounters;
  readonly log: (text: string) => void;
}

/** "<scheme>-<n>": the n-th sink of that scheme in this runtime (names for metrics and logs). */
export function sinkName(scheme: string, counters: RuntimeCounters): string {
  let n = 1;
  while (counters.sinks.has(`${scheme}-${n}`)) n++;
  return `${scheme}-${n}`;
}

/** The terminal (no --sink, exporter `export: terminal`). */
export function openTerminal(ctx: SinkContext): OpenedSink {
  const delivery = new StreamDelivery({ stream: ctx.stdout });
  ctx.counters.sink('stdout', () => delivery.stats());
  return { name: 'stdout', delivery };
}

/** sf-processor's `export: file`: removes file.path at start, then appends. */
export function openExportFile(path: string, where: string, ctx: SinkContext): OpenedSink {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new PipelineConfigError(where, `cannot open ${path}: ${(e as Error).message}`);
  }
  const name = sinkName('export-file', ctx.counters);
  const delivery = new StreamDelivery({ fd }, true);
  ctx.counters.sink(name, () => delivery.stats());
  return { name, delivery };
}

/** A sink URL through src/sinks: one Delivery (bounded queue, optional spool) per sink. */
export function openSinkUrl(url: string, where: string, ctx: SinkContext): OpenedSink {
  const spec = parseSinkUrl(url, where);
  const name = sinkName(spec.scheme.replace(/\+/g, '-'), ctx.counters);
  const delivery = new Delivery({ ...spec.delivery, name, sink: createSink(spec, ctx.log), log: ctx.log });
  ctx.counters.sink(name, () => delivery.stats());
  return { name, delivery, format: spec.format };
}
