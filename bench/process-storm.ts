// Process monitor overhead: a fork/exec/exit storm (N children of /bin/true, 2 at a time) timed
// alone, under a count-only BPF floor on the same tracepoints (bpftrace), and under falconet
// -m process (json-min to /dev/null), interleaved rep by rep in one run; medians and ratios.
// Also: records delivered, suppressed/lost counts, and mean BPF ns per hook invocation. Beside
// wall time (noisy on a shared machine) it prints the workload's CPU time (the hooks run in its
// context) and the BPF run time per child of the floor's programs and of falconet's hooks
// (bpf_stats, over each storm only): the steadiest measure of what the kernel side adds.
// Usage: node dist/bench/process-storm.js [reps=5] [children=10000] [-- extra agent args]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { scratchDir } from '../test/lib/temp-dir.js';
import { REPO } from '../test/kernel/harness.js';
import { buildC, STORM_C } from '../test/kernel/process-workloads.js';
import { bpfProgStats, bpfProgStatsById } from './lib/bpf-stats.js';
import { hookTable } from './lib/hook-goals.js';
import { median } from './lib/proc.js';

const reps = Number(process.argv[2] ?? 5); // interleaved: the median of 5 outlasts a burst of other work
const N = Number(process.argv[3] ?? 10000);
const dashdash = process.argv.indexOf('--');
const agentArgs = dashdash > 0 ? process.argv.slice(dashdash + 1) : [];
const bin = buildC('storm', STORM_C);

/** utime+stime (own, or of waited-for descendants) of a process in seconds; undefined if gone. */
function procCpu(pid: number | 'self', children = false): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const i = children ? 13 : 11; // cutime, cstime follow utime, stime
    return (Number(f[i]) + Number(f[i + 1])) / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds of the last storm (the storm and its children, reaped). */
let lastStormCpu = 0;

function timeStorm(): number {
  const c0 = procCpu('self', true)!;
  const t = process.hrtime.bigint();
  const out = JSON.parse(execFileSync(bin, [String(N), '2'], { encoding: 'utf8' })) as { ok: number };
  if (out.ok !== N) throw new Error(`storm: only ${out.ok} of ${N} children exited 0`);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  lastStormCpu = procCpu('self', true)! - c0;
  return ms;
}

function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', needle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child[stream]!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (buf.includes(needle)) resolve();
    });
    child.on('close', (c) => reject(new Error(`exited ${c} before "${needle}": ${buf.slice(-500)}`)));
  });
}

/** The process monitor's tracepoints: its syscall list (bpf/proc_syscalls.def: an enter and an
 * exit program per PROC_SYSCALL, an exit per PROC_SYSCALL_EXIT) and the SEC names of
 * bpf/process.bpf.h (hand-written enter programs, sched tracepoints). */
function procTracepoints(): string[] {
  const def = readFileSync(path.join(REPO, 'bpf/proc_syscalls.def'), 'utf8');
  const src = readFileSync(path.join(REPO, 'bpf/process.bpf.h'), 'utf8');
  const tps = new Set<string>();
  for (const m of def.matchAll(/^PROC_SYSCALL(_EXIT)?\((\w+),/gm)) {
    if (!m[1]) tps.add(`tracepoint:syscalls:sys_enter_${m[2]}`);
    tps.add(`tracepoint:syscalls:sys_exit_${m[2]}`);
  }
  for (const m of src.matchAll(/SEC\("tp\/syscalls\/(\w+)"\)/g)) tps.add(`tracepoint:syscalls:${m[1]}`);
  for (const m of src.matchAll(/SEC\("tp_btf\/(\w+)"\)/g)) tps.add(`tracepoint:sched:${m[1]}`);
  return [...tps].filter((t) => existsSync(`/sys/kernel/tracing/events/${t.split(':').slice(1).join('/')}`));
}


/** BPF run time (ns) of the floor's programs during the last floor run (bpf_stats). */
let lastFloorBpfNs = 0;

async function withFloor<T>(fn: () => T): Promise<T> {
  const f = path.join(scratchDir('fn-floor-'), 'floor.bt');
  writeFileSync(f, `BEGIN { printf("floor-ready\\n"); }\n${procTracepoints().join(',\n')} { @c = count(); }\n`);
  const before = new Set(bpfProgStatsById().keys());
  const bt = spawn('bpftrace', [f], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(bt, 'stdout', 'floor-ready');
  // the floor's programs: loaded by bpftrace since (names are bpftrace's, never falconet's)
  const mine = () => [...bpfProgStatsById()].filter(([id, p]) => !before.has(id) && !/^(proc|file|sock)_/.test(p.name))
    .reduce((a, [, p]) => a + p.runNs, 0);
  const ns0 = mine();
  try {
    const r = fn();
    lastFloorBpfNs = mine() - ns0;
    return r;
  } finally {
    // SIGTERM: a shell's background job inherits SIGINT ignored, and bpftrace keeps that
    const closed = new Promise((r) => bt.on('close', r));
    bt.kill('SIGTERM');
    const t = setTimeout(() => bt.kill('SIGKILL'), 5000);
    await closed;
    clearTimeout(t);
  }
}

interface AgentRun {
  ms: number;
  stats: { counters: Record<string, number>; recordsOut: number };
  throttledLines: number;
  suppressed: number;
  /** proc_ programs: run time and count over the agent's life (sampled before it stops) */
  hooks: Map<string, { runNs: number; runs: number }>;
  /** CPU seconds during the storm: the storm itself (BPF time included: hooks run in its
   * context), and the agent + sensor processes */
  stormCpu: number;
  agentCpu: number;
}

async function withAgent(): Promise<AgentRun> {
  const agent = spawn(process.execPath, [path.join(REPO, 'bin/falconet'), '-m', 'process', '-o', 'json-min', '--stats', ...agentArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let throttledLines = 0;
  let suppressed = 0;
  let tail = '';
  agent.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (tail + d).split('\n');
    tail = lines.pop()!;
    for (const l of lines) {
      if (!l.includes('"THROTTLED"')) continue;
      throttledLines++;
      suppressed += (JSON.parse(l) as { EventSuppressed: number }).EventSuppressed;
    }
  });
  const ready = waitFor(agent, 'stderr', 'sensor ready');
  agent.stderr!.on('data', (d: string) => { stderr += d; });
  await ready;
  const sensorPid = Number(readFileSync(`/proc/${agent.pid}/task/${agent.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  const both = () => (procCpu(agent.pid!) ?? 0) + (procCpu(sensorPid) ?? 0);
  const a0 = both();
  const procHooks = () => new Map([...bpfProgStats()].filter(([n]) => n.startsWith('proc_')));
  const h0 = procHooks();
  const ms = timeStorm();
  const h1 = procHooks();
  const stormCpu = lastStormCpu;
  await new Promise((r) => setTimeout(r, 300)); // the agent drains the tail
  const agentCpu = both() - a0;
  // the storm's window only (the agent's start-up and drain are not the workload's)
  const hooks = new Map([...h1].map(([n, v]) => {
    const p = h0.get(n) ?? { runNs: 0, runs: 0 };
    return [n, { runNs: v.runNs - p.runNs, runs: v.runs - p.runs }];
  }));
  agent.kill('SIGTERM');
  await new Promise((r) => agent.on('close', r));
  const statLines = stderr.split('\n').filter((l) => l.startsWith('falconet-stats '));
  return { ms, stats: JSON.parse(statLines.at(-1)!.slice(15)) as AgentRun['stats'], throttledLines, suppressed, hooks, stormCpu, agentCpu };
}

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  timeStorm(); // warm the page cache and the binaries
  const base: number[] = [], floor: number[] = [], agent: number[] = [], baseCpu: number[] = [];
  const floorCpu: number[] = [], floorBpf: number[] = [];
  const runs: AgentRun[] = [];
  let floorNote = '';
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  for (let i = 0; i < reps; i++) {
    base.push(timeStorm());
    baseCpu.push(lastStormCpu);
    if (!floorNote) {
      try {
        floor.push(await withFloor(timeStorm));
        floorCpu.push(lastStormCpu);
        floorBpf.push(lastFloorBpfNs);
      } catch (e) {
        floorNote = `floor unavailable: ${(e as Error).message}`;
      }
    }
    const r = await withAgent();
    agent.push(r.ms);
    runs.push(r);
  }
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=0']);

  const b = median(base), a = median(agent), fl = floor.length ? median(floor) : NaN;
  console.log(`process storm: ${N} x (fork, execve /bin/true, exit), 2 at a time; ${reps} interleaved runs each, median wall time`);
  console.log(`agent: falconet -m process -o json-min > pipe ${agentArgs.join(' ')}`.trimEnd());
  console.log(`load average (1 min) at start ${load0.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs: other work on the machine skews every column`);
  console.log('');
  console.log('| run | wall ms (median) | all runs | ratio vs none | added ms |');
  console.log('|---|---|---|---|---|');
  const all = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
  console.log(`| no agent | ${b.toFixed(0)} | ${all(base)} | 1.000 | 0 |`);
  if (floor.length) console.log(`| count-only floor (bpftrace, same ${procTracepoints().length} tracepoints) | ${fl.toFixed(0)} | ${all(floor)} | ${(fl / b).toFixed(3)} | ${(fl - b).toFixed(0)} |`);
  console.log(`| falconet -m process | ${a.toFixed(0)} | ${all(agent)} | ${(a / b).toFixed(3)} | ${(a - b).toFixed(0)} |`);
  if (floorNote) console.log(floorNote);
  console.log(`\ntarget: ratio <= 1.15 -> ${a / b <= 1.15 ? 'met' : 'NOT met'} (${(a / b).toFixed(3)})`);
  if (floor.length && fl > b) {
    // goal (issue 16): <= 1.5x; a median at or below the no-agent one is within the noise, not a negative cost
    const r = (a - b) / (fl - b);
    console.log(a > b ? `falconet added ${(a - b).toFixed(0)} ms = ${r.toFixed(2)}x the floor's added ${(fl - b).toFixed(0)} ms (goal <= 1.5x: ${r <= 1.5 ? 'met' : 'NOT met'})`
      : `falconet's median is at or below the no-agent median (${(a - b).toFixed(0)} ms): its added time is within the noise, the floor's is ${(fl - b).toFixed(0)} ms (goal <= 1.5x: met in this run)`);
  } else if (floor.length) {
    console.log(`the floor's median is at or below the no-agent median: no wall-time ratio in this run (see the CPU and BPF lines)`);
  }
  const bc = median(baseCpu), sc = median(runs.map((r) => r.stormCpu)), ac = median(runs.map((r) => r.agentCpu));
  console.log(`\nCPU seconds (less sensitive to other load than wall time; medians): storm alone ${bc.toFixed(2)}; ` +
    `storm under falconet ${sc.toFixed(2)} (BPF hooks included) + agent and sensor ${ac.toFixed(2)} = ` +
    `${(sc + ac).toFixed(2)} -> CPU ratio ${((sc + ac) / bc).toFixed(3)}`);
  // The workload's CPU (the storm and its reaped children, 10 ms ticks): the hooks run in its
  // context, so its growth is what the kernel side adds. Per round against that round's run alone.
  const addedCpu = (xs: number[]) => median(xs.map((x, i) => x - baseCpu[i]!));
  const fa = addedCpu(runs.map((r) => r.stormCpu));
  if (floorCpu.length) {
    const ff = addedCpu(floorCpu);
    console.log(`workload CPU added (median per round vs that round's run alone; ±10 ms ticks, and other load moves a ${bc.toFixed(2)} s storm by more): ` +
      `floor ${(ff * 1e3).toFixed(0)} ms, falconet ${(fa * 1e3).toFixed(0)} ms` + (ff > 0 ? ` = ${(fa / ff).toFixed(2)}x the floor's` : ' (floor within noise: no ratio)'));
  }
  // BPF run time during the storm: the kernel-side cost itself, independent of other load (it
  // counts other processes' events in the same window too, in both arms)
  const bpfPer = (ns: number) => (ns / N / 1e3).toFixed(2);
  const fb = median(runs.map((r) => [...r.hooks.values()].reduce((x, h) => x + h.runNs, 0)));
  if (floorBpf.length) {
    const flb = median(floorBpf);
    console.log(`BPF run time during the storm (bpf_stats, median): floor ${bpfPer(flb)} µs per child, falconet's hooks ${bpfPer(fb)} µs per child = ${(fb / flb).toFixed(2)}x the floor's`);
  }
  console.log(`agent + sensor CPU (records to JSON, other processes' events included): ${(ac / N * 1e6).toFixed(1)} µs per child, ` +
    `${(ac * 1e6 / Math.max(1, median(runs.map((r) => r.stats.recordsOut)))).toFixed(1)} µs per record`);
  for (const [i, r] of runs.entries()) {
    console.log(`run ${i + 1}: records ${r.stats.recordsOut}, proc_records ${r.stats.counters.proc_records}, proc_drop ${r.stats.counters.proc_drop}, THROTTLED records ${r.throttledLines} (suppressed ${r.suppressed})`);
  }
  const rows = [...runs[0]!.hooks].filter(([, s]) => s.runs > 0)
    .map(([hook, s]) => ({ hook, runs: s.runs, meanNs: s.runNs / s.runs }));
  if (rows.length) {
    console.log('\nper hook, mean BPF ns per invocation during run 1\'s storm (bpf_stats; includes its two clock reads):\n');
    console.log(hookTable(rows));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
