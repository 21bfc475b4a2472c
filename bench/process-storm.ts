// Process monitor overhead: a fork/exec/exit storm (N children of /bin/true, 2 at a time) timed
// alone, under a count-only BPF floor on the same tracepoints (bpftrace), and under falconet
// -m process (json-min to /dev/null), interleaved rep by rep in one run; medians and ratios.
// Also: records delivered, suppressed/lost counts, and mean BPF ns per hook invocation.
// Usage: node dist/bench/process-storm.js [reps=3] [children=10000] [-- extra agent args]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from '../test/kernel/harness.js';
import { buildC, STORM_C } from '../test/kernel/process-workloads.js';
import { bpfProgStats } from './lib/bpf-stats.js';
import { hookTable } from './lib/hook-goals.js';

const reps = Number(process.argv[2] ?? 3);
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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

/** The process monitor's tracepoints, read from bpf/process.bpf.h (SEC names and PROC_SYSCALL). */
function procTracepoints(): string[] {
  const src = readFileSync(path.join(REPO, 'bpf/process.bpf.h'), 'utf8');
  const tps = new Set<string>();
  for (const m of src.matchAll(/^PROC_SYSCALL\((\w+),/gm)) {
    tps.add(`tracepoint:syscalls:sys_enter_${m[1]}`);
    tps.add(`tracepoint:syscalls:sys_exit_${m[1]}`);
  }
  for (const m of src.matchAll(/SEC\("tp\/syscalls\/(\w+)"\)/g)) tps.add(`tracepoint:syscalls:${m[1]}`);
  for (const m of src.matchAll(/SEC\("tp_btf\/(\w+)"\)/g)) tps.add(`tracepoint:sched:${m[1]}`);
  return [...tps].filter((t) => existsSync(`/sys/kernel/tracing/events/${t.split(':').slice(1).join('/')}`));
}


async function withFloor<T>(fn: () => T): Promise<T> {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'fn-floor-')), 'floor.bt');
  writeFileSync(f, `BEGIN { printf("floor-ready\\n"); }\n${procTracepoints().join(',\n')} { @c = count(); }\n`);
  const bt = spawn('bpftrace', [f], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(bt, 'stdout', 'floor-ready');
  try {
    return fn();
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
  const ms = timeStorm();
  const stormCpu = lastStormCpu;
  await new Promise((r) => setTimeout(r, 300)); // the agent drains the tail
  const agentCpu = both() - a0;
  const hooks = new Map([...bpfProgStats()].filter(([n]) => n.startsWith('proc_')));
  agent.kill('SIGTERM');
  await new Promise((r) => agent.on('close', r));
  const statLines = stderr.split('\n').filter((l) => l.startsWith('falconet-stats '));
  return { ms, stats: JSON.parse(statLines.at(-1)!.slice(15)) as AgentRun['stats'], throttledLines, suppressed, hooks, stormCpu, agentCpu };
}

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  timeStorm(); // warm the page cache and the binaries
  const base: number[] = [], floor: number[] = [], agent: number[] = [], baseCpu: number[] = [];
  const runs: AgentRun[] = [];
  let floorNote = '';
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  for (let i = 0; i < reps; i++) {
    base.push(timeStorm());
    baseCpu.push(lastStormCpu);
    if (!floorNote) {
      try {
        floor.push(await withFloor(timeStorm));
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
  if (floor.length && fl > b) console.log(`falconet added ${(a - b).toFixed(0)} ms = ${((a - b) / (fl - b)).toFixed(2)}x the floor's added time`);
  const bc = median(baseCpu), sc = median(runs.map((r) => r.stormCpu)), ac = median(runs.map((r) => r.agentCpu));
  console.log(`\nCPU seconds (less sensitive to other load than wall time; medians): storm alone ${bc.toFixed(2)}; ` +
    `storm under falconet ${sc.toFixed(2)} (BPF hooks included) + agent and sensor ${ac.toFixed(2)} = ` +
    `${(sc + ac).toFixed(2)} -> CPU ratio ${((sc + ac) / bc).toFixed(3)}`);
  for (const [i, r] of runs.entries()) {
    console.log(`run ${i + 1}: records ${r.stats.recordsOut}, proc_records ${r.stats.counters.proc_records}, proc_drop ${r.stats.counters.proc_drop}, THROTTLED records ${r.throttledLines} (suppressed ${r.suppressed})`);
  }
  const rows = [...runs[0]!.hooks].filter(([, s]) => s.runs > 0)
    .map(([hook, s]) => ({ hook, runs: s.runs, meanNs: s.runNs / s.runs }));
  if (rows.length) {
    console.log('\nper hook, mean BPF ns per invocation over run 1 (bpf_stats; includes its two clock reads):\n');
    console.log(hookTable(rows));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
