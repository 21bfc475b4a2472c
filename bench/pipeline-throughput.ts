// Userspace capacity: records/s through the runtime (replay → [filter/policies] → enrich → encoder
// → sink) for a synthetic stream of file records (no root), against a decode + enrich baseline.
// All figures come from one run. Usage: node dist/bench/pipeline-throughput.js [records=200000] [rounds=5]
// The policies' cost is also measured alternating json-min and --rules `rounds` times each:
// each side's best rate, and the median of the rounds' ratios (each --rules round against the
// json-min round just before it), since single runs on a shared machine swing more than the
// goal. The first run (json-min → file) is a warm-up and is not counted.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runPipeline, type PipelineOptions } from '../src/pipeline/agent.js';
import { replaySource } from '../src/sensor/source.js';
import { haveRsyslog, makeRsyslog } from '../test/sinks/rsyslog-harness.js';
import { writeEnrichStream } from './lib/enrich-streams.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(path.join(tmpdir(), 'fn-tput-'));
const file = path.join(dir, 'stream.bin');
// the enrichment benches replay the same records (bench/lib/enrich-streams.ts, `unknown`)
writeEnrichStream(file, N, false);

const RULES = path.join(process.env.FALCONET_SHARED ?? '/work/shared', 'data/sysflow/policies/runtimeintegrity');
const nullOut = () => new Writable({ write(_c, _e, cb) { cb(); } });
const quietLog = () => { /* the bench prints its own table */ };

/** Records/s on one core: records delivered per second of this process's CPU time (user +
 * system), so other load on the machine does not count; wall-clock figures beside it. */
async function time(label: string, opts: Partial<PipelineOptions>, source = file): Promise<number> {
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  const s = await runPipeline(replaySource(source), { output: 'json-min', hostFromStream: true, log: quietLog, ...opts }, nullOut());
  const cpu = process.cpuUsage(c);
  const sec = Number(process.hrtime.bigint() - t) / 1e9;
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  let delivered = s.records;
  let dropped = 0;
  for (const [, f] of s.counters.sinks) {
    const st = f();
    delivered = Math.min(delivered, st.delivered);
    dropped += Object.values(st.dropped).reduce((a: number, n) => a + (n ?? 0), 0);
  }
  const rate = delivered / cpuSec;
  console.log(`| ${label} | ${delivered}${dropped ? ` (${dropped} dropped)` : ''} | ${sec.toFixed(2)} | ${cpuSec.toFixed(2)} | ${Math.round(delivered / sec)} | ${Math.round(rate)} |`);
  return rate;
}

async function main(): Promise<void> {
  console.log(`pipeline throughput, ${N} synthetic file records (replay, one core)\n`);
  console.log('| pipeline | records delivered | wall s | cpu s | records/s wall | records/s per core (cpu) |');
  console.log('|---|---|---|---|---|---|');
  const out = path.join(dir, 'out.jsonl');
  // block: the bench measures what the file takes, not what a full queue drops
  const sink = `file://${out}?policy=block`;
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
  const syslog = await syslogRate();
  console.log(`\njson-min file: ${(bytes / N).toFixed(0)} bytes/record`);
  if (syslog !== undefined) console.log(`syslog+tcp (RFC 5424) to a real rsyslogd: ${Math.round(syslog)} records/s per core`);
  console.log(`formatting+sink cost vs decode+enrich: json-min ${(base / min).toFixed(2)}x, json ${(base / pretty).toFixed(2)}x, table ${(base / table).toFixed(2)}x`);
  console.log(`json-min → file sink: ${Math.round(min)} records/s (goal ≥ 220000: ${min >= 220_000 ? 'met' : 'NOT met'})`);
  const added = (min / rules - 1) * 100;
  console.log(`with live policies (--rules runtimeintegrity): ${Math.round(rules)} records/s; time per record ${(min / rules).toFixed(2)}x of json-min → file sink: policies add ${added.toFixed(1)} % (single runs; goal ≤ 30 %: ${added <= 30 ? 'met' : 'NOT met'})`);
  // alternated rounds: each side's best rate (the least disturbed run of each)
  console.log(`\nalternating json-min → file and + --rules, ${ROUNDS} rounds:\n`);
  console.log('| pipeline | records delivered | wall s | cpu s | records/s wall | records/s per core (cpu) |');
  console.log('|---|---|---|---|---|---|');
  let bestMin = 0, bestRules = 0;
  const mins: number[] = [], withRules: number[] = [], ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const m = await time(`round ${i + 1}: json-min → file sink`, { sinks: [sink] });
    rmSync(out, { force: true });
    const r = await time(`round ${i + 1}: + --rules runtimeintegrity`, { sinks: [sink], rules: RULES });
    rmSync(out, { force: true });
    bestMin = Math.max(bestMin, m);
    bestRules = Math.max(bestRules, r);
    mins.push(m);
    withRules.push(r);
    ratios.push(m / r);
  }
  const addedBest = (bestMin / bestRules - 1) * 100;
  console.log(`best of ${ROUNDS} alternated: json-min ${Math.round(bestMin)}, with policies ${Math.round(bestRules)} records/s per core: policies add ${addedBest.toFixed(1)} % (goal ≤ 30 %: ${addedBest <= 30 ? 'met' : 'NOT met'})`);
  const addedMedian = (median(ratios) - 1) * 100;
  console.log(`median of ${ROUNDS} alternated: json-min ${Math.round(median(mins))}, with policies ${Math.round(median(withRules))} records/s per core; median time per record with policies ${median(ratios).toFixed(2)}x (rounds: ${ratios.map((x) => x.toFixed(2)).join(' ')}): policies add ${addedMedian.toFixed(1)} % (goal ≤ 30 %: ${addedMedian <= 30 ? 'met' : 'NOT met'})`);
}

/** json-min through the syslog+tcp sink (RFC 5424, octet counting) into a private rsyslogd. */
async function syslogRate(): Promise<number | undefined> {
  if (!haveRsyslog()) { console.log('| syslog+tcp → rsyslogd | (rsyslog not installed) | | | | |'); return undefined; }
  const rs = await makeRsyslog(mkdtempSync(path.join(tmpdir(), 'fn-tput-rsyslog-')));
  await rs.start();
  try {
    const M = Math.min(N, 50_000);
    const small = path.join(dir, 'small.bin');
    writeEnrichStream(small, M, false);
    const rate = await time('json-min → syslog+tcp sink → rsyslogd', { sinks: [`syslog+tcp://127.0.0.1:${rs.tcpPort}?policy=block&format=json-min`] }, small);
    for (let i = 0; i < 100 && rs.lines().length < M; i++) await new Promise((r) => setTimeout(r, 100));
    console.log(`(rsyslogd wrote ${rs.lines().length} of ${M} records)`);
    return rate;
  } finally {
    await rs.stop('SIGTERM');
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** -q with no destination: records are decoded and enriched, then dropped by the null exporter. */
function noOutput(): Partial<PipelineOptions> {
  return { quiet: true, sinks: [] };
}

main().catch((e) => { console.error(e); process.exit(1); });
