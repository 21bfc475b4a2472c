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
// The parts: bench/lib/sock-storm.ts (the storm), sock-agent.ts (agent and floor runs),
// redis-bench.ts (2.), sock-paths.ts (3.).
import { readFileSync } from 'node:fs';
import { median } from './lib/proc.js';
import { pathCosts } from './lib/sock-paths.js';
import { redisBench } from './lib/redis-bench.js';
import { bpfRunNs, floorBpfNs, startAgent, underFloor } from './lib/sock-agent.js';
import { buildStorm, countRecords, storm } from './lib/sock-storm.js';

const PATHS_MODE = process.argv[2] === 'paths';
const argv = PATHS_MODE ? ['', '', '1', ...process.argv.slice(3)] : process.argv;
const reps = Number(argv[2] ?? 3);
const CONNS = Number(argv[3] ?? (PATHS_MODE ? 5000 : 20000));
const REDIS_N = Number(argv[4] ?? (PATHS_MODE ? 50000 : 100000));
const REDIS_ROUNDS = Number(argv[5] ?? (PATHS_MODE ? 3 : 10));

async function floorRuns(bin: string, n: number): Promise<{ rate: number; cpuUs: number }[] | string> {
  return underFloor(() => Array.from({ length: n }, () => storm(bin, CONNS)));
}

async function main(): Promise<void> {
  if (PATHS_MODE) return pathCosts(CONNS, REDIS_N, REDIS_ROUNDS);
  if (CONNS === 0) return redisBench(REDIS_N, REDIS_ROUNDS); // connections=0: the redis part only
  const bin = buildStorm();
  storm(bin, CONNS); // warm-up
  // interleaved (none, floor, falconet) per round: the machine's load drifts between rounds
  const base: number[] = [], withAgent: number[] = [], floorRates: number[] = [], cpuUs: number[] = [];
  const baseCpu: number[] = [], floorCpu: number[] = [], agentStormCpu: number[] = [];
  let floorNote = '';
  const ports = new Set<number>();
  const counters = { sockDrop: 0, recordsOut: 0 };
  const outs: string[] = [];
  let tcpExportUsed = '';
  for (let i = 0; i < reps; i++) {
    const b0 = storm(bin, CONNS);
    base.push(b0.rate);
    baseCpu.push(b0.cpuUs);
    const f = await floorRuns(bin, 1);
    if (Array.isArray(f)) { floorRates.push(...f.map((x) => x.rate)); floorCpu.push(...f.map((x) => x.cpuUs)); } else floorNote = f;
    const agent = await startAgent();
    tcpExportUsed = agent.tcpExport;
    const cpu0 = agent.cpu();
    const r = storm(bin, CONNS);
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
  const bpfNs = await bpfRunNs(() => { storm(bin, CONNS); });
  const floorNs = await floorBpfNs(() => { storm(bin, CONNS); });
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
  const TICK_US = 10_000; // the CPU figures' resolution over a whole storm (USER_HZ 100)
  console.log(`storm CPU µs/connection (user + sys of the storm, hooks included; medians): none ${median(baseCpu).toFixed(1)}` +
    (floorCpu.length ? `, floor ${median(floorCpu).toFixed(1)} (added ${addedCpu(floorCpu).toFixed(1)})` : '') +
    `, falconet ${median(agentStormCpu).toFixed(1)} (added ${addedCpu(agentStormCpu).toFixed(1)})` +
    // a ratio only against at least one clock tick of the storm: a float remainder of equal
    // tick counts is not an added cost (it printed ratios of 10^14)
    (!floorCpu.length ? '' : addedCpu(floorCpu) < TICK_US / CONNS ? ' -> no CPU ratio: the floor added less than one 10 ms tick over the storm' :
      addedCpu(agentStormCpu) <= 0 ? ' -> no CPU ratio: falconet\'s storm took no more CPU than the storm alone (noise)' :
        ` -> falconet's added CPU = ${(addedCpu(agentStormCpu) / addedCpu(floorCpu)).toFixed(2)}x the floor's`));
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
  if (REDIS_N > 0) await redisBench(REDIS_N, REDIS_ROUNDS); // redis requests 0: the connection storm only
}

main().catch((e) => { console.error(e); process.exit(1); });
