// Socket monitor overhead, measured in one run:
//  1. a loopback connection storm (C: N sequential connect / 1-byte request / 1-byte reply /
//     close), alone, under a count-only floor (bench/floor: one counter increment on each of the
//     monitor's hooks), and under falconet -m socket; records are compared exactly with connections (one CLIENT and one
//     SERVER record per connection);
//  2. redis-benchmark against Debian's redis-server: alone, under the same count-only floor, under
//     falconet -m socket and under the full default agent (every monitor), in many short rounds
//     in rotated order (this VM's speed shifts by 10-20% for seconds at a time: a ratio of two
//     long runs mostly measures that); server and benchmark are pinned to their own CPUs.
//  3. `paths` mode: the BPF cost of each TCP export path (socket storage iterator, map walk) in
//     one run: ns per packet of the packet hooks, BPF ns per redis request and per storm
//     connection, timer ns per tick (kernel.bpf_stats_enabled).
// Usage: node dist/bench/socket-overhead.js [reps=3] [connections=20000 (0: redis only)] [redis requests=100000 (0: storm only)] [redis rounds=10]
//        node dist/bench/socket-overhead.js paths [connections=5000] [redis requests=50000 (0: storm only)] [rounds=3]
// FALCONET_NO_SK_ITER=1 makes every agent of a run use the map-walk path. FALCONET_BENCH_AGENT
// runs another checkout's bin/falconet. FALCONET_BENCH_PATHS lists the runs of `paths` mode
// (default iterator,map-walk); NAME@/other/checkout/bin/falconet adds another build's agent, run
// without flags (a before/after comparison in the same run).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { scratchDir } from '../test/lib/temp-dir.js';
import { REPO } from '../test/kernel/harness.js';
import { freePort } from '../test/lib/ports.js';
import { bpfProgStats, bpfProgStatsById, type ProgStats } from './lib/bpf-stats.js';

const PATHS_MODE = process.argv[2] === 'paths';
const argv = PATHS_MODE ? ['', '', '1', ...process.argv.slice(3)] : process.argv;
const reps = Number(argv[2] ?? 3);
const CONNS = Number(argv[3] ?? (PATHS_MODE ? 5000 : 20000));
const REDIS_N = Number(argv[4] ?? (PATHS_MODE ? 50000 : 100000));
const REDIS_ROUNDS = Number(argv[5] ?? (PATHS_MODE ? 3 : 10));
const AGENT_BIN = process.env.FALCONET_BENCH_AGENT ?? path.join(REPO, 'bin/falconet');

const STORM_C = `
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int lfd, n;
static void *serve(void *a) {
  for (int i = 0; i < n; i++) {
    int c = accept(lfd, 0, 0); char b;
    if (c < 0 || read(c, &b, 1) != 1 || write(c, &b, 1) != 1) exit(3);
    close(c);
  }
  return a;
}
int main(int argc, char **argv) {
  n = atoi(argv[1]);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1; setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (void *)&sa, sizeof sa) || listen(lfd, 1024)) return 1;
  socklen_t sl = sizeof sa; getsockname(lfd, (void *)&sa, &sl);
  printf("%d\\n", ntohs(sa.sin_port)); fflush(stdout);
  pthread_t t; pthread_create(&t, 0, serve, 0);
  /* each run connects from its own source address: TIME_WAIT left by earlier runs does not
   * crowd its ephemeral ports */
  struct sockaddr_in src = { .sin_family = AF_INET };
  inet_pton(AF_INET, argv[2], &src.sin_addr);
  for (int i = 0; i < n; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0); char b = 'x';
    setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c, (void *)&src, sizeof src)) return 4;
    if (connect(c, (void *)&sa, sizeof sa) || write(c, &b, 1) != 1 || read(c, &b, 1) != 1) return 2;
    close(c);
  }
  pthread_join(t, 0);
  return 0;
}
`;

function buildStorm(): string {
  const dir = scratchDir('fn-storm-');
  writeFileSync(path.join(dir, 'storm.c'), STORM_C);
  execFileSync('cc', ['-O2', '-pthread', '-o', path.join(dir, 'storm'), path.join(dir, 'storm.c')]);
  return path.join(dir, 'storm');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let runNo = 0;
/** Runs the storm; returns connections/s and the server port. */
/** cpuUs: the storm's own CPU (user + sys; the hooks run in its context) per connection. */
function storm(bin: string): { rate: number; port: number; cpuUs: number } {
  const k = ++runNo;
  const src = `127.${1 + Math.floor(k / 250)}.${k % 250}.${(process.pid % 250) + 1}`;
  const c0 = childrenCpu();
  const t = process.hrtime.bigint();
  const out = execFileSync(bin, [String(CONNS), src], { encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  return { rate: CONNS / s, port: Number(out.trim()), cpuUs: (childrenCpu() - c0) * 1e6 / CONNS };
}

function waitStderr(child: ChildProcess, needle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { buf += d; if (buf.includes(needle)) resolve(); });
    child.on('close', (c) => reject(new Error(`exited ${c} before "${needle}": ${buf}`)));
  });
}

interface Agent {
  stop: () => Promise<{ counters: Record<string, number>; recordsOut: number }>;
  out: string;
  /** the agent's "tcp_export: ..." startup line (which TCP export path it uses) */
  tcpExport: string;
  /** CPU seconds used so far by the agent (node) and its sensor */
  cpu: () => number;
}

function procCpu(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** BPF run time (ns) of the socket monitor's programs while `work` runs under a fresh agent, with
 * kernel.bpf_stats_enabled on: a separate run, since the accounting adds its own cost. */
async function bpfRunNs(work: () => void): Promise<number> {
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  try {
    const agent = await startAgent();
    const ns0 = sockBpfNs();
    work();
    await new Promise((r) => setTimeout(r, 600));
    const ns = sockBpfNs() - ns0;
    await agent.stop();
    return ns;
  } finally {
    execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=0']);
  }
}

/** BPF run time (ns) of the floor's programs while `work` runs under it (bpf_stats on): the
 * programs loaded since the floor started, by id (not falconet's: no run holds both). */
async function floorBpfNs(work: () => void): Promise<number | string> {
  const before = new Set(bpfProgStatsById().keys());
  const sum = () => [...bpfProgStatsById()].filter(([id]) => !before.has(id)).reduce((a, [, p]) => a + p.runNs, 0);
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  try {
    return await underFloor(() => { const n0 = sum(); work(); return sum() - n0; });
  } finally {
    execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=0']);
  }
}

/** Sum of run time of the socket monitor's BPF programs (kernel.bpf_stats_enabled). */
function sockBpfNs(): number {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { name?: string; run_time_ns?: number }[];
  return list.filter((p) => p.name?.startsWith('sock_')).reduce((a, p) => a + (p.run_time_ns ?? 0), 0);
}

/** monitors: the agent's -m arguments; [] runs the full default agent (every monitor). */
async function startAgent(extra: string[] = [], agentBin = AGENT_BIN, monitors = ['-m', 'socket']): Promise<Agent> {
  const out = path.join(scratchDir('fn-sockbench-'), 'records.jsonl');
  const sh = spawn('sh', ['-c', `exec "${process.execPath}" "${agentBin}" ${monitors.join(' ')} -o json-min --stats ${extra.join(' ')} > "${out}"`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const ready = waitStderr(sh, 'sensor ready');
  sh.stderr!.on('data', (d: string) => { stderr += d; });
  await ready;
  return {
    out,
    tcpExport: /^falconet: (tcp_export: .*)$/m.exec(stderr)?.[1] ?? 'tcp_export not named (an agent from before the map-walk path: socket storage hooks)',
    cpu: () => procCpu(sh.pid!) + childrenOf(sh.pid!).reduce((a, c) => a + procCpu(c), 0),
    stop: async () => {
      await new Promise((r) => setTimeout(r, 500));
      const closed = new Promise((r) => sh.on('close', r));
      const sensors = childrenOf(sh.pid!);
      sh.kill('SIGTERM');
      await closed;
      // the sensor detaches its programs after the agent is gone: the next baseline waits for it
      for (let i = 0; i < 200 && sensors.some((p) => existsSync(`/proc/${p}`)); i++) await new Promise((r) => setTimeout(r, 100));
      const last = stderr.split('\n').filter((l) => l.startsWith('falconet-stats ')).at(-1)!;
      return JSON.parse(last.slice(15)) as { counters: Record<string, number>; recordsOut: number };
    },
  };
}

/** Client and server TCP records of one server port, counted from the agent's output. */
async function countRecords(file: string, ports: Set<number>): Promise<Map<number, { client: number; server: number }>> {
  const m = new Map<number, { client: number; server: number }>();
  for (const p of ports) m.set(p, { client: 0, server: 0 });
  const rl = createInterface({ input: createReadStream(file) });
  for await (const line of rl) {
    if (!line.includes('"SockProtocol": "TCP"')) continue;
    const r = JSON.parse(line) as { SockRole: string; SockLocalPort: number; SockRemotePort: number };
    if (r.SockRole === 'SERVER' && m.has(r.SockLocalPort)) m.get(r.SockLocalPort)!.server++;
    if (r.SockRole === 'CLIENT' && m.has(r.SockRemotePort)) m.get(r.SockRemotePort)!.client++;
  }
  return m;
}

/** The count-only floor on the monitor's own hooks (bench/floor): built once, or why not. */
let floorBin: { bin: string; obj: string } | string | undefined;
function buildFloor(): { bin: string; obj: string } | string {
  if (floorBin) return floorBin;
  const dir = scratchDir('fn-floor-');
  const src = path.join(REPO, 'bench/floor');
  try {
    // vmlinux.h as bpf/Makefile finds it: shipped per arch, else generated in bpf/
    const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-mcpu=v3', `-D__TARGET_ARCH_${arch}`,
      '-I', path.join(REPO, 'bpf/vmlinux', arch), '-I', path.join(REPO, 'bpf'), '-c',
      path.join(src, 'sock-floor.bpf.c'), '-o', path.join(dir, 'sock-floor.bpf.o')], { stdio: 'pipe' });
    execFileSync('cc', ['-O2', '-o', path.join(dir, 'sock-floor'), path.join(src, 'sock-floor.c'), '-lbpf'], { stdio: 'pipe' });
    floorBin = { bin: path.join(dir, 'sock-floor'), obj: path.join(dir, 'sock-floor.bpf.o') };
  } catch (e) {
    floorBin = `cannot build bench/floor: ${(e as Error).message.split('\n')[0]}`;
  }
  return floorBin;
}

/** Runs work() under the count-only floor; its result, or why there is no floor. */
async function underFloor<T>(work: () => T | Promise<T>): Promise<T | string> {
  const fb = buildFloor();
  if (typeof fb === 'string') return fb;
  const fl = spawn(fb.bin, [fb.obj], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  fl.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const closed = new Promise((res) => fl.on('close', res));
  const ready = await new Promise<boolean>((resolve) => {
    let buf = '';
    fl.stdout!.setEncoding('utf8').on('data', (d: string) => { buf += d; if (buf.includes('floor-ready')) resolve(true); });
    fl.on('close', () => resolve(false));
  });
  if (!ready) return `floor did not start: ${err.trim()}`;
  const r = await work();
  fl.kill('SIGINT');
  await closed;
  return r;
}

async function floorRuns(bin: string, n: number): Promise<{ rate: number; cpuUs: number }[] | string> {
  return underFloor(() => Array.from({ length: n }, () => storm(bin)));
}

function haveRedis(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    execFileSync('redis-benchmark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** redis-server on a free port, and a redis-benchmark run against it (mean requests/s of SET and GET). */
/** One redis-benchmark run: mean requests/s of SET and GET, and the CPU µs per request that the
 * server and the benchmark used (utime + stime: the hooks run in their context; steadier than the
 * rate on a shared machine, where other work takes turns on the two pinned CPUs). */
interface RedisRun { rate: number; cpuUs: number }

/** utime + stime of this process's reaped children, in seconds. */
function childrenCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

async function startRedis(): Promise<{ port: number; srv: ChildProcess; run: () => RedisRun }> {
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
    const out = execFileSync(...pin(0, ['redis-benchmark', '-p', String(port), '-n', String(REDIS_N), '-c', '50', '-t', 'set,get', '-q']), { encoding: 'utf8' });
    const cpu = childrenCpu() + procCpu(srv.pid!) - c0;
    // "SET: 81234.50 requests per second, p50=..." lines: mean of both tests' rates
    const rates = [...out.matchAll(/([\d.]+) requests per second/g)].map((m) => Number(m[1]));
    return { rate: rates.reduce((a, b) => a + b, 0) / rates.length, cpuUs: cpu * 1e6 / (2 * REDIS_N) };
  };
  return { port, srv, run };
}

function installRedis(): boolean {
  if (!haveRedis()) {
    // this bench's own setup: Debian's server and benchmark tool
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server', 'redis-tools'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch { /* reported by the caller */ }
  }
  return haveRedis();
}

/** Run time of the socket monitor's programs between two samples: per program and in total. */
function sockDelta(a: ProgStats, b: ProgStats): { total: number; prog: (name: string) => { ns: number; runs: number } } {
  const prog = (name: string) => {
    const x = a.get(name) ?? { runNs: 0, runs: 0 }, y = b.get(name) ?? { runNs: 0, runs: 0 };
    return { ns: y.runNs - x.runNs, runs: y.runs - x.runs };
  };
  let total = 0;
  for (const name of b.keys()) if (name.startsWith('sock_')) total += prog(name).ns;
  return { total, prog };
}

/** paths mode: the BPF cost of each TCP export path, measured in one run (bpf_stats on), in
 * rounds that alternate the paths (this machine's speed drifts); medians per path. */
async function pathCosts(): Promise<void> {
  const runs = (process.env.FALCONET_BENCH_PATHS ?? 'iterator,map-walk').split(',').map((x) => {
    const [name, bin] = x.split('@');
    return { name: name!, bin: bin ?? AGENT_BIN, args: name === 'map-walk' && !bin ? ['--no-sk-iter'] : [] };
  });
  const bin = buildStorm();
  storm(bin); // warm-up
  // redis requests 0: the connection storm only (redis-benchmark -n 0 would never end)
  const redis = REDIS_N > 0 && installRedis() ? await startRedis() : undefined;
  redis?.run();
  type M = { tx: number; rx: number; pkt: number; req: number; conn: number; tick: number };
  const got = new Map<string, { line: string; ms: M[] }>();
  for (let round = 0; round < REDIS_ROUNDS; round++) {
    for (let k = 0; k < runs.length; k++) {
      const r = runs[(round + k) % runs.length]!;
      execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
      try {
        const agent = await startAgent(r.args, r.bin);
        await new Promise((res) => setTimeout(res, 1000));
        const s0 = bpfProgStats();
        storm(bin);
        await new Promise((res) => setTimeout(res, 600)); // the timer's ticks of this phase
        const s1 = bpfProgStats();
        if (redis) redis.run();
        const s2 = bpfProgStats();
        await agent.stop();
        const st = sockDelta(s0, s1), rd = sockDelta(s1, s2), all = sockDelta(s0, s2);
        // each path loads its own copy of the two packet hooks (..._w: the map-walk path's)
        const both = (a: string, b: string) => { const x = rd.prog(a), y = rd.prog(b); return { ns: x.ns + y.ns, runs: x.runs + y.runs }; };
        const tx = both('sock_dev_xmit', 'sock_dev_xmit_w'), rx = both('sock_skb_in', 'sock_skb_in_w');
        const ticks = all.prog('sock_export');
        const e = got.get(r.name) ?? { line: agent.tcpExport, ms: [] };
        e.ms.push({
          tx: tx.ns / Math.max(1, tx.runs), rx: rx.ns / Math.max(1, rx.runs), pkt: (tx.ns + rx.ns) / Math.max(1, tx.runs + rx.runs),
          req: rd.total / (2 * REDIS_N), conn: st.total / CONNS, tick: (ticks.ns + all.prog('sock_tcp_iter').ns) / Math.max(1, ticks.runs),
        });
        got.set(r.name, e);
      } finally {
        execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=0']);
      }
    }
  }
  redis?.srv.kill('SIGTERM');
  const med = (ms: M[], k: keyof M) => median(ms.map((m) => m[k]));
  console.log(`BPF cost per TCP export path (kernel.bpf_stats_enabled; storm of ${CONNS} connections, redis-benchmark -n ${REDIS_N} -c 50 -t set,get; ` +
    `${REDIS_ROUNDS} rounds in rotated order, medians)`);
  console.log('');
  console.log('| run (agent\'s startup line) | tx hook ns/packet | rx hook ns/packet | ns/packet (both hooks) | BPF ns/redis request | BPF ns/storm connection | timer ns/tick |');
  console.log('|---|---|---|---|---|---|---|');
  const r = redis ? (ms: M[], k: keyof M) => med(ms, k).toFixed(0) : () => '-';
  for (const [name, e] of got) {
    console.log(`| ${name} (${e.line}) | ${r(e.ms, 'tx')} | ${r(e.ms, 'rx')} | ${r(e.ms, 'pkt')} | ${r(e.ms, 'req')} | ${med(e.ms, 'conn').toFixed(0)} | ${med(e.ms, 'tick').toFixed(0)} |`);
  }
  for (const [name, e] of got) console.log(`${name}: ns/packet per round ${e.ms.map((m) => m.pkt.toFixed(0)).join(', ')}`);
  // ratios only between runs that used different paths (a refused iterator runs the map walk)
  const names = [...got.keys()];
  for (const a of names) for (const b of names) {
    const ea = got.get(a)!, eb = got.get(b)!;
    const kind = (line: string) => /^tcp_export: (iterator|map-walk)/.exec(line)?.[1] ?? line;
    if (a >= b || !redis || kind(ea.line) === kind(eb.line)) continue;
    console.log(`${b} / ${a}: per packet ${(med(eb.ms, 'pkt') / med(ea.ms, 'pkt')).toFixed(3)}, per request ${(med(eb.ms, 'req') / med(ea.ms, 'req')).toFixed(3)}, ` +
      `per connection ${(med(eb.ms, 'conn') / med(ea.ms, 'conn')).toFixed(3)}`);
  }
  if (!redis && REDIS_N > 0) console.log('redis: redis-server/redis-benchmark not installed and apt-get install redis-server redis-tools failed');
}

async function redisBench(): Promise<void> {
  if (!installRedis()) {
    console.log('redis: redis-server/redis-benchmark not installed and apt-get install redis-server redis-tools failed');
    return;
  }
  const { port, srv, run } = await startRedis();
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
    c.agentUs.push((agent.cpu() - a0) * 1e6 / (2 * REDIS_N));
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
  for (let i = 0; i < REDIS_ROUNDS; i++) {
    for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
  }
  const nsPerReq = (await bpfRunNs(() => { run(); })) / (2 * REDIS_N); // SET and GET runs
  // the full agent's hooks during one more run (bpf_stats on): which fire per request, and what they cost
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  let fullHooks: { name: string; runs: number; ns: number }[] = [];
  try {
    const agent = await startAgent([], AGENT_BIN, []);
    await pause(2000);
    const s0 = bpfProgStats();
    run();
    const s1 = bpfProgStats();
    await agent.stop();
    fullHooks = [...s1].map(([name, v]) => {
      const p = s0.get(name) ?? { runNs: 0, runs: 0 };
      return { name, runs: v.runs - p.runs, ns: v.runNs - p.runNs };
    }).filter((h) => h.runs > 0 && /^(file|sock|proc)_/.test(h.name)).sort((a, b) => b.ns - a.ns);
  } finally {
    execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=0']);
  }
  srv.kill('SIGTERM');
  const rate = (xs: RedisRun[]) => xs.map((x) => x.rate);
  const b = median(rate(base));
  const pairs = (xs: RedisRun[]) => median(xs.map((x, i) => x.rate / base[i]!.rate));
  // CPU: per-round ratio of the redis pair's CPU per request alone to that under the agent (the
  // throughput one CPU-bound server keeps), and the agent's own CPU per request beside it
  const cpuKeep = (xs: RedisRun[]) => median(xs.map((x, i) => base[i]!.cpuUs / x.cpuUs));
  const medCpu = (xs: RedisRun[]) => median(xs.map((x) => x.cpuUs));
  const added = (x: number) => (1e6 / x - 1e6 / b).toFixed(2);
  console.log(`\nredis-benchmark -n ${REDIS_N} -c 50 -t set,get (mean of SET and GET requests/s), server and benchmark pinned to CPUs 1 and 0 (taskset), ` +
    `${REDIS_ROUNDS} rounds of (none, floor, -m socket, -m socket -p off, full agent) in rotated order, median; ` +
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
  const req = 2 * REDIS_N;
  console.log(`\nfull default agent, one more run with kernel.bpf_stats_enabled: hooks by total BPF time (all work on the machine, not only redis's); ` +
    `all hooks ${(fullHooks.reduce((a, h) => a + h.ns, 0) / req).toFixed(0)} ns per request\n`);
  console.log('| hook | invocations per request | mean ns | ns per request |');
  console.log('|---|---|---|---|');
  for (const h of fullHooks.slice(0, 12)) console.log(`| ${h.name} | ${(h.runs / req).toFixed(2)} | ${(h.ns / h.runs).toFixed(0)} | ${(h.ns / req).toFixed(0)} |`);
}

async function main(): Promise<void> {
  if (PATHS_MODE) return pathCosts();
  if (CONNS === 0) return redisBench(); // connections=0: the redis part only
  const bin = buildStorm();
  storm(bin); // warm-up
  // interleaved (none, floor, falconet) per round: the machine's load drifts between rounds
  const base: number[] = [], withAgent: number[] = [], floorRates: number[] = [], cpuUs: number[] = [];
  const baseCpu: number[] = [], floorCpu: number[] = [], agentStormCpu: number[] = [];
  let floorNote = '';
  const ports = new Set<number>();
  const counters = { sockDrop: 0, recordsOut: 0 };
  const outs: string[] = [];
  let tcpExportUsed = '';
  for (let i = 0; i < reps; i++) {
    const b0 = storm(bin);
    base.push(b0.rate);
    baseCpu.push(b0.cpuUs);
    const f = await floorRuns(bin, 1);
    if (Array.isArray(f)) { floorRates.push(...f.map((x) => x.rate)); floorCpu.push(...f.map((x) => x.cpuUs)); } else floorNote = f;
    const agent = await startAgent();
    tcpExportUsed = agent.tcpExport;
    const cpu0 = agent.cpu();
    const r = storm(bin);
    await new Promise((res) => setTimeout(res, 600)); // let the agent drain this run's records
    cpuUs.push((agent.cpu() - cpu0) * 1e6 / CONNS);
    withAgent.push(r.rate);
    agentStormCpu.push(r.cpuUs);
    ports.add(r.port);
    const st = await agent.stop();
    counters.sockDrop += st.counters.sock_drop ?? 0;
    counters.recordsOut += st.recordsOut;
    outs.push(agent.out);
  }
  // one more run with BPF run-time accounting on (it adds its own cost, so not in the ratios)
  const bpfNs = await bpfRunNs(() => { storm(bin); });
  const floorNs = await floorBpfNs(() => { storm(bin); });
  const recs = new Map<number, { client: number; server: number }>();
  for (const o of outs) for (const [p, c] of await countRecords(o, ports)) {
    const t = recs.get(p) ?? { client: 0, server: 0 };
    recs.set(p, { client: t.client + c.client, server: t.server + c.server });
  }
  const b = median(base), a = median(withAgent);
  console.log(`connection storm: ${CONNS} sequential loopback TCP connections (connect, 1-byte request, 1-byte reply, close), ` +
    `${reps} rounds of (none, floor, falconet), median connections/s`);
  console.log('');
  console.log('| run | connections/s | ratio | added µs/connection |');
  console.log('|---|---|---|---|');
  const added = (x: number) => (1e6 / x - 1e6 / b).toFixed(1);
  console.log(`| no agent | ${b.toFixed(0)} | 1.000 | 0 |`);
  if (floorRates.length) {
    const fl = median(floorRates);
    console.log(`| count-only floor (the monitor's hooks: tp_btf and cgroup_skb ingress) | ${fl.toFixed(0)} | ${(fl / b).toFixed(3)} | ${added(fl)} |`);
  } else console.log(`floor: ${floorNote}`);
  console.log(`| falconet -m socket | ${a.toFixed(0)} | ${(a / b).toFixed(3)} | ${added(a)} |`);
  // the storm's own CPU per connection, per round against that round's run alone: steadier than
  // the rate on a shared machine (10 ms ticks over the whole storm)
  const addedCpu = (xs: number[]) => median(xs.map((x, i) => x - baseCpu[i]!));
  console.log(`storm CPU µs/connection (user + sys of the storm, hooks included; medians): none ${median(baseCpu).toFixed(1)}` +
    (floorCpu.length ? `, floor ${median(floorCpu).toFixed(1)} (added ${addedCpu(floorCpu).toFixed(1)})` : '') +
    `, falconet ${median(agentStormCpu).toFixed(1)} (added ${addedCpu(agentStormCpu).toFixed(1)})` +
    (floorCpu.length && addedCpu(floorCpu) > 0 ? ` -> falconet's added CPU = ${(addedCpu(agentStormCpu) / addedCpu(floorCpu)).toFixed(2)}x the floor's` : ''));
  if (floorRates.length) {
    const fl = median(floorRates);
    const added = (x: number) => 1e6 / x - 1e6 / b;
    if (added(fl) > 0) console.log(`falconet's added wall time per connection = ${(added(a) / added(fl)).toFixed(2)}x the floor's`);
  }
  console.log(`falconet's TCP export path: ${tcpExportUsed}`);
  console.log(`runs without: ${base.map((x) => x.toFixed(0)).join(', ')}; floor: ${floorRates.map((x) => x.toFixed(0)).join(', ')}; with: ${withAgent.map((x) => x.toFixed(0)).join(', ')}`);
  let lost = 0;
  for (const [p, c] of recs) {
    console.log(`server port ${p}: ${c.client} CLIENT + ${c.server} SERVER records for ${CONNS} connections`);
    lost += Math.abs(CONNS - c.client) + Math.abs(CONNS - c.server);
  }
  console.log(`records lost (expected - reported, both roles): ${lost}; kernel sock_drop=${counters.sockDrop}; records out ${counters.recordsOut}`);
  console.log(`load-independent costs per connection: BPF programs ${(bpfNs / CONNS).toFixed(0)} ns (kernel.bpf_stats_enabled, separate run, ` +
    `both sockets); agent + sensor CPU ${median(cpuUs).toFixed(1)} µs (median; 2 records)`);
  if (typeof floorNs === 'number') {
    console.log(`BPF run time per connection, same accounting: floor ${(floorNs / CONNS).toFixed(0)} ns, falconet ${(bpfNs / CONNS).toFixed(0)} ns ` +
      `= ${(bpfNs / floorNs).toFixed(2)}x the floor's (the kernel side alone; other work's packets in the window count in both)`);
  } else console.log(`floor BPF run time: ${floorNs}`);
  console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()} (other work on this machine skews all numbers)`);
  if (REDIS_N > 0) await redisBench(); // redis requests 0: the connection storm only
}

main().catch((e) => { console.error(e); process.exit(1); });
