// socket-overhead's redis-benchmark part: Debian's redis-server and redis-benchmark, each pinned to
// a CPU of its own, alone, under the count-only floor, under falconet -m socket (with and without
// payload capture) and under the full default agent, in many short rounds in rotated order; then
// the full agent's hooks by BPF time per request.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { freePort } from '../../test/lib/ports.js';
import { bpfProgStats, withBpfStats } from './bpf-stats.js';
import { childrenCpu, median, procCpu } from './proc.js';
import { AGENT_BIN, bpfRunNs, startAgent, underFloor } from './sock-agent.js';
import { countRecords } from './sock-storm.js';

export const NO_REDIS = 'redis: redis-server/redis-benchmark not installed and apt-get install redis-server redis-tools failed';

function haveRedis(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    execFileSync('redis-benchmark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One redis-benchmark run: mean requests/s of SET and GET, and the CPU µs per request that the
 * server and the benchmark used (utime + stime: the hooks run in their context; steadier than the
 * rate on a shared machine, where other work takes turns on the two pinned CPUs). */
export interface RedisRun { rate: number; cpuUs: number }

/** redis-server on a free port, and run(): one redis-benchmark run of `requests` SETs and GETs
 * against it. */
export async function startRedis(requests: number): Promise<{ port: number; srv: ChildProcess; run: () => RedisRun }> {
  const port = await freePort();
  // server and client each on a CPU of their own: the scheduler moving them around adds noise
  const pin = (cpu: number, argv: string[]): [string, string[]] =>
    (os.availableParallelism() >= 2 ? ['taskset', ['-c', String(cpu), ...argv]] : [argv[0]!, argv.slice(1)]);
  const srv = spawn(...pin(1, ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']), { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => {
    let buf = '';
    srv.stdout!.setEncoding('utf8').on('data', (d: string) => { buf += d; if (buf.includes('Ready to accept')) resolve(); });
  });
  const run = (): RedisRun => {
    const c0 = childrenCpu() + procCpu(srv.pid!);
    const out = execFileSync(...pin(0, ['redis-benchmark', '-p', String(port), '-n', String(requests), '-c', '50', '-t', 'set,get', '-q']), { encoding: 'utf8' });
    const cpu = childrenCpu() + procCpu(srv.pid!) - c0;
    // "SET: 81234.50 requests per second, p50=..." lines: mean of both tests' rates
    const rates = [...out.matchAll(/([\d.]+) requests per second/g)].map((m) => Number(m[1]));
    return { rate: rates.reduce((a, b) => a + b, 0) / rates.length, cpuUs: cpu * 1e6 / (2 * requests) };
  };
  return { port, srv, run };
}

/** Installs Debian's redis-server and redis-tools unless they are there; whether they are now. */
export function installRedis(): boolean {
  if (!haveRedis()) {
    // this bench's own setup: Debian's server and benchmark tool
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server', 'redis-tools'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch { /* reported by the caller */ }
  }
  return haveRedis();
}

/** The redis part of the bench: `rounds` rounds of redis-benchmark -n `requests`. */
export async function redisBench(requests: number, rounds: number): Promise<void> {
  if (!installRedis()) {
    console.log(NO_REDIS);
    return;
  }
  const { port, srv, run } = await startRedis(requests);
  run(); // warm-up
  const base: RedisRun[] = [];
  // connections redis accepted (each INFO query is itself one, counted by its own reply)
  const accepted = (): number => Number(/total_connections_received:(\d+)/.exec(
    execFileSync('redis-cli', ['-p', String(port), 'INFO', 'stats'], { encoding: 'utf8' }))![1]);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  type Cfg = { name: string; monitors: string[]; runs: RedisRun[]; agentUs: number[]; outs: string[]; expected: number; sockDrop: number };
  const cfg = (name: string, monitors: string[]): Cfg => ({ name, monitors, runs: [], agentUs: [], outs: [], expected: 0, sockDrop: 0 });
  // three agents: the socket monitor with and without payload capture, and the full default agent
  // (every monitor: what a host runs when falconet is deployed with its defaults)
  const agents = [
    cfg('falconet -m socket (-p on: kflowd\'s default ports, none of them redis\'s)', ['-m', 'socket']),
    // -p is on by default (kflowd's ports; redis's port matches none): the same agent with every
    // application off shows what the payload programs cost a flow they do not capture
    cfg('falconet -m socket -p dns=off -p http=off -p syslog=off', ['-m', 'socket', '-p', 'dns=off', '-p', 'http=off', '-p', 'syslog=off']),
    cfg('falconet, full default agent (all monitors)', []),
  ];
  const agentRun = async (c: Cfg): Promise<void> => {
    const agent = await startAgent([], AGENT_BIN, c.monitors);
    await pause(2000); // steady state: the agent's own start-up (BPF load, verifier) is over
    const before = accepted();
    const a0 = agent.cpu();
    c.runs.push(run());
    c.agentUs.push((agent.cpu() - a0) * 1e6 / (2 * requests));
    c.expected += accepted() - before + 1;
    c.sockDrop += (await agent.stop()).counters.sock_drop ?? 0;
    c.outs.push(agent.out);
    await pause(2000);
  };
  // Each round runs the five in a rotated order (none, floor, the three agents), so a drift
  // within a round falls on each of them alike
  const floorRuns: RedisRun[] = [];
  let floorNote = '';
  const floorRun = async (): Promise<void> => {
    const r = await underFloor(() => run());
    if (typeof r === 'string') floorNote = r; else floorRuns.push(r);
    await pause(2000);
  };
  const baseRun = async (): Promise<void> => { base.push(run()); await pause(2000); };
  const steps = [baseRun, floorRun, ...agents.map((c) => () => agentRun(c))];
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
  }
  const nsPerReq = (await bpfRunNs(() => { run(); })) / (2 * requests); // SET and GET runs
  // the full agent's hooks during one more run (bpf_stats on): which fire per request, and what they cost
  const fullHooks = await withBpfStats(async () => {
    const agent = await startAgent([], AGENT_BIN, []);
    await pause(2000);
    const s0 = bpfProgStats();
    run();
    const s1 = bpfProgStats();
    await agent.stop();
    return [...s1].map(([name, v]) => {
      const p = s0.get(name) ?? { runNs: 0, runs: 0 };
      return { name, runs: v.runs - p.runs, ns: v.runNs - p.runNs };
    }).filter((h) => h.runs > 0 && /^(file|sock|proc)_/.test(h.name)).sort((a, b) => b.ns - a.ns);
  });
  srv.kill('SIGTERM');
  const rate = (xs: RedisRun[]) => xs.map((x) => x.rate);
  const b = median(rate(base));
  const pairs = (xs: RedisRun[]) => median(xs.map((x, i) => x.rate / base[i]!.rate));
  // CPU: per-round ratio of the redis pair's CPU per request alone to that under the agent (the
  // throughput one CPU-bound server keeps), and the agent's own CPU per request beside it
  const cpuKeep = (xs: RedisRun[]) => median(xs.map((x, i) => base[i]!.cpuUs / x.cpuUs));
  const medCpu = (xs: RedisRun[]) => median(xs.map((x) => x.cpuUs));
  const added = (x: number) => (1e6 / x - 1e6 / b).toFixed(2);
  console.log(`\nredis-benchmark -n ${requests} -c 50 -t set,get (mean of SET and GET requests/s), server and benchmark pinned to CPUs 1 and 0 (taskset), ` +
    `${rounds} rounds of (none, floor, -m socket, -m socket -p off, full agent) in rotated order, median; ` +
    `load average at the end ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${os.availableParallelism()} CPUs`);
  console.log('');
  console.log('| run | requests/s | ratio | median of per-round ratios | added µs/request | redis CPU µs/request (server + benchmark) | CPU kept (per-round median of alone/with) | agent + sensor CPU µs/request |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(`| no agent | ${b.toFixed(0)} | 1.000 | 1.000 | 0 | ${medCpu(base).toFixed(1)} | 1.000 | - |`);
  if (floorRuns.length) {
    const fl = median(rate(floorRuns));
    console.log(`| count-only floor (the monitor's hooks: tp_btf and cgroup_skb ingress) | ${fl.toFixed(0)} | ${(fl / b).toFixed(3)} | ${pairs(floorRuns).toFixed(3)} | ${added(fl)} | ${medCpu(floorRuns).toFixed(1)} | ${cpuKeep(floorRuns).toFixed(3)} | - |`);
  } else console.log(`floor: ${floorNote}`);
  for (const c of agents) {
    const a = median(rate(c.runs));
    console.log(`| ${c.name} | ${a.toFixed(0)} | ${(a / b).toFixed(3)} | ${pairs(c.runs).toFixed(3)} | ${added(a)} | ${medCpu(c.runs).toFixed(1)} | ${cpuKeep(c.runs).toFixed(3)} | ${median(c.agentUs).toFixed(1)} |`);
  }
  const full = agents[2]!;
  console.log(`goal: the full default agent keeps >= 0.95 of redis's throughput alone (median of per-round ratios): ` +
    `${pairs(full.runs).toFixed(3)} ${pairs(full.runs) >= 0.95 ? 'met' : 'NOT met'}; by the redis pair's CPU per request ` +
    `(steadier on a shared machine): ${cpuKeep(full.runs).toFixed(3)} ${cpuKeep(full.runs) >= 0.95 ? 'met' : 'NOT met'}`);
  // -p on vs off, per round (adjacent runs): the payload programs' share
  const onOff = median(agents[0]!.runs.map((x, i) => x.rate / agents[1]!.runs[i]!.rate));
  const spread = (xs: RedisRun[]) => { const r = xs.map((x, i) => x.rate / base[i]!.rate); return (Math.max(...r) - Math.min(...r)) / 2; };
  console.log(`-p on / -p off: median per-round ratio ${onOff.toFixed(3)}; noise (half the spread of per-round ratios to no agent): ±${spread(agents[0]!.runs).toFixed(3)} (on), ±${spread(agents[1]!.runs).toFixed(3)} (off)`);
  const fmt = (xs: RedisRun[]) => xs.map((x) => `${x.rate.toFixed(0)} (${x.cpuUs.toFixed(0)} µs)`).join(', ');
  console.log(`all runs, requests/s (redis CPU µs/request): without: ${fmt(base)}; floor: ${fmt(floorRuns)}; ` +
    agents.map((c) => `${c.name}: ${fmt(c.runs)}`).join('; '));
  for (const c of agents) {
    const t = { client: 0, server: 0 };
    for (const o of c.outs) {
      const r = (await countRecords(o, new Set([port]))).get(port)!;
      t.client += r.client;
      t.server += r.server;
    }
    console.log(`${c.name}: records for redis connections: ${t.client} CLIENT, ${t.server} SERVER for ${c.expected} connections redis accepted while the agent ran; ` +
      `lost ${Math.abs(c.expected - t.client) + Math.abs(c.expected - t.server)}; kernel sock_drop=${c.sockDrop}`);
  }
  console.log(`BPF run time per request (both sockets, -m socket, kernel.bpf_stats_enabled, separate run): ${nsPerReq.toFixed(0)} ns`);
  const req = 2 * requests;
  console.log(`\nfull default agent, one more run with kernel.bpf_stats_enabled: hooks by total BPF time (all work on the machine, not only redis's); ` +
    `all hooks ${(fullHooks.reduce((a, h) => a + h.ns, 0) / req).toFixed(0)} ns per request\n`);
  console.log('| hook | invocations per request | mean ns | ns per request |');
  console.log('|---|---|---|---|');
  for (const h of fullHooks.slice(0, 12)) console.log(`| ${h.name} | ${(h.runs / req).toFixed(2)} | ${(h.ns / h.runs).toFixed(0)} | ${(h.ns / req).toFixed(0)} |`);
}
