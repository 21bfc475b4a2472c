// socket-overhead's `paths` mode: the BPF cost of each TCP export path (socket storage iterator,
// map walk, or another build's agent) in one run: ns per packet of the packet hooks, BPF ns per
// redis request and per storm connection, timer ns per tick (kernel.bpf_stats_enabled).
import { bpfProgStats, withBpfStats, type ProgStats } from './bpf-stats.js';
import { median } from './proc.js';
import { installRedis, NO_REDIS, startRedis } from './redis-bench.js';
import { AGENT_BIN, startAgent } from './sock-agent.js';
import { buildStorm, storm } from './sock-storm.js';

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
export async function pathCosts(conns: number, requests: number, rounds: number): Promise<void> {
  const runs = (process.env.FALCONET_BENCH_PATHS ?? 'iterator,map-walk').split(',').map((x) => {
    const [name, bin] = x.split('@');
    return { name: name!, bin: bin ?? AGENT_BIN, args: name === 'map-walk' && !bin ? ['--no-sk-iter'] : [] };
  });
  const bin = buildStorm();
  storm(bin, conns); // warm-up
  // redis requests 0: the connection storm only (redis-benchmark -n 0 would never end)
  const redis = requests > 0 && installRedis() ? await startRedis(requests) : undefined;
  redis?.run();
  type M = { tx: number; rx: number; pkt: number; req: number; conn: number; tick: number };
  const got = new Map<string, { line: string; ms: M[] }>();
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < runs.length; k++) {
      const r = runs[(round + k) % runs.length]!;
      await withBpfStats(async () => {
        const agent = await startAgent(r.args, r.bin);
        await new Promise((res) => setTimeout(res, 1000));
        const s0 = bpfProgStats();
        storm(bin, conns);
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
          req: rd.total / (2 * requests), conn: st.total / conns, tick: (ticks.ns + all.prog('sock_tcp_iter').ns) / Math.max(1, ticks.runs),
        });
        got.set(r.name, e);
      });
    }
  }
  redis?.srv.kill('SIGTERM');
  const med = (ms: M[], k: keyof M) => median(ms.map((m) => m[k]));
  console.log(`BPF cost per TCP export path (kernel.bpf_stats_enabled; storm of ${conns} connections, redis-benchmark -n ${requests} -c 50 -t set,get; ` +
    `${rounds} rounds in rotated order, medians)`);
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
  if (!redis && requests > 0) console.log(NO_REDIS);
}
