// Fleet delivery bench: records/s into NATS JetStream (a real nats-server, R1, file storage) and
// into Kafka (librdkafka's mock cluster: a stand-in, not a broker), acknowledged by the engine
// and received by a consumer, with p50/p99 end-to-end latency (publish → consumer), plus the
// agent-side CPU the sink costs at a paced 10,000 records/s. Elasticsearch (a `_bulk` stub: no
// Elasticsearch can be installed here) and S3 (s3rver, a stand-in) have no consumer: for them the
// bench gives records/s acknowledged by the engine (ES: bulk items 201; S3: objects uploaded at
// close) and the same paced agent CPU. Their servers run in child processes, so their CPU is not
// counted as the agent's.
//   node dist/bench/fleet-throughput.js [records=40000]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElasticsearchSink, parseEsSinkUrl } from '../src/sinks/elasticsearch.js';
import { S3Sink, parseS3SinkUrl } from '../src/sinks/s3.js';
import { NatsSink, parseNatsSinkUrl } from '../src/sinks/nats.js';
import { NatsSource, parseNatsSourceUrl } from '../src/source/nats.js';
import { KafkaSink, parseKafkaSinkUrl } from '../src/sinks/kafka.js';
import { KafkaSource, parseKafkaSourceUrl } from '../src/source/kafka.js';
import type { Sink, SinkItem, Source } from '../src/pipeline/types.js';
import { NatsCluster, sleep } from '../test/fleet/nats-cluster.js';
import { KafkaMock } from '../test/fleet/kafka-mock.js';

const N = Number(process.argv[2] ?? 40_000);
const BATCH = 500;
const CLK = 100; // USER_HZ

function procCpuSec(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK;
}
const selfCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

function record(i: number, host = 'bench'): SinkItem {
  // the send time rides in the record so the consumer can measure latency
  const data = Buffer.from(JSON.stringify({ t: performance.timeOrigin + performance.now(), i, pad: 'x'.repeat(180) }));
  return { id: { host, boot: 'b', seq: BigInt(i) }, kind: 'socket', data, key: `${host}/${i % 128}` };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

interface Result { name: string; recPerSec: number; recPerCpuSec: number; engineCpuSec: number; p50: number; p99: number; cpuAt10k: number }

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** A server in a child process (its CPU is the engine's); resolves once it prints its port. */
function childServer(script: string): Promise<{ port: number; proc: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), proc });
    });
    proc.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
  });
}

const BULK_STUB = `import { createServer } from 'node:http';
const s = createServer((req, res) => {
  const chunks = []; req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.setHeader('x-elastic-product', 'Elasticsearch'); res.setHeader('content-type', 'application/json');
    const lines = Buffer.concat(chunks).toString('utf8').split('\\n').filter((l) => l);
    const items = [];
    for (let i = 0; i < lines.length; i += 2) items.push({ index: { _id: JSON.parse(lines[i]).index._id, status: 201, result: 'created' } });
    res.end(JSON.stringify({ took: 1, errors: false, items }));
  });
});
s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));`;

const S3RVER = (dir: string): string => `import S3rver from 's3rver';
const s = new S3rver({ port: 0, address: '127.0.0.1', directory: ${JSON.stringify(dir)}, silent: true });
const a = await s.run(); console.log('port ' + a.port);`;

/** Sinks without a consumer: records/s acknowledged (including close), then the paced agent CPU. */
async function runNoConsumer(name: string, make: (tag: string) => Sink, enginePid: number): Promise<Result> {
  const sink = make('bench');
  await sink.open();
  await sendAll(sink, 900_000, 500); // warm-up: connections, bucket/index
  const e0 = procCpuSec(enginePid);
  const s0 = selfCpu();
  const start = performance.now();
  await sendAll(sink, 0, N);
  await sink.close(); // S3: the window's object is uploaded and confirmed here
  const secs = (performance.now() - start) / 1000;
  const cpu = selfCpu() - s0;
  const engineCpuSec = procCpuSec(enginePid) - e0;
  const pace = make('pace');
  await pace.open();
  const paceSec = 5;
  const c0 = selfCpu();
  const t0 = performance.now();
  for (let k = 0; k < paceSec * 20; k++) {
    await sendAll(pace, 1_000_000 + k * 500, 500);
    const wait = t0 + (k + 1) * 50 - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await pace.close();
  const paced = (performance.now() - t0) / 1000;
  const rate = (paceSec * 10_000) / paced;
  const cpuAt10k = ((selfCpu() - c0) / paced) * (10_000 / rate);
  return { name, recPerSec: N / secs, recPerCpuSec: N / cpu, engineCpuSec, p50: NaN, p99: NaN, cpuAt10k };
}

async function sendAll(sink: Sink, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, from + n - i) }, (_, k) => record(i + k));
    for (;;) {
      try {
        const r = await sink.send(batch);
        if (!r.failed?.length) break;
      } catch { await sleep(50); }
    }
  }
}

async function run(name: string, sink: Sink, paceSink: Sink, source: Source & { close(): Promise<void> }, enginePids: number[]): Promise<Result> {
  await sink.open();
  await paceSink.open();
  const lat: number[] = [];
  let got = 0;
  let measuring = false;
  const seen = new Set<number>();
  const consumer = (async () => {
    for await (const ev of source) {
      if (ev.kind !== 'records') continue;
      const now = performance.timeOrigin + performance.now();
      for (const e of ev.records) {
        const r = e.rec as { t: number; i: number };
        if (!seen.has(r.i)) { seen.add(r.i); got++; if (measuring && r.i < 900_000) lat.push(now - r.t); }
      }
      source.ack!(ev.records[ev.records.length - 1]!.id!);
    }
  })();
  // warm-up: the consumer has joined and receives before the clock starts
  await sendAll(sink, 900_000, 500);
  while (got < 500) await sleep(5);
  got = 0;
  const e0 = enginePids.reduce((a, p) => a + procCpuSec(p), 0);
  const s0 = selfCpu();
  const start = performance.now();
  measuring = true;
  await sendAll(sink, 0, N);
  while (got < N) await sleep(2);
  const secs = (performance.now() - start) / 1000;
  const cpu = selfCpu() - s0;
  const engineCpuSec = enginePids.reduce((a, p) => a + procCpuSec(p), 0) - e0;
  source.stop();
  await source.close();
  await consumer;
  // paced phase, to a subject/topic nobody consumes: the sink's own CPU at 10,000 records/s for 5 s
  const paceSec = 5;
  const c0 = selfCpu();
  const t0 = performance.now();
  for (let s = 0; s < paceSec * 20; s++) {
    await sendAll(paceSink, 1_000_000 + s * 500, 500);
    const due = t0 + (s + 1) * 50;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const paced = (performance.now() - t0) / 1000;
  const rate = (paceSec * 10_000) / paced;
  // CPU share per 10,000 records/s actually achieved (the pace slips when the engine is slower)
  const cpuAt10k = ((selfCpu() - c0) / paced) * (10_000 / rate);
  await paceSink.close();
  await sink.close();
  lat.sort((a, b) => a - b);
  return { name, recPerSec: N / secs, recPerCpuSec: N / cpu, engineCpuSec, p50: pct(lat, 0.5), p99: pct(lat, 0.99), cpuAt10k };
}

const results: Result[] = [];
{
  const c = await NatsCluster.start(1);
  try {
    const url = c.url('bench', 'stream=BENCH&replicas=1');
    const src = new NatsSource({ ...parseNatsSourceUrl(c.url('bench', 'stream=BENCH&durable=bench&batch=500'), 'bench') });
    const pids = c.nodes.map((n) => (n as unknown as { proc: { pid: number } }).proc.pid);
    results.push(await run('NATS JetStream (1 node, R1, file)', new NatsSink(parseNatsSinkUrl(url, 'bench')), new NatsSink(parseNatsSinkUrl(c.url('pace', 'stream=PACE&replicas=1'), 'pace')), src, pids));
  } finally { await c.close(); }
}
{
  const c = await NatsCluster.start(3);
  try {
    const url = c.url('bench', 'stream=BENCH3&replicas=3');
    const src = new NatsSource(parseNatsSourceUrl(c.url('bench', 'stream=BENCH3&durable=bench&batch=500'), 'bench'));
    const pids = c.nodes.map((n) => (n as unknown as { proc: { pid: number } }).proc.pid);
    results.push(await run('NATS JetStream (3 nodes, R3, file)', new NatsSink(parseNatsSinkUrl(url, 'bench')), new NatsSink(parseNatsSinkUrl(c.url('pace', 'stream=PACE3&replicas=3'), 'pace')), src, pids));
  } finally { await c.close(); }
}
{
  const m = await KafkaMock.start(3);
  try {
    await m.command('topic bench 4 1');
    await m.command('topic pace 4 1');
    const sink = new KafkaSink(parseKafkaSinkUrl(`kafka://${m.bootstrap.join(',')}/bench?retries=5`, 'bench'));
    const src = new KafkaSource(parseKafkaSourceUrl(`kafka://${m.bootstrap.join(',')}/bench?group=bench`, 'bench'));
    const pid = (m as unknown as { proc: { pid: number } }).proc.pid;
    const pace = new KafkaSink(parseKafkaSinkUrl(`kafka://${m.bootstrap.join(',')}/pace?retries=5`, 'pace'));
    results.push(await run('Kafka (librdkafka mock cluster, gzip)', sink, pace, src, [pid]));
  } finally { await m.close(); }
}

{
  const es = await childServer(BULK_STUB);
  try {
    results.push(await runNoConsumer('Elasticsearch `_bulk` (stub server: a stand-in)',
      (tag) => new ElasticsearchSink(parseEsSinkUrl(`es+http://127.0.0.1:${es.port}/${tag}?workers=2`, tag)), es.proc.pid!));
  } finally { es.proc.kill(); }
}
{
  const dir = mkdtempSync(join(tmpdir(), 'falconet-bench-s3-'));
  const s3 = await childServer(S3RVER(join(dir, 'store')));
  try {
    results.push(await runNoConsumer('S3 NDJSON.gz (s3rver: a stand-in)',
      (tag) => new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@127.0.0.1:${s3.port}/${tag}/fleet?window=60s&dir=${encodeURIComponent(join(dir, tag))}`, tag)), s3.proc.pid!));
  } finally { s3.proc.kill(); rmSync(dir, { recursive: true, force: true }); }
}

console.log(`fleet delivery, ${N} records of ~230 bytes, batches of ${BATCH}; agent and consumer in this one Node process`);
console.log('| engine | records/s (acked, consumed) | records per agent+consumer CPU-s | engine CPU-s | p50 ms | p99 ms | agent CPU per 10K rec/s (paced) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.name} | ${Math.round(r.recPerSec)} | ${Math.round(r.recPerCpuSec)} | ${r.engineCpuSec.toFixed(2)} | ${Number.isNaN(r.p50) ? '—' : r.p50.toFixed(1)} | ${Number.isNaN(r.p99) ? '—' : r.p99.toFixed(1)} | ${(r.cpuAt10k * 100).toFixed(1)} % of a core |`);
}
