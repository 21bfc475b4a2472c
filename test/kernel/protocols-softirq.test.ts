// -p and the agent's own traffic. The egress program leaves out what the agent sends, but a TCP
// socket also sends from a softirq (data an ACK let out, a timer's retransmission), and there the
// current task is only the one the softirq interrupted. Data of others sent so while the agent ran
// must still be captured or counted; the agent's own data sent so must still be left out.
//
// This test process is the agent: it runs the sensor in-process (--agent-pid is our pid). Two
// transfers on 127.0.0.1 of more than the windows hold, each read only after a pause, so that
// most of the data leaves from the softirq the reader's own ACK runs in:
//  - port P: a writer (python3) sends to us: that softirq runs in this process;
//  - port Q: we send to a reader (python3): that softirq runs in the reader, not in us.
// Ground truth: nftables counts the data packets of each port at output and at input (a packet
// carries data when it is longer than its IP and TCP headers, matched per TCP data offset). The
// egress program sees each packet output sees (before GSO splits the large ones), the ingress
// program each packet input sees. The payload counters (captured or one reason) must sum to
// exactly P's packets both ways plus Q's received ones: Q's sent ones are ours, none counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import { missingCommands, skipUnlessBpf } from './harness.js';
import { sensorSource } from '../../src/sensor/source.js';
import { MON_SOCKET } from '../../src/sensor/layout.js';
import { freePorts } from '../lib/ports.js';

const skip = skipUnlessBpf() || missingCommands(['nft', 'python3']);

const BYTES = 24 << 20;

/** Port argv[1]: sends argv[2] bytes to the first client; port argv[3]: reads the first client
 * after a pause, to its end. */
const PEER = `
import socket, sys, threading, time
def listen(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port)); s.listen(1)
    return s
w, r = listen(int(sys.argv[1])), listen(int(sys.argv[3]))
def write():
    c, _ = w.accept(); c.sendall(b'x' * int(sys.argv[2])); c.close()
def read():
    c, _ = r.accept(); time.sleep(0.3)
    while c.recv(1 << 20): pass
    c.close()
threading.Thread(target=write).start(); threading.Thread(target=read).start()
print('ready', flush=True)
`;

/** nft rules counting TCP packets of port `port` (`dir`: sport or dport) that carry data, into
 * counter `name`. */
function dataRules(dir: 'sport' | 'dport', port: number, name: string): string {
  // IPv4 on loopback has no IP options: data ⇔ the packet is longer than 20 + 4 * doff bytes.
  // The packet's length (meta length), not the IP header's: TCP hands IP packets over 64 KiB
  // to loopback (their tot_len is 0), which GSO splits before they are received.
  return Array.from({ length: 11 }, (_, i) => i + 5)
    .map((doff) => `tcp ${dir} ${port} tcp doff ${doff} meta length > ${20 + 4 * doff} counter name "${name}"`).join('\n    ');
}

function counterPackets(table: string, name: string): number {
  const out = execFileSync('nft', ['list', 'counter', 'ip', table, name], { encoding: 'utf8' });
  const m = /packets (\d+)/.exec(out);
  if (!m) throw new Error(`no packet count in: ${out}`);
  return Number(m[1]);
}

/** Reads port P's writer after a pause, to its end: the bytes received. */
function readPaused(port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let n = 0;
    const s = net.connect(port, '127.0.0.1');
    s.pause(); // the writer fills both windows and queues the rest
    s.on('error', reject);
    s.on('connect', () => setTimeout(() => s.resume(), 300));
    s.on('data', (d: Buffer) => { n += d.length; });
    s.on('end', () => { s.destroy(); resolve(n); });
  });
}

/** Sends `bytes` to port Q's reader and waits for its close. */
function writeAll(port: number, bytes: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(Buffer.alloc(bytes, 0x79)));
    s.on('error', reject);
    s.on('close', () => resolve());
    s.resume();
  });
}

test('-p: TCP data sent from a softirq is the socket\'s: others\' captured or counted while the agent ran, the agent\'s own left out', { skip, timeout: 240000 }, async () => {
  const [P, Q] = await freePorts(2);
  const table = `fnsoftirq${process.pid}`;
  execFileSync('nft', ['-f', '-'], {
    input: `
table ip ${table} {
  counter txP {}
  counter rxP {}
  counter txQ {}
  counter rxQ {}
  chain out { type filter hook output priority 0;
    ${dataRules('sport', P!, 'txP')}
    ${dataRules('dport', Q!, 'txQ')}
  }
  chain in { type filter hook input priority 0;
    ${dataRules('sport', P!, 'rxP')}
    ${dataRules('dport', Q!, 'rxQ')}
  }
}
`,
  });
  const peer = spawn('python3', ['-c', PEER, String(P), String(BYTES), String(Q)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((res, rej) => { peer.stdout!.once('data', () => res()); peer.once('exit', (c) => rej(new Error(`peer exited ${c}`))); });
    const source = sensorSource({ monitors: MON_SOCKET, payload: `tcp/${P}=2,tcp/${Q}=2`, statsMs: 200 });
    let counters: Record<string, number> | undefined;
    let received = 0;
    let workload: Promise<void> | undefined;
    try {
      for await (const ev of source) {
        if (ev.kind === 'hello') {
          workload = (async () => {
            try {
              received = await readPaused(P!);
              await writeAll(Q!, BYTES);
              await new Promise<void>((r) => setTimeout(r, 500));
            } finally {
              source.stop();
            }
          })();
        } else if (ev.kind === 'records') {
          for (const r of ev.records) if (r.type === 'payload_stats') counters = r.counters;
        }
      }
      await workload;
    } finally {
      source.stop();
    }
    assert.equal(received, BYTES);
    const [txP, rxP, txQ, rxQ] = ['txP', 'rxP', 'txQ', 'rxQ'].map((c) => counterPackets(table, c)) as [number, number, number, number];
    const seen = `P: ${txP} data packets sent, ${rxP} received; Q: ${txQ} sent, ${rxQ} received`;
    assert.ok(txP > 0 && rxP >= txP && txQ > 0 && rxQ >= txQ, seen);
    assert.ok(counters, 'the sensor sent its payload counters');
    // captured and every reason (unix_reader is not an outcome: those are counted under one too)
    const outcomes = Object.entries(counters).filter(([k]) => k !== 'unix_reader').reduce((a, [, v]) => a + v, 0);
    assert.equal(outcomes, txP + rxP + rxQ, `payload counters ${JSON.stringify(counters)}; ${seen}`);
  } finally {
    peer.kill();
    execFileSync('nft', ['delete', 'table', 'ip', table]);
  }
});
