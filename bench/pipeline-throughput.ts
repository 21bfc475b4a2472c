// Userspace capacity: records/s through the runtime (replay → [filter/policies] → enrich → encoder
// → sink) for a synthetic stream of file records (no root), against a decode + enrich baseline.
// All figures come from one run. Usage: node dist/bench/pipeline-throughput.js [records=200000]
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runPipeline, type PipelineOptions } from '../src/pipeline/agent.js';
import { replaySource } from '../src/sensor/source.js';
import { end, fileRecord, hello, records } from '../test/unit/stream-builder.js';

const N = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(path.join(tmpdir(), 'fn-tput-'));
const file = path.join(dir, 'stream.bin');
const batch: Buffer[] = [];
const frames: Buffer[] = [hello()];
for (let i = 0; i < N; i++) {
  batch.push(fileRecord({ pid: 1000 + (i % 50), ino: 5000 + i, path: `/var/lib/app/data/file-${i}.dat`, ts: 2_000_000_000n + BigInt(i) * 1000n }));
  if (batch.length === 256) frames.push(records(batch.splice(0)));
}
if (batch.length) frames.push(records(batch));
frames.push(end());
writeFileSync(file, Buffer.concat(frames));

const RULES = path.join(process.env.FALCONET_SHARED ?? '/work/shared', 'data/sysflow/policies/runtimeintegrity');
const nullOut = () => new Writable({ write(_c, _e, cb) { cb(); } });
const quietLog = () => { /* the bench prints its own table */ };

async function time(label: string, opts: Partial<PipelineOptions>): Promise<number> {
  const t = process.hrtime.bigint();
  const s = await runPipeline(replaySource(file), { output: 'json-min', hostFromStream: true, log: quietLog, ...opts }, nullOut());
  const sec = Number(process.hrtime.bigint() - t) / 1e9;
  const rate = s.records / sec;
  console.log(`| ${label} | ${s.records} | ${sec.toFixed(2)} | ${Math.round(rate)} |`);
  return rate;
}

async function main(): Promise<void> {
  console.log(`pipeline throughput, ${N} synthetic file records (replay, one core)\n`);
  console.log('| pipeline | records | seconds | records/s |');
  console.log('|---|---|---|---|');
  const out = path.join(dir, 'out.jsonl');
  const sink = `file://${out}`;
  await time('warm-up (json-min → file sink)', { sinks: [sink] });
  rmSync(out, { force: true });
  const base = await time('decode + enrich only (-q, no output)', noOutput());
  const min = await time('replay → enrich → json-min → file sink', { sinks: [sink] });
  const bytes = statSync(out).size;
  rmSync(out, { force: true });
  const pretty = await time('-o json → file sink', { output: 'json', sinks: [sink] });
  rmSync(out, { force: true });
  const table = await time('-o table → file sink', { output: 'table', sinks: [sink] });
  rmSync(out, { force: true });
  const rules = await time('json-min → file sink + --rules runtimeintegrity (live policies)', { sinks: [sink], rules: RULES });
  rmSync(out, { force: true });
  console.log(`\njson-min file: ${(bytes / N).toFixed(0)} bytes/record`);
  console.log(`formatting+sink cost vs decode+enrich: json-min ${(base / min).toFixed(2)}x, json ${(base / pretty).toFixed(2)}x, table ${(base / table).toFixed(2)}x`);
  console.log(`json-min → file sink: ${Math.round(min)} records/s (goal ≥ 220000: ${min >= 220_000 ? 'met' : 'NOT met'})`);
  console.log(`live policies add ${((min / rules - 1) * 100).toFixed(1)} % time per record (goal ≤ 30 %)`);
}

/** -q with no destination: records are decoded and enriched, then dropped by the null exporter. */
function noOutput(): Partial<PipelineOptions> {
  return { quiet: true, sinks: [] };
}

main().catch((e) => { console.error(e); process.exit(1); });
