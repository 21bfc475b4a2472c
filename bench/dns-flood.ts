// DNS flood against dnsmasq on 127.0.0.1 with -p dns on its port: what payload capture costs per
// DNS packet in BPF and what decoding costs the agent per 1,000 messages/s. Three setups in one
// run: the flood alone, under a count-only floor on the same hooks (cgroup_skb egress+ingress,
// bench/floor/pl-floor.bpf.c), and under falconet -m socket -p dns=udp/PORT. Two loads:
//   churn   a new client socket every 2 queries: every message is captured, shipped and decoded
//   steady  64 sockets reused: after 8 messages per flow and direction only the port filter,
//           the flow lookup and the cap run (what a busy resolver costs)
//   other   the steady flood while -p names another port: the port filter alone
// BPF ns come from kernel.bpf_stats_enabled in separate runs (the accounting has its own cost).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../test/lib/temp-dir.js';
import { withBpfStats } from './lib/bpf-stats.js';
import { childrenOf, procCpu, waitFor } from './lib/proc.js';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECONDS = Number(process.env.DNS_FLOOD_SECONDS ?? 4);

const CLIENT = `
const dgram = require('node:dgram');
const [port, secs, perSocket, sockets, window] = process.argv.slice(1).map(Number);
// one A query for a.test, id patched per send
const q = Buffer.from('0000010000010000000000000161047465737400000100 01'.replace(/ /g, ''), 'hex');
let sent = 0, got = 0, id = 0;
const end = Date.now() + secs * 1000;
function client() {
  const s = dgram.createSocket('udp4');
  let mine = 0, inflight = 0;
  const fire = () => {
    while (inflight < window && mine < perSocket && Date.now() < end) {
      const b = Buffer.from(q); b.writeUInt16BE(id++ & 0xffff, 0);
      s.send(b, port, '127.0.0.1'); sent++; mine++; inflight++;
    }
    if ((mine >= perSocket && inflight === 0) || Date.now() >= end) { s.close(); if (Date.now() < end) client(); else done(); }
  };
  s.on('message', () => { got++; inflight--; fire(); });
  s.bind(0, '127.0.0.1', fire);
}
// a query the server dropped leaves its socket waiting: the clock ends the run, not the sockets
let printed = false;
function done() { if (!printed && Date.now() >= end) { printed = true; console.log(JSON.stringify({ sent, got, secs })); process.exit(0); } }
setTimeout(() => { printed = true; console.log(JSON.stringify({ sent, got, secs })); process.exit(0); }, secs * 1000 + 100);
for (let i = 0; i < sockets; i++) client();
`;

interface Load { name: string; perSocket: number; sockets: number; window: number; unmatched?: boolean }
const ALL_LOADS: Load[] = [
  { name: 'churn', perSocket: 2, sockets: 32, window: 1 },
  { name: 'steady', perSocket: 1e12, sockets: 64, window: 4 },
  // the same flood while -p names another port: what the port filter costs everything else
  { name: 'other', perSocket: 1e12, sockets: 64, window: 4, unmatched: true },
];
const LOADS = (process.env.DNS_FLOOD_LOADS ?? 'churn,steady,other').split(',').map((n) => ALL_LOADS.find((l) => l.name === n)).filter((l): l is Load => !!l);

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

const progress = (s: string) => { if (process.env.DNS_FLOOD_VERBOSE) process.stderr.write(`dns-flood: ${s}\n`); };

function flood(port: number, l: Load): { rate: number; sent: number; got: number } {
  progress(`flood ${l.name}`);
  const out = sh(process.execPath, ['-e', CLIENT, String(port), String(SECONDS), String(l.perSocket), String(l.sockets), String(l.window)]);
  const r = JSON.parse(out.trim()) as { sent: number; got: number; secs: number };
  return { rate: r.got / r.secs, sent: r.sent, got: r.got };
}

/** BPF run time and invocations of programs whose name starts with prefix (or matches it). */
function progStats(prefix: string | RegExp): { ns: number; cnt: number } {
  const list = JSON.parse(sh('bpftool', ['prog', 'show', '-j'])) as { name?: string; run_time_ns?: number; run_cnt?: number }[];
  const hit = (n: string | undefined) => n !== undefined && (typeof prefix === 'string' ? n.startsWith(prefix) : prefix.test(n));
  return list.filter((p) => hit(p.name)).reduce((a, p) => ({ ns: a.ns + (p.run_time_ns ?? 0), cnt: a.cnt + (p.run_cnt ?? 0) }), { ns: 0, cnt: 0 });
}

/** Payload capture's BPF cost per packet in one flood: egress is a program of its own
 * (sock_pl_out); ingress runs inside the socket monitor's ingress program (sock_skb_in*), so its
 * share is that program's mean with -p on minus its mean in a run with every application off. */
async function payloadNsPerPacket(port: number, flood: () => void): Promise<number> {
  const ingress = /^sock_skb_in/;
  const measure = async (p: number | 'off') => (await withAgent(p, () => {
    const s0 = progStats('sock_pl_out'), i0 = progStats(ingress);
    flood();
    const s1 = progStats('sock_pl_out'), i1 = progStats(ingress);
    return { out: { ns: s1.ns - s0.ns, cnt: s1.cnt - s0.cnt }, in: { ns: i1.ns - i0.ns, cnt: i1.cnt - i0.cnt } };
  })).r;
  const on = await measure(port), off = await measure('off');
  const monitorOnly = off.in.ns / Math.max(1, off.in.cnt);
  return (on.out.ns + on.in.ns - on.in.cnt * monitorOnly) / Math.max(1, on.out.cnt + on.in.cnt);
}

async function withAgent<T>(port: number | 'off', work: (cpu: () => number) => T): Promise<{ r: T; stats: Record<string, number> }> {
  progress('agent');
  const dnsArg = port === 'off' ? 'dns=off' : `dns=udp/${port}`;
  const a = spawn(process.execPath, [path.join(REPO, 'bin/falconet'), '-m', 'socket', '-o', 'json-min', '--stats', '-p', dnsArg, '-p', 'http=off', '-p', 'syslog=off'],
    { stdio: ['ignore', 'ignore', 'pipe'] }); // records decoded and encoded as json-min, then discarded
  let err = '';
  const ready = waitFor(a, 'stderr', 'sensor ready');
  a.stderr!.on('data', (d: string) => { err += d; });
  await ready;
  const cpu = () => procCpu(a.pid!) + childrenOf(a.pid!).reduce((s, c) => s + procCpu(c), 0);
  const r = work(cpu);
  await new Promise((res) => setTimeout(res, 1500));
  const sensors = childrenOf(a.pid!);
  const closed = new Promise((res) => a.on('close', res));
  a.kill('SIGTERM');
  await closed;
  for (let i = 0; i < 200 && sensors.some((p) => existsSync(`/proc/${p}`)); i++) await new Promise((res) => setTimeout(res, 100));
  const last = err.split('\n').filter((l) => l.startsWith('falconet-payload-stats ')).at(-1);
  return { r, stats: last ? JSON.parse(last.slice('falconet-payload-stats '.length)) as Record<string, number> : {} };
}

async function withFloor<T>(work: () => T): Promise<T> {
  progress('floor');
  const dir = scratchDir('fn-plfloor-');
  const src = path.join(REPO, 'bench/floor');
  // vmlinux.h as bpf/Makefile finds it: shipped per arch, else generated in bpf/
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-mcpu=v3', `-D__TARGET_ARCH_${arch}`,
    '-I', path.join(REPO, 'bpf/vmlinux', arch), '-I', path.join(REPO, 'bpf'), '-c',
    path.join(src, 'pl-floor.bpf.c'), '-o', path.join(dir, 'f.bpf.o')]);
  execFileSync('cc', ['-O2', '-o', path.join(dir, 'floor'), path.join(src, 'sock-floor.c'), '-lbpf']);
  const f = spawn(path.join(dir, 'floor'), [path.join(dir, 'f.bpf.o')], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(f, 'stdout', 'floor-ready');
  const r = work();
  const closed = new Promise((res) => f.on('close', res));
  f.kill('SIGINT');
  await closed;
  return r;
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) { console.log('dns-flood: needs root'); return; }
  const { startDnsmasq } = await import('../test/kernel/protocols-servers.js');
  const dir = scratchDir('fn-dnsflood-');
  const dns = await startDnsmasq(dir, ['--host-record=a.test,10.1.2.3', '--local=/test/', '--dns-forward-max=1000']);
  try {
    console.log(`DNS flood, ${SECONDS} s per run, dnsmasq on 127.0.0.1:${dns.port}; rates are answered queries/s`);
    console.log('load    alone q/s  floor q/s  falconet q/s  floor ns/pkt  falconet ns/pkt  agent+sensor CPU %  CPU % per 1k msg/s  captured  dropped(cap/rb/other)');
    for (const l of LOADS) {
      const alone = flood(dns.port, l);
      const floor = await withFloor(() => flood(dns.port, l));
      const pport = l.unmatched ? dns.port + 1 : dns.port;
      const fal = await withAgent(pport, (cpu) => {
        const c0 = cpu();
        const t0 = process.hrtime.bigint();
        const f = flood(dns.port, l);
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        return { f, cpuPct: ((cpu() - c0) / secs) * 100 };
      });
      // BPF ns per packet, separate runs with accounting on
      const floorNs = await withBpfStats(async () => withFloor(() => { const s0 = progStats('plfloor_'); flood(dns.port, l); const s1 = progStats('plfloor_'); return (s1.ns - s0.ns) / Math.max(1, s1.cnt - s0.cnt); }));
      const falNs = await withBpfStats(() => payloadNsPerPacket(pport, () => flood(dns.port, l)));
      const msgs = fal.r.f.rate * 2; // a query and its answer per answered query
      const s = fal.stats;
      console.log([
        l.name.padEnd(6), alone.rate.toFixed(0).padStart(10), floor.rate.toFixed(0).padStart(10), fal.r.f.rate.toFixed(0).padStart(13),
        floorNs.toFixed(0).padStart(13), falNs.toFixed(0).padStart(16), fal.r.cpuPct.toFixed(1).padStart(19),
        (fal.r.cpuPct / (msgs / 1000)).toFixed(2).padStart(19), String(s.captured ?? '?').padStart(9),
        `${s.drop_flow_cap ?? '?'}/${s.drop_ringbuf ?? '?'}/${(s.drop_flow_map ?? 0) + (s.drop_read ?? 0) + (s.drop_handshake ?? 0)}`.padStart(22),
      ].join(' '));
    }
    console.log('ns/pkt: BPF run time per packet (egress + ingress, every packet on the host during the run); falconet\'s ingress share is');
    console.log('  its ingress program\'s mean with -p on minus a run with every application off (it also counts packets for the socket monitor);');
    console.log('CPU % per 1k msg/s: agent + sensor CPU (percent of one core) per 1,000 DNS messages/s (queries + answers) on the wire');
  } finally {
    await dns.stop();
  }
}

await main();
