// Bench: read every sample SysFlow trace and print it as sysprint JSON (nested, all fields),
// i.e. exactly `falconet print -o json`, the output written to /dev/null with write(2).
// Reports records/s over all records (entities included) and printed rows/s. Target: ≥ 300K
// records/s. One warm-up pass, then N timed passes; median and best are printed.
//   node dist/bench/sysflow-read.js [passes]
import { openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPrint } from '../src/sysflow/print-run.js';
import type { PrintInput } from '../src/sysflow/print-run.js';
import { openSysFlow } from '../src/sysflow/reader.js';
import { EntityTable } from '../src/sysflow/entities.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TRACES = join(process.env.FALCONET_SHARED ?? resolve(REPO, '../shared'), 'data/sysflow/traces');

function traces(d: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(d).sort()) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) out.push(...traces(p));
    else if (n !== 'ORIGIN.txt') out.push(p);
  }
  return out;
}

const inputs: PrintInput[] = traces(TRACES).map((path) => ({ path }));
const passes = Number(process.argv[2] ?? 5);
const devnull = openSync('/dev/null', 'w');

function pass(): { records: number; printed: number; bytes: number; ms: number; cpuMs: number } {
  let bytes = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = runPrint(inputs, {
    output: 'json',
    fields: null,
    filter: null,
    termColumns: 80,
    write: (s) => {
      const b = typeof s === 'string' ? Buffer.from(s) : s;
      let off = 0;
      while (off < b.length) off += writeSync(devnull, b, off);
      bytes += b.length;
    },
    onError: (e) => {
      throw e;
    },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cu = process.cpuUsage(c0);
  return { records: r.records, printed: r.printed, bytes, ms, cpuMs: (cu.user + cu.system) / 1000 };
}

pass(); // warm-up (JIT, file cache)
const runs = Array.from({ length: passes }, pass).sort((a, b) => a.ms - b.ms);
const med = runs[Math.floor(runs.length / 2)]!;
const best = runs[0]!;
const rate = (n: number, ms: number): string => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')}`;
console.log(`sysflow read + print json: ${inputs.length} traces, ${med.records} records (${med.printed} printed rows, ${(med.bytes / 1e6).toFixed(1)} MB JSON) per pass, ${passes} passes`);
console.log(`  median: ${med.ms.toFixed(0)} ms  ${rate(med.records, med.ms)} records/s  ${rate(med.printed, med.ms)} rows/s`);
console.log(`  best:   ${best.ms.toFixed(0)} ms  ${rate(best.records, best.ms)} records/s  ${rate(best.printed, best.ms)} rows/s`);
const cpuRuns = [...runs].sort((a, b) => a.cpuMs - b.cpuMs);
const cmed = cpuRuns[Math.floor(cpuRuns.length / 2)]!;
console.log(`  CPU time (this process, incl. GC threads): median ${cmed.cpuMs.toFixed(0)} ms → ${rate(cmed.records, cmed.cpuMs)} records per CPU-second`);
const load = loadavg()[0]!;
console.log(`  machine: ${cpus().length} CPUs, load average ${load.toFixed(2)} during the run (other work on the machine inflates wall time)`);
// Stage breakdown in the same run: decoding alone, decoding + entity joins.
for (const stage of ['read', 'read+join'] as const) {
  const times: number[] = [];
  let n = 0;
  for (let i = 0; i <= passes; i++) {
    const t0 = process.hrtime.bigint();
    n = 0;
    for (const inp of inputs) {
      const t = new EntityTable();
      for (const o of openSysFlow((inp as { path: string }).path)) {
        n++;
        if (stage === 'read+join') t.push(o);
      }
    }
    if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6); // first pass: warm-up
  }
  times.sort((a, b) => a - b);
  const m = times[Math.floor(times.length / 2)]!;
  console.log(`  stage ${stage.padEnd(9)}: median ${m.toFixed(0)} ms  ${rate(n, m)} records/s`);
}
console.log(`  target ≥ 300,000 records/s: ${med.records / (med.ms / 1000) >= 300_000 ? 'met' : 'NOT met'} (median wall time)`);
