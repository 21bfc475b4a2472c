// What the UNIX syslog reader side (tp_btf/skb_copy_datagram_iovec, sock_pl_unix_rd) costs, and
// the sender side (tp_btf/sk_data_ready, sock_pl_unix) next to it, in BPF ns per run from
// kernel.bpf_stats_enabled, under `falconet -m socket -p syslog=unix:DIR/log` (root). Loads:
//   tcp         a loopback TCP transfer (every skb copied to user space passes the reader hook;
//               a TCP skb's socket is not AF_UNIX: the first test rejects it)
//   unix-other  UNIX datagrams to a socket that is not a syslog socket (the receiver's fd is
//               walked to its bound path, which does not match)
//   syslog      datagrams to the syslog socket from many sockets (the sender side ships them,
//               the reader side finds the claim and deletes it, or ships what the sender missed)
// Usage: node dist/bench/unix-reader-cost.js [tcp-MiB] [datagrams]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfProgStats, type ProgStats } from './lib/bpf-stats.js';
import { waitFor } from './lib/proc.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TCP_MIB = Number(process.argv[2] ?? 512);
const DGRAMS = Number(process.argv[3] ?? 20000);

const TCP = `
import socket, sys, threading
n = int(sys.argv[1]) << 20
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
def send():
    c = socket.create_connection(srv.getsockname()); b = b'x' * 65536; left = n
    while left > 0: left -= c.send(b[:min(left, 65536)])
    c.close()
threading.Thread(target=send).start()
s, _ = srv.accept(); got = 0
while True:
    d = s.recv(4096)
    if not d: break
    got += len(d)
print(got)
`;

const DGRAM = `
import socket, sys, threading
d, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rx = None
if target == 'other':
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); rx.bind(d + '/other')
    def drain():
        for _ in range(n): rx.recv(256)
    t = threading.Thread(target=drain); t.start()
path = d + ('/other' if target == 'other' else '/log')
sent = 0
while sent < n:
    b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); b.connect(path)
    for j in range(8):
        b.send(b'<13>Dec  2 21:02:49 cost[1]: message %d' % sent); sent += 1
    b.close()
if rx: t.join()
print(sent)
`;

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1] + '/log')
print('ready', flush=True)
while True: s.recv(256)
`;

function delta(a: ProgStats, b: ProgStats, name: string): { runs: number; ns: number } {
  const x = a.get(name) ?? { runNs: 0, runs: 0 }, y = b.get(name) ?? { runNs: 0, runs: 0 };
  const runs = y.runs - x.runs;
  return { runs, ns: runs ? (y.runNs - x.runNs) / runs : 0 };
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) { console.log('unix-reader-cost: needs root'); return; }
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-uxcost-'));
  const rx = spawn('python3', ['-c', RECEIVER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await waitFor(rx, 'stdout', 'ready');
  const a = spawn(process.execPath, [path.join(REPO, 'bin/falconet'), '-m', 'socket', '-o', 'json-min', '--stats', '-p', 'dns=off', '-p', 'http=off',
    '-p', `syslog=unix:${dir}/log`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const closed = new Promise((res) => a.on('close', res));
  const ready = waitFor(a, 'stderr', 'sensor ready');
  a.stderr!.on('data', (d: string) => { err += d; });
  try {
    await ready;
    execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
    try {
      const loads: [string, string, string[]][] = [
        ['tcp', TCP, [String(TCP_MIB)]],
        ['unix-other', DGRAM, [dir, 'other', String(DGRAMS)]],
        ['syslog', DGRAM, [dir, 'log', String(DGRAMS)]],
      ];
      console.log('load        reader runs  reader ns/run  sender runs  sender ns/run');
      for (const [name, src, args] of loads) {
        const s0 = bpfProgStats();
        execFileSync('python3', ['-c', src, ...args], { encoding: 'utf8' });
        const s1 = bpfProgStats();
        const r = delta(s0, s1, 'sock_pl_unix_rd'), w = delta(s0, s1, 'sock_pl_unix');
        console.log(`${name.padEnd(11)} ${String(r.runs).padStart(11)}  ${r.ns.toFixed(1).padStart(13)}  ${String(w.runs).padStart(11)}  ${w.ns.toFixed(1).padStart(13)}`);
      }
    } finally {
      execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=0']);
    }
    await new Promise((res) => setTimeout(res, 1200));
  } finally {
    a.kill('SIGTERM');
    await closed;
    rx.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const last = err.split('\n').filter((l) => l.startsWith('falconet-payload-stats ')).at(-1);
  if (last) console.log(last);
}

await main();
