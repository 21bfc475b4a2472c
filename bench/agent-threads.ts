// Where a freshly started agent's CPU goes under a storm, by thread: the main thread (decode,
// stages, encoder, sink: every record), V8's other threads (TurboFan's compiles, GC helpers) and
// the sensor. The storm benches start an agent per round, so what they add to a storm's wall time
// is mostly this CPU, on the same two cores, for records the agent meets cold. Two workloads: a
// connection storm (`-m socket`, two records per connection) and a process storm (`-m process`:
// `/bin/true` run by a bash loop, FORK, EXEC, MMAP and EXIT records). Given another checkout's
// bin/falconet, its agent alternates with this one in every round (an A/B of an agent change).
// Run time from /proc/PID/task/TID/schedstat (ns). Root (the sensor).
// Usage: node dist/bench/agent-threads.js [rounds=3] [other-agent-bin] [connections=10000] [children=2000]
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { AGENT_BIN, startAgent } from './lib/sock-agent.js';
import { buildStorm, storm } from './lib/sock-storm.js';
import { childrenOf, median } from './lib/proc.js';

const rounds = Number(process.argv[2] ?? 3);
const other = process.argv[3] && process.argv[3] !== '-' ? process.argv[3] : undefined;
const CONNS = Number(process.argv[4] ?? 10_000), CHILDREN = Number(process.argv[5] ?? 2000);

/** run time in ms of every thread of the agent and of its sensor, by thread id */
function threadMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of [pid, ...childrenOf(pid)]) {
    let tids: string[];
    try { tids = readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const t of tids) {
      try { out.set(`${p}/${t}`, Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6); } catch { /* gone */ }
    }
  }
  return out;
}

interface Split { main: number; v8: number; sensor: number }

/** One fresh agent with `monitors` under `work`: ms of CPU by kind of thread while it ran and
 * the agent drained its records. */
async function measure(bin: string, monitors: string[], work: () => void): Promise<Split> {
  const a = await startAgent([], bin, monitors);
  const t0 = threadMs(a.pid);
  work();
  await new Promise((r) => setTimeout(r, 600)); // the sensor holds a batch up to 40 ms; the agent drains
  const t1 = threadMs(a.pid);
  await a.stop();
  const s: Split = { main: 0, v8: 0, sensor: 0 };
  for (const [k, v] of t1) {
    const [p, t] = k.split('/').map(Number);
    const d = v - (t0.get(k) ?? 0);
    if (p !== a.pid) s.sensor += d; else if (t === a.pid) s.main += d; else s.v8 += d;
  }
  return s;
}

async function main(): Promise<void> {
  if (!(rounds > 0 && CONNS > 0 && CHILDREN > 0)) throw new Error('usage: agent-threads.js [rounds>0] [other-agent-bin|-] [connections>0] [children>0]');
  const bin = buildStorm();
  storm(bin, 2000); // warm-up of the storm itself, without an agent
  const agents = [{ name: 'this agent', bin: AGENT_BIN }, ...(other ? [{ name: `other (${other})`, bin: other }] : [])];
  const workloads = [
    { name: `${CONNS} connections, -m socket (${2 * CONNS} records)`, monitors: ['-m', 'socket'], per: CONNS, unit: 'connection', work: () => { storm(bin, CONNS); } },
    { name: `${CHILDREN} x /bin/true from bash, -m process (~${4 * CHILDREN} records)`, monitors: ['-m', 'process'], per: CHILDREN, unit: 'child',
      work: () => { execFileSync('bash', ['-c', `for i in $(seq 1 ${CHILDREN}); do /bin/true; done`]); } },
  ];
  console.log(`CPU of a freshly started agent's threads under a storm, ms (median of ${rounds} rounds${other ? ', the agents alternated, the order flipped each round' : ''}; /proc schedstat)`);
  console.log('');
  console.log('| workload | agent | main thread | V8\'s other threads | sensor | all, µs per unit |');
  console.log('|---|---|---|---|---|---|');
  for (const w of workloads) {
    const got = new Map<string, Split[]>(agents.map((a) => [a.name, []]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...agents].reverse() : agents;
      for (const a of order) got.get(a.name)!.push(await measure(a.bin, w.monitors, w.work));
    }
    for (const a of agents) {
      const xs = got.get(a.name)!;
      const m = (k: keyof Split) => median(xs.map((x) => x[k]));
      const all = median(xs.map((x) => x.main + x.v8 + x.sensor));
      console.log(`| ${w.name} | ${a.name} | ${m('main').toFixed(0)} (${xs.map((x) => x.main.toFixed(0)).join(', ')}) | ` +
        `${m('v8').toFixed(0)} | ${m('sensor').toFixed(0)} | ${(all * 1000 / w.per).toFixed(1)} per ${w.unit} |`);
    }
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
