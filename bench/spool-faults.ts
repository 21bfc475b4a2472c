// Bench: the delivery spool under faults, full size (issue 12). Four parts, one run:
//  1. start-up on a large spool: time and RSS added by opening it (goal ≤ 1 s, ≤ 32 MiB).
//  2. a stalled sink fed 10× what its queue holds: RSS stays within the queue cap + 64 MiB
//     (memory queue drop_newest and drop_oldest, and with a spool).
//  3. throughput with vs without the spool, file, syslog over TCP and over RELP (goal: ≥ 70 %
//     with the spool), interleaved pairs; the verdict is the median of the per-pair ratios.
//  4. fault injection: N records to a file, rsyslog over TCP, nats-server JetStream and rsyslog
//     over RELP (--sinks selects some of them), each behind a spool; K SIGKILLs of the delivering process (random moments, or every
//     --kill-every-ms), torn writes injected into every spool after each, O outages of every
//     server. Prints the accounting identity per sink, duplicates, recovery times.
//   node dist/bench/spool-faults.js [--records N] [--rate R] [--kills K] [--kill-every-ms MS]
//        [--outages O] [--outage-ms MS] [--throughput-records M] [--throughput-runs T]
//        [--startup-mib S] [--stall-cap-mib Q] [--seed X] [--batch B] [--only startup,stall,throughput,faults]
//        [--sinks file,syslog,nats,relp] [--throughput-sinks file,syslog+tcp,relp]
// Defaults are the issue's full size: 10M records at 20,000/s (500 s), 1,000 random SIGKILLs,
// 8 outages of 60 s per server. `--kill-every-ms 10000 --kills 50` is "a SIGKILL every 10 s".
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allFaultSinks, runFaults, type FaultSink } from '../test/sinks/fault-run.js';
import { runGen } from '../test/sinks/gen-run.js';
import { makeRsyslog, type Rsyslog } from '../test/sinks/rsyslog-harness.js';
import { NatsServer } from '../test/sinks/nats-harness.js';
import { Spool } from '../src/sinks/spool.js';
import { record } from '../test/sinks/gen.js';
import type { MemoryProbe, MemoryReport } from '../test/sinks/memory-child.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const N = arg('records', 10_000_000);
const RATE = arg('rate', 20_000);
const KILLS = arg('kills', 1000);
const OUTAGES = arg('outages', 8);
const OUTAGE_MS = arg('outage-ms', 60_000);
const TP = arg('throughput-records', 200_000);
const STARTUP_MIB = arg('startup-mib', 1024);
const SEED = arg('seed', 1);
const TP_RUNS = arg('throughput-runs', 7);
/** records per send in the fault part (duplicates after a kill are at most one batch per sink) */
const BATCH = arg('batch', 64);
/** SIGKILL every this many ms (0: the kills at random moments) */
const KILL_EVERY_MS = arg('kill-every-ms', 0);
const STALL_CAP_MIB = arg('stall-cap-mib', 64);
/** --only startup,stall,throughput,faults: run some parts */
const ONLY = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1]!.split(',')) : null;
})();
const part = (p: string): boolean => !ONLY || ONLY.has(p);
function list(name: string): string[] | null {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]!.split(',') : null;
}
/** --sinks: the fault part's sinks (default: all the machine has) */
const SINKS = (list('sinks') ?? allFaultSinks()) as FaultSink[];
for (const s of SINKS) if (!allFaultSinks().includes(s)) throw new Error(`--sinks: unknown or unavailable sink ${s} (have ${allFaultSinks().join(', ')})`);
/** --throughput-sinks: the throughput part's rows (default all) */
const TP_SINKS = list('throughput-sinks');

async function faults(dir: string, rs: Rsyslog): Promise<void> {
  const what: Record<FaultSink, string> = { file: 'a file', syslog: 'rsyslog TCP', nats: 'nats-server JetStream', relp: 'rsyslog RELP' };
  console.log(`fault injection: ${N} records at ${RATE}/s to ${SINKS.map((s) => what[s]).join(', ')}, each behind a spool; ${KILLS} SIGKILLs${KILL_EVERY_MS ? ` every ${KILL_EVERY_MS} ms` : ' at random moments'}, ${OUTAGES} outages of ${OUTAGE_MS} ms per server, torn writes into every spool after every kill`);
  const nats = await NatsServer.make(dir);
  const rep = await runFaults({ sinks: SINKS, dir, rsyslog: rs, nats, total: N, rate: RATE, kills: KILLS, killEveryMs: KILL_EVERY_MS || undefined, outages: OUTAGES, outageMs: OUTAGE_MS, outageSignal: 'SIGKILL', confirmMs: 20, seed: SEED, tag: 'bench', batch: BATCH, drainMs: 3_600_000, log: (l) => { if (!l.startsWith('generator SIGKILLed')) console.log(`    ${l}`); } }).finally(() => nats.stop());
  for (const s of rep.sinks) {
    const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
    const ok = s.unique + dropped === s.produced && s.outOfRange === 0;
    console.log(`  ${s.sink.padEnd(7)} delivered-unique ${s.unique} + dropped ${dropped} ${JSON.stringify(s.dropped)} = ${s.unique + dropped} vs produced ${s.produced}: ${ok ? 'EXACT' : 'MISMATCH'}`);
    if (!ok || s.unreportedDuplicates) console.log(`  ${''.padEnd(7)} first missing ${JSON.stringify(s.missing)}; first unreported duplicates ${JSON.stringify(s.unreportedSample)}`);
    console.log(`  ${''.padEnd(7)} duplicates ${s.duplicates} (${((s.duplicates / s.produced) * 100).toFixed(3)} %), re-sent and reported ${s.reportedResent}, unreported duplicates ${s.unreportedDuplicates}`);
  }
  const rec = [...rep.recoveryMs].sort((a, b) => a - b);
  console.log(`  outages done ${JSON.stringify(rep.outagesDone)} of ${OUTAGE_MS} ms each`);
  console.log(`  kills ${rep.kills}, torn writes injected ${rep.tornInjected}, truncated at recovery ${rep.truncatedBytes} bytes`);
  console.log(`  recovery (spool open at each start): median ${rec[rec.length >> 1]?.toFixed(1)} ms, max ${rec.at(-1)?.toFixed(1)} ms over ${rec.length} starts; wall ${(rep.wallMs / 1000).toFixed(1)} s`);
}

async function throughput(dir: string, rs: Rsyslog): Promise<void> {
  console.log(`throughput: ${TP} records (≈130 bytes each) as fast as accepted, drained, policy=block; ${TP_RUNS} interleaved pairs; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  const once = async (url: string, tag: string): Promise<{ rate: number; cpuRate: number }> => {
    const ck = mkdtempSync(join(dir, `ck-${tag}-`));
    const u = url.replace('SPOOL', join(ck, 'spool')).replace('OUT', join(ck, 'out.jsonl'));
    const g = runGen({ sinks: [{ name: tag, url: u }], total: TP, rate: 0, ckptDir: ck, pad: 60, drainMs: 300_000, checkpoint: false });
    const d = await g.done;
    const m = /produced (\d+) and drained in (\d+) ms; delivered (\d+); cpu (\d+) ms/.exec(g.stderr);
    if (d.code !== 0 || !m) throw new Error(`throughput run ${tag} failed: ${g.stderr.slice(-1000)}`);
    // records delivered (policy=block: none dropped, so the figure is not inflated by drops)
    if (Number(m[3]) !== TP) throw new Error(`throughput run ${tag}: ${m[3]} of ${TP} delivered`);
    rmSync(ck, { recursive: true, force: true });
    // records per second of wall clock, and per second of the process's CPU time
    return { rate: Number(m[3]) / (Number(m[2]) / 1000), cpuRate: Number(m[3]) / (Math.max(1, Number(m[4])) / 1000) };
  };
  const rows = ([
    ['file', 'file://OUT?policy=block'],
    ['syslog+tcp', `syslog+tcp://127.0.0.1:${rs.tcpPort}?app=tp&policy=block`],
    ['relp', `relp://127.0.0.1:${rs.relpPort}?app=tp&policy=block`],
  ] as [string, string][]).filter(([name]) => (TP_SINKS ? TP_SINKS.includes(name) : name !== 'relp' || rs.relpPort > 0));
  const median = (a: number[]): number => {
    const v = [...a].sort((x, y) => x - y);
    return v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  for (const [name, url] of rows) {
    const sep = url.includes('?') ? '&' : '?';
    // interleaved pairs: the machine is shared, so single runs vary a lot. The verdict uses the
    // median of the per-pair ratios (each pair ran back to back, under about the same load);
    // best-of-N compares the luckiest run of each arm and is printed for comparison
    const without: number[] = [];
    const withSpool: number[] = [];
    const withoutCpu: number[] = [];
    const withSpoolCpu: number[] = [];
    for (let i = 0; i < TP_RUNS; i++) {
      const a = await once(url, `${name}-nospool`);
      const b = await once(`${url}${sep}spool=SPOOL`, `${name}-spool`);
      without.push(a.rate);
      withSpool.push(b.rate);
      withoutCpu.push(a.cpuRate);
      withSpoolCpu.push(b.cpuRate);
    }
    const pairs = without.map((w, i) => withSpool[i]! / w);
    const cpuPairs = withoutCpu.map((w, i) => withSpoolCpu[i]! / w);
    const ratio = median(pairs);
    const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
    const best = Math.max(...withSpool) / Math.max(...without);
    console.log(`  ${name.padEnd(11)} without spool ${Math.round(median(without))} rec/s, with spool ${Math.round(median(withSpool))} rec/s (medians of ${TP_RUNS}); per-pair ratio median ${pct(ratio)} [${pct(Math.min(...pairs))}..${pct(Math.max(...pairs))}] (goal ≥ 70 %) ${ratio >= 0.7 ? 'MET' : 'NOT MET'}; best-of-${TP_RUNS} ${Math.round(Math.max(...withSpool))} / ${Math.round(Math.max(...without))} = ${pct(best)}`);
    // the same per CPU-second of the delivering process: what the spool costs in CPU, which
    // other load on a shared machine disturbs far less than the wall clock
    console.log(`  ${''.padEnd(11)} per CPU-second: without ${Math.round(median(withoutCpu))}, with spool ${Math.round(median(withSpoolCpu))} rec/s; per-pair ratio median ${pct(median(cpuPairs))} [${pct(Math.min(...cpuPairs))}..${pct(Math.max(...cpuPairs))}]`);
  }
  console.log(`  load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}

async function startup(dir: string): Promise<void> {
  const sdir = join(dir, 'big-spool');
  const s = await Spool.open({ dir: sdir, maxBytes: (STARTUP_MIB + 64) << 20, segmentBytes: 16 << 20, consumers: ['sink'], log: () => {} });
  const batch = Array.from({ length: 4096 }, (_, i) => record(i + 1, 900, 'big', 'b1'));
  let seq = 0;
  while (s.bytes < STARTUP_MIB << 20) {
    await s.append(batch.map((b) => ({ ...b, id: { ...b.id, seq: BigInt(++seq) } })));
  }
  await s.close();
  // a fresh process opens it: time and RSS added by the open
  const probe = `
    const { Spool } = await import(${JSON.stringify(new URL('../src/sinks/spool.js', import.meta.url).href)});
    globalThis.gc?.(); const r0 = process.memoryUsage().rss; const t0 = performance.now();
    const s = await Spool.open({ dir: ${JSON.stringify(sdir)}, maxBytes: ${(STARTUP_MIB + 64) << 20}, consumers: ['sink'], log: () => {} });
    const ms = performance.now() - t0; const first = s.read('sink', 1, 1 << 20).length;
    const r1 = process.memoryUsage().rss;
    console.log(JSON.stringify({ ms, rssMiB: (r1 - r0) / 1048576, first, bytes: s.bytes }));
    await s.close();`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' })) as { ms: number; rssMiB: number; first: number; bytes: number };
  console.log(`start-up on a ${(out.bytes / 1048576).toFixed(0)} MiB spool (${seq} records): open ${out.ms.toFixed(1)} ms (goal ≤ 1000), RSS added ${out.rssMiB.toFixed(1)} MiB (goal ≤ 32), first record readable: ${out.first === 1}`);
}

async function stalled(dir: string): Promise<void> {
  // fresh processes (test/sinks/memory-child.ts): a Delivery whose sink never returns, fed 10×
  // its queue bound; peak RSS added while feeding
  const child = new URL('../test/sinks/memory-child.js', import.meta.url).pathname;
  const cap = STALL_CAP_MIB << 20;
  const cases: [string, MemoryProbe][] = [
    ['memory queue, drop_newest', { capBytes: cap, feed: 10 }],
    ['memory queue, drop_oldest', { capBytes: cap, feed: 10, policy: 'drop_oldest' }],
    ['with a spool', { capBytes: cap, feed: 10, spoolDir: join(dir, 'stall-spool') }],
  ];
  for (const [what, p] of cases) {
    const r = JSON.parse(execFileSync(process.execPath, ['--expose-gc', child, JSON.stringify(p)], { encoding: 'utf8' })) as MemoryReport;
    const ok = r.peakAddedMiB <= STALL_CAP_MIB + 64;
    console.log(`stalled sink, ${what}: fed ${r.produced} records (10× a ${STALL_CAP_MIB} MiB queue): held ${r.depth}, dropped ${JSON.stringify(r.dropped)}; peak RSS added ${r.peakAddedMiB.toFixed(0)} MiB (goal ≤ cap + 64 = ${STALL_CAP_MIB + 64}) ${ok ? 'MET' : 'NOT MET'}`);
    rmSync(join(dir, 'stall-spool'), { recursive: true, force: true });
  }
}

const dir = mkdtempSync(join(tmpdir(), 'falconet-spool-bench-'));
const rs = await makeRsyslog(dir);
try {
  await rs.start();
  if (part('startup')) await startup(dir);
  if (part('stall')) await stalled(dir);
  if (part('throughput')) await throughput(dir, rs);
  if (part('faults')) await faults(dir, rs);
} finally {
  await rs.stop();
  // --keep: leave the outputs, spools and the generators' log (DIR/bench-gen.log) for diagnosis
  if (process.argv.includes('--keep')) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
