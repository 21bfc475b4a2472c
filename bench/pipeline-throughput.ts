// Userspace capacity: records/s through decode → enrich → kflowd JSON for a synthetic stream of
// file records (replay path, no root), per output format, against a decode-only baseline.
// Usage: node dist/bench/pipeline-throughput.js [records=200000]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runPipeline, type OutputFormat } from '../src/agent/pipeline.js';
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

const sink = () => new Writable({ write(_c, _e, cb) { cb(); } });

async function time(label: string, output: OutputFormat, quiet: boolean): Promise<number> {
  const t = process.hrtime.bigint();
  const s = await runPipeline(replaySource(file), { output, quiet, hostFromStream: true }, sink());
  const sec = Number(process.hrtime.bigint() - t) / 1e9;
  const rate = s.records / sec;
  console.log(`| ${label} | ${s.records} | ${sec.toFixed(2)} | ${Math.round(rate)} |`);
  return rate;
}

async function main(): Promise<void> {
  console.log(`pipeline throughput, ${N} synthetic file records (replay, one core)\n`);
  console.log('| stage | records | seconds | records/s |');
  console.log('|---|---|---|---|');
  await time('warm-up', 'json-min', true);
  const base = await time('decode + enrich only (-q)', 'json-min', true);
  const min = await time('-o json-min', 'json-min', false);
  const pretty = await time('-o json', 'json', false);
  const table = await time('-o table', 'table', false);
  console.log(`\nformatting cost vs decode-only: json-min ${(base / min).toFixed(2)}x, json ${(base / pretty).toFixed(2)}x, table ${(base / table).toFixed(2)}x`);
}
main().catch((e) => { console.error(e); process.exit(1); });
