// Opens a destination for an exporter: stdout, or a sink URL (--sink, exporter `sink`). Sinks
// and their queues/spools are src/sinks/ (DELIVERY-CONTRACT.md); stdout is written in step by
// the runtime itself (delivery-port.ts).
import { openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RuntimeCounters } from '../metrics/counters.js';
import { PipelineConfigError } from './config.js';
import { StreamDelivery, type DeliveryPort } from './delivery-port.js';

export interface OpenedSink {
  readonly name: string;
  readonly delivery: DeliveryPort;
  /** the URL's format=…, when it asks for one */
  readonly format?: string;
}

export interface SinkContext {
  readonly stdout: Writable;
  readonly counters: RuntimeCounters;
}

/** "<scheme>-<n>": the n-th sink of that scheme in this runtime (names for metrics and logs). */
export function sinkName(scheme: string, counters: RuntimeCounters): string {
  let n = 1;
  while (counters.sinks.has(`${scheme}-${n}`)) n++;
  return `${scheme}-${n}`;
}

export function openSink(url: string, where: string, ctx: SinkContext): OpenedSink {
  if (url === 'stdout:' || url === '-' || url === 'stdout://') {
    const delivery = new StreamDelivery({ stream: ctx.stdout });
    ctx.counters.sink('stdout', () => delivery.stats());
    return { name: 'stdout', delivery };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PipelineConfigError(where, `bad sink URL ${JSON.stringify(url)}`);
  }
  const format = u.searchParams.get('format') ?? undefined;
  if (u.protocol === 'file:') {
    const path = decodeURIComponent(u.pathname);
    if (!path || path.endsWith('/')) throw new PipelineConfigError(where, `file sink ${JSON.stringify(url)} needs a file path`);
    const name = sinkName('file', ctx.counters);
    let fd: number;
    try {
      fd = openSync(path, u.searchParams.get('truncate') === '1' ? 'w' : 'a');
    } catch (e) {
      throw new PipelineConfigError(where, `cannot open ${path}: ${(e as Error).message}`);
    }
    const delivery = new StreamDelivery({ fd }, true);
    ctx.counters.sink(name, () => delivery.stats());
    return { name, delivery, format };
  }
  throw new PipelineConfigError(where, `sink scheme "${u.protocol}" is not available in this build`);
}
