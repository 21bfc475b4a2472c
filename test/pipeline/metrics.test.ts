// Metrics: a real Prometheus (Debian's prometheus, started by the test on 127.0.0.1 with a
// private data dir) scrapes the runtime's --metrics endpoint; the test reads counters back
// through Prometheus's HTTP query API and compares them with the known record counts. The
// --stats figures and the endpoint are the same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { RuntimeCounters } from '../../src/metrics/counters.js';
import { figuresObject } from '../../src/metrics/figures.js';
import { metricsRegistry, startMetricsServer } from '../../src/metrics/prometheus.js';
import { freePort } from '../lib/ports.js';
import { end, fileRecord, hello, records, stats } from '../unit/stream-builder.js';

const N = 1234;

async function replayInto(counters: RuntimeCounters, dir: string): Promise<string> {
  const f = join(dir, 's.bin');
  const recs: Buffer[] = [];
  for (let i = 0; i < N; i++) recs.push(fileRecord({ pid: 100 + (i % 7), path: i % 2 ? `/keep/f${i}` : `/drop/f${i}` }));
  writeFileSync(f, Buffer.concat([hello(), records(recs.slice(0, 600)), stats(), records(recs.slice(600)), end()]));
  const out = join(dir, 'out.jsonl');
  await runPipeline(replaySource(f), { output: 'json-min', hostFromStream: true, filter: 'sf.file.path startswith /keep/', sinks: [`file://${out}`], counters, log: () => {} }, new PassThrough());
  return out;
}

const hasProm = spawnSync('prometheus', ['--version']).status === 0;

test('Prometheus scrapes --metrics; counters read back through its query API', { skip: hasProm ? false : 'prometheus not installed (scripts/setup.sh installs it)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-prom-'));
  const counters = new RuntimeCounters();
  const metrics = await startMetricsServer('127.0.0.1:0', counters);
  const out = await replayInto(counters, dir);
  const kept = readFileSync(out, 'utf8').trim().split('\n').length;
  assert.equal(kept, N / 2);
  const cfg = join(dir, 'prometheus.yml');
  writeFileSync(cfg, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: falconet\n    static_configs:\n      - targets: ['127.0.0.1:${metrics.port}']\n`);
  let prom: ReturnType<typeof spawn> | undefined;
  let port = 0;
  let log = '';
  for (let attempt = 0; attempt < 3 && !prom; attempt++) {
    port = await freePort();
    const p = spawn('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
    const up = await new Promise<boolean>((resolve) => {
      const timer = setInterval(() => { if (log.includes('Server is ready to receive web requests')) { clearInterval(timer); resolve(true); } }, 100);
      p.on('exit', () => { clearInterval(timer); resolve(false); });
    });
    if (up) prom = p;
  }
  assert.ok(prom, `prometheus did not start: ${log.slice(-2000)}`);
  try {
    const query = async (q: string): Promise<number | undefined> => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      const j = (await r.json()) as { status: string; data: { result: { value: [number, string] }[] } };
      assert.equal(j.status, 'success');
      return j.data.result.length ? Number(j.data.result[0]!.value[1]) : undefined;
    };
    let source: number | undefined;
    for (let i = 0; i < 300 && source === undefined; i++) {
      source = await query('falconet_source_records_total{job="falconet"}');
      if (source === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(source, N);
    assert.equal(await query('falconet_drops_total{where="pipeline",reason="filtered"}'), N / 2);
    assert.equal(await query('falconet_stage_records_in_total{stage="enrich"}'), N / 2);
    assert.equal(await query('falconet_sink_records_out_total{sink="file-1"}'), N / 2);
    assert.equal(await query('falconet_kernel_counter{counter="records_out"}'), 0); // present; stream-builder's stats frame is zeros
    t.diagnostic(`prometheus ${port} scraped falconet on ${metrics.port}`);
  } finally {
    prom!.kill('SIGTERM');
    await metrics.close();
  }
});

test('the --stats figures and the /metrics text are the same numbers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-fig-'));
  const counters = new RuntimeCounters();
  const metrics = await startMetricsServer('127.0.0.1:0', counters);
  try {
    await replayInto(counters, dir);
    const f = figuresObject(counters);
    const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('falconet_source_records_total'), f.source_records);
    assert.equal(f.source_records, N);
    for (const [stage, c] of Object.entries(f.stages)) {
      assert.equal(value(`falconet_stage_records_in_total{stage="${stage}"}`), c.in, stage);
      assert.equal(value(`falconet_stage_records_out_total{stage="${stage}"}`), c.out, stage);
    }
    assert.deepEqual(Object.keys(f.stages), ['filter', 'enrich']);
    assert.equal(f.stages['filter']!.out, N / 2);
    assert.equal(value('falconet_sink_records_in_total{sink="file-1"}'), f.sinks['file-1']!.in);
    assert.equal(f.sinks['file-1']!.out, N / 2);
    assert.equal(value('falconet_queue_depth{sink="file-1"}'), 0);
    // what the delivery reports beyond the common figures
    const file1 = f.sinks['file-1']!;
    assert.deepEqual([file1.duplicates_resent, file1.spool_truncated_bytes, file1.queue_bytes], [0, 0, 0]);
    assert.equal(value('falconet_sink_duplicates_resent_total{sink="file-1"}'), 0);
    assert.equal(value('falconet_spool_truncated_bytes_total{sink="file-1"}'), 0);
    assert.equal(value('falconet_queue_bytes{sink="file-1"}'), 0);
    assert.equal(value('falconet_sink_up{sink="file-1"}'), Number(file1.up));
  } finally {
    await metrics.close();
  }
});

test('a sink\'s own counters (Sink.counters) are falconet_sink_counter{sink,counter}; figures a delivery does not report are absent', async () => {
  const counters = new RuntimeCounters();
  counters.sink('s3-1', () => ({ accepted: 3, delivered: 3, dropped: {}, queueDepth: 0, spoolBytes: 0, sinkUp: true, sinkCounters: { objects: 2, damagedWindows: 1, damagedBytes: 517 } }));
  counters.sink('stdout', () => ({ accepted: 1, delivered: 1, dropped: {}, queueDepth: 0, spoolBytes: 0 }));
  const text = await metricsRegistry(counters).metrics();
  assert.match(text, /^falconet_sink_counter\{sink="s3-1",counter="damagedBytes"\} 517$/m);
  assert.match(text, /^falconet_sink_counter\{sink="s3-1",counter="objects"\} 2$/m);
  assert.match(text, /^falconet_sink_up\{sink="s3-1"\} 1$/m);
  assert.doesNotMatch(text, /falconet_sink_up\{sink="stdout"\}/);
  assert.deepEqual(figuresObject(counters).sinks['s3-1']!.counters, { objects: 2, damagedWindows: 1, damagedBytes: 517 });
});
