// --metrics ADDR: the runtime's figures (figures.ts) as Prometheus metrics. Every metric is read
// at scrape time through collect(), so the hot path never calls prom-client.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import type { RuntimeCounters } from './counters.js';
import { figuresObject, type Figures, type SinkFigure } from './figures.js';

export interface MetricsServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/** Counters are exposed as gauges fed by collect(): prom-client's Counter cannot be set. Their
 * names still end in _total, so PromQL's rate() applies as to any counter. */
export function metricsRegistry(counters: RuntimeCounters): Registry {
  const reg = new Registry();
  let snap: Figures | undefined;
  const figures = (): Figures => (snap ??= figuresObject(counters));
  const def = (name: string, help: string, labelNames: string[], fill: (g: Gauge, f: Figures) => void): void => {
    const g: Gauge = new Gauge({
      name, help, labelNames, registers: [reg],
      collect() {
        g.reset();
        fill(g, figures());
      },
    });
  };
  def('falconet_source_records_total', 'Records the source produced', [], (g, f) => g.set(f.source_records));
  def('falconet_stage_records_in_total', 'Records into a stage', ['stage'], (g, f) => { for (const [k, v] of Object.entries(f.stages)) g.set({ stage: k }, v.in); });
  def('falconet_stage_records_out_total', 'Records out of a stage', ['stage'], (g, f) => { for (const [k, v] of Object.entries(f.stages)) g.set({ stage: k }, v.out); });
  def('falconet_stage_errors_total', 'Batches a stage failed on (its input passed on unchanged)', ['stage'], (g, f) => { for (const [k, v] of Object.entries(f.stages)) g.set({ stage: k }, v.errors); });
  def('falconet_sink_records_in_total', 'Records accepted by a sink\'s queue', ['sink'], (g, f) => { for (const [k, v] of Object.entries(f.sinks)) g.set({ sink: k }, v.in); });
  def('falconet_sink_records_out_total', 'Records a sink delivered', ['sink'], (g, f) => { for (const [k, v] of Object.entries(f.sinks)) g.set({ sink: k }, v.out); });
  def('falconet_drops_total', 'Records dropped, by where and why', ['where', 'reason'], (g, f) => {
    for (const [k, v] of Object.entries(f.drops)) g.set({ where: 'pipeline', reason: k }, v);
    for (const [k, v] of Object.entries(f.sinks)) for (const [r, n] of Object.entries(v.dropped)) g.set({ where: k, reason: r }, n);
  });
  def('falconet_queue_depth', 'Records waiting in a sink\'s queue', ['sink'], (g, f) => { for (const [k, v] of Object.entries(f.sinks)) g.set({ sink: k }, v.queue_depth); });
  def('falconet_spool_bytes', 'Bytes in a sink\'s disk spool', ['sink'], (g, f) => { for (const [k, v] of Object.entries(f.sinks)) g.set({ sink: k }, v.spool_bytes); });
  // what a delivery reports beyond the common figures (sinks that do not report one are absent)
  const optional = (name: string, help: string, pick: (v: SinkFigure) => number | boolean | undefined): void =>
    def(name, help, ['sink'], (g, f) => {
      for (const [k, v] of Object.entries(f.sinks)) {
        const x = pick(v);
        if (x !== undefined) g.set({ sink: k }, Number(x));
      }
    });
  optional('falconet_queue_bytes', 'Bytes held in a sink\'s queue', (v) => v.queue_bytes);
  optional('falconet_sink_up', 'The sink\'s destination is reachable (1) or not (0)', (v) => v.up);
  optional('falconet_sink_duplicates_resent_total', 'Records sent again that the destination may have had (after a crash or a lost connection)', (v) => v.duplicates_resent);
  optional('falconet_spool_truncated_bytes_total', 'Bytes of a sink\'s spool cut at recovery (torn tail) or skipped (corrupt frames)', (v) => v.spool_truncated_bytes);
  def('falconet_sink_counter', 'A sink\'s own counters (e.g. S3 windows repaired at open)', ['sink', 'counter'], (g, f) => {
    for (const [k, v] of Object.entries(f.sinks)) for (const [c, n] of Object.entries(v.counters ?? {})) g.set({ sink: k, counter: c }, n);
  });
  def('falconet_kernel_counter', 'The sensor\'s own counters (last stats frame)', ['counter'], (g, f) => { for (const [k, v] of Object.entries(f.kernel)) g.set({ counter: k }, v); });
  def('falconet_sensor_restarts_total', 'Times the sensor was restarted', [], (g, f) => g.set(f.sensor_restarts));
  // one snapshot per scrape
  const metrics = reg.metrics.bind(reg);
  reg.metrics = async () => { snap = undefined; return metrics(); };
  return reg;
}

/** [HOST:]PORT → listening server; PORT 0 picks a free port. */
export function parseMetricsAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]*)):?([0-9]{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--metrics: expected [HOST:]PORT, got '${addr}'`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function startMetricsServer(addr: string, counters: RuntimeCounters): Promise<MetricsServer> {
  const { host, port } = parseMetricsAddr(addr);
  const reg = metricsRegistry(counters);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' && req.url !== '/') { res.writeHead(404).end('not found\n'); return; }
    reg.metrics().then((text) => {
      res.writeHead(200, { 'Content-Type': reg.contentType }).end(text);
    }, (e: unknown) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`--metrics ${addr}: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const a = server.address() as AddressInfo;
  process.stderr.write(`falconet: metrics on http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics\n`);
  return { port: a.port, host: a.address, close: () => new Promise<void>((r) => server.close(() => r())) };
}
