// TCP server entries whose handshake was completed by a data segment rather than the client's
// bare ACK. The entry is made when the child socket moves to ESTABLISHED, but that segment went
// through the ingress hook of the *listener* (which has no entry), so its bytes were lost: the
// server record said 0 bytes. It happens when the bare ACK is ignored (TCP_DEFER_ACCEPT, e.g.
// nginx's `listen … deferred`), lost on the wire, or overtaken on loopback by the data the client
// sent from another CPU (seen as a rare failure of socket.test.ts's 40-connection test).
// Ground truth: the bytes each client sent, and nftables' count of the bare ACKs it dropped.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { vethPair, type VethPair } from './netns.js';
import { bpfSkipReason, missingCommands, type Capture, type JsonRecord } from './harness.js';
import { EXPORT_PATHS, captureOn, pathSkips } from './socket-paths.js';
import { byPorts, flagKeys, sock } from './socket-workloads.js';

const need = ['ip', 'nft', 'python3'];
const skipAll = bpfSkipReason() ?? missingCommands(need);
const skips = skipAll ? new Map() : await pathSkips();
const ARGS = ['-m', 'socket'];
const K = 8;

/** A server accepting K connections, reading 100 + (client port % 1000) bytes from each; prints
 * its port, then "done"; keeps the connections open until stdin closes. argv: host, defer (0/1). */
const SERVER = `
import socket, sys
s = socket.socket()
if sys.argv[2] == '1':
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 10)
s.bind((sys.argv[1], 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
conns = []
for i in range(${K}):
    c, a = s.accept(); n = 100 + a[1] % 1000; got = 0
    while got < n:
        got += len(c.recv(65536))
    conns.append(c)
print('done', flush=True)
sys.stdin.read()
`;

/** K connections to host:port, each sending 100 + (its port % 1000) bytes at once; prints the
 * local ports; keeps them open until stdin closes. */
const CLIENT = `
import socket, sys
cs = []
for i in range(${K}):
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    c.sendall(b'x' * (100 + c.getsockname()[1] % 1000)); cs.append(c)
print(' '.join(str(c.getsockname()[1]) for c in cs), flush=True)
sys.stdin.read()
`;

interface Py { child: ChildProcess; lines: AsyncIterator<string> }

function py(prefix: string[], code: string, args: string[]): Py {
  const child = spawn(prefix[0] ?? 'python3', [...prefix.slice(1), ...(prefix.length ? ['python3'] : []), '-c', code, ...args],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  async function* lines(): AsyncGenerator<string> {
    let buf = '';
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      buf += chunk.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) { yield buf.slice(0, i); buf = buf.slice(i + 1); }
    }
    throw new Error(`python exited before its next line (code ${child.exitCode})`);
  }
  return { child, lines: lines() };
}
const next = async (p: Py) => (await p.lines.next()).value as string;

/** Runs server and client under the agent; returns the capture, the server's pid and port and the
 * client ports. */
async function exchange(ep: typeof EXPORT_PATHS[number], server: string[], client: string[], host: string, defer: boolean) {
  const srv = py(server, SERVER, [host, defer ? '1' : '0']);
  const port = Number(await next(srv));
  let cl: Py | undefined;
  let ports: number[] = [];
  try {
    const cap = await captureOn(ep, async () => {
      cl = py(client, CLIENT, [host, String(port)]);
      ports = (await next(cl)).split(' ').map(Number);
      assert.equal(await next(srv), 'done');
    }, ARGS);
    return { cap, pid: srv.child.pid!, port, ports };
  } finally {
    cl?.child.stdin!.end();
    srv.child.stdin!.end();
  }
}

function checkServers(cap: Capture, pid: number, port: number, ports: number[], flags: Record<string, number>) {
  assert.equal(ports.length, K);
  for (const lp of ports) {
    const s = byPorts(cap.records, port, lp);
    const brief = JSON.stringify(sock(cap.records).map((r: JsonRecord) => [r.SockRole, r.SockLocalPort, r.SockRemotePort, r.SockRxBytes]));
    assert.equal(s.length, 1, `server side of ${lp}: ${brief}`);
    assert.equal(s[0]!.SockRxBytes, 100 + lp % 1000, `server side of ${lp}`);
    assert.deepEqual(flagKeys(s[0]!, 'SockRxFlags'), flags, `server side of ${lp}`);
    assert.equal(s[0]!.SockRxPackets, Object.values(flags).reduce((a, b) => a + b, 0));
    assert.equal(s[0]!.ProcPID, pid);
  }
}

for (const ep of EXPORT_PATHS) {
  const skip = skipAll || skips.get(ep.name) || false;

  it(`TCP_DEFER_ACCEPT listener: the data segment that completes the handshake is counted [${ep.name}]`, { skip }, async () => {
    const { cap, pid, port, ports } = await exchange(ep, [], [], '127.0.0.1', true);
    // the bare ACK reached the listener, which ignored it; the data segment made the child
    checkServers(cap, pid, port, ports, { SYN: 1, ACK: 1, 'PSH-ACK': 1 });
  });

  describe(`bare ACK lost on the wire: the data segment completes the handshake (netns + veth + nftables) [${ep.name}]`, { skip }, () => {
    let pair: VethPair | undefined;
    before(() => {
      pair = vethPair('fnhs');
      // bare ACKs to the server (with timestamps a bare ACK is 52 bytes; the server sends no
      // data, so the handshake's is the client's only one before close), dropped before its stack
      pair.nft(pair.B, `
table netdev fnhs {
  chain in { type filter hook ingress device "${pair.VB}" priority 0;
    ip saddr ${pair.ipA} tcp flags == ack ip length 52 counter drop comment "bare-ack"; }
}
`);
    });
    after(() => pair?.remove());

    it('each server record has the data segment and no ACK; nftables dropped K bare ACKs', async () => {
      const p = pair!;
      const { cap, pid, port, ports } = await exchange(ep, ['ip', 'netns', 'exec', p.B], ['ip', 'netns', 'exec', p.A], p.ipB, false);
      assert.equal(p.nftCount(p.B, 'bare-ack'), K);
      checkServers(cap, pid, port, ports, { SYN: 1, 'PSH-ACK': 1 });
    });
  });
}
