// TCP server entries whose handshake was completed by a data segment rather than the client's
// bare ACK. The entry is made when the child socket moves to ESTABLISHED, but that segment went
// through the ingress hook of the *listener* (which has no entry), so its bytes were lost: the
// server record said 0 bytes. It happens when the bare ACK is ignored (TCP_DEFER_ACCEPT, e.g.
// nginx's `listen … deferred`), lost on the wire, or overtaken on loopback by the data the client
// sent from another CPU (seen as a rare failure of socket.test.ts's 40-connection test).
// Ground truth: the bytes each client sent, and nftables' count of the bare ACKs it dropped.
// TCP Fast Open children are in SYN_RECV while they send their SYN-ACK and receive the segment
// that completes the handshake (and, on loopback, a segment another CPU delivers in the instant
// between a child's hashing and its move to ESTABLISHED is the same case): the server entry is
// made when the child is cloned, so those are counted; nftables counts the wire's packets.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { sh, vethPair, type VethPair } from './netns.js';
import { bpfSkipReason, missingCommands, type Capture, type JsonRecord } from './harness.js';
import { EXPORT_PATHS, captureOn, pathSkips } from './socket-paths.js';
import { byPorts, flagKeys, sock } from './socket-workloads.js';
import { freePort } from '../lib/ports.js';

const need = ['ip', 'nft', 'python3'];
const skipAll = bpfSkipReason() ?? missingCommands(need);
const skips = skipAll ? new Map() : await pathSkips();
const ARGS = ['-m', 'socket'];
const K = 8;

/** A server accepting K connections, reading BASE + (client port % 1000) bytes from each; prints
 * its port, then "done"; keeps the connections open until stdin closes. argv: host, listener
 * option (none, defer: TCP_DEFER_ACCEPT, tfo: TCP_FASTOPEN), BASE. */
const SERVER = `
import socket, sys
s = socket.socket()
if sys.argv[2] == 'defer':
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 10)
if sys.argv[2] == 'tfo':
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 64)
s.bind((sys.argv[1], 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
conns = []
for i in range(${K}):
    c, a = s.accept(); n = int(sys.argv[3]) + a[1] % 1000; got = 0
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
  const srv = py(server, SERVER, [host, defer ? 'defer' : 'none', '100']);
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

/** K Fast Open connections: 100 + (port % 1000) bytes in the SYN (sendto MSG_FASTOPEN), then 50
 * more. Prints "port:acked" per connection, acked = 1 when the server took the SYN's data
 * (TCP_INFO's TCPI_OPT_SYN_DATA); keeps them open until stdin closes. argv: own ip, host, port. */
const TFO_CLIENT = `
import socket, struct, sys
cs = []
out = []
for i in range(${K}):
    c = socket.socket()
    c.bind((sys.argv[1], 0))
    p = c.getsockname()[1]
    c.sendto(b'x' * (100 + p % 1000), socket.MSG_FASTOPEN, (sys.argv[2], int(sys.argv[3])))
    c.sendall(b'y' * 50)
    opts = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[5]
    out.append('%d:%d' % (p, 1 if opts & 0x20 else 0)); cs.append(c)
print(' '.join(out), flush=True)
sys.stdin.read()
`;

/** -p with Fast Open: K HTTP requests, each wholly in its SYN (sendto MSG_FASTOPEN, path
 * /tfo/<port>), each answer read; prints "port:acked" per connection (as TFO_CLIENT). argv: own
 * ip, host, port, then "close" (each closes after the server did, its FIN read), "hold" (all
 * kept open until stdin closes) or "more" (as hold, each first sending 4 bytes more). */
const TFO_HTTP_CLIENT = `
import socket, sys
cs = []
out = []
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
used = set()
for i in range(${K}):
    # distinct ports: in close mode a closed client's port is free again at once, and a
    # connection that reused it would have the same addresses as the one before (the checks
    # tell connections apart by port)
    while True:
        c = socket.socket(fam)
        c.bind((sys.argv[1], 0))
        p = c.getsockname()[1]
        if p not in used:
            break
        c.close()
    used.add(p)
    c.sendto(b'GET /tfo/%d HTTP/1.1\\r\\nHost: b\\r\\n\\r\\n' % p, socket.MSG_FASTOPEN, (sys.argv[2], int(sys.argv[3])))
    got = b''
    while not got.endswith(b'\\r\\n\\r\\n'):
        got += c.recv(4096)
    opts = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[5]
    out.append('%d:%d' % (p, 1 if opts & 0x20 else 0)); cs.append(c)
    if sys.argv[4] == 'close':
        while c.recv(4096):
            pass
        c.close()
    if sys.argv[4] == 'more':
        c.sendall(b'more')
print(' '.join(out), flush=True)
if sys.argv[4] != 'close':
    sys.stdin.read()
`;

/** Its server: a Fast Open listener on host:port answering each request with an empty 204;
 * prints "ready", then "done". argv: host, port, then "close" (each child closed after its
 * answer), "hold" (all kept open until stdin closes) or "more" (as hold, each child first reading
 * 4 bytes more). IPv6 where host has a colon. */
const TFO_HTTP_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 64)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
print('ready', flush=True)
cs = []
for i in range(${K}):
    c, a = s.accept(); got = b''
    while not got.endswith(b'\\r\\n\\r\\n'):
        got += c.recv(4096)
    c.sendall(b'HTTP/1.1 204 No Content\\r\\n\\r\\n'); cs.append(c)
    if sys.argv[3] == 'close':
        c.close()
    if sys.argv[3] == 'more':
        got = b''
        while len(got) < 4:
            got += c.recv(4096)
print('done', flush=True)
if sys.argv[3] != 'close':
    sys.stdin.read()
`;

/** Drops, at the server's ingress, the client's packets to port that `match` (an nftables
 * expression) selects, counted under `comment`; returns what removes the rule. */
function serverDrop(p: VethPair, port: number, match: string, comment: string, from = p.ipA): () => void {
  const table = `fndrop${port}`;
  p.nft(p.B, `
table netdev ${table} {
  chain in { type filter hook ingress device "${p.VB}" priority 1;
    ${from.includes(':') ? 'ip6' : 'ip'} saddr ${from} tcp dport ${port} ${match} counter drop comment "${comment}"; }
}
`);
  return () => sh(['ip', 'netns', 'exec', p.B, 'nft', 'delete', 'table', 'netdev', table]);
}

for (const ep of EXPORT_PATHS) {
  const skip = skipAll || skips.get(ep.name) || false;

  describe(`TCP Fast Open server children (netns + veth, nftables counts) [${ep.name}]`, { skip }, () => {
    let pair: VethPair | undefined;
    before(() => {
      pair = vethPair('fntfo', true);
      // client: Fast Open without a cookie (1 | 4); server: without a cookie (2 | 0x200)
      sh(['ip', 'netns', 'exec', pair.A, 'sysctl', '-q', '-w', 'net.ipv4.tcp_fastopen=5']);
      sh(['ip', 'netns', 'exec', pair.B, 'sysctl', '-q', '-w', 'net.ipv4.tcp_fastopen=514']);
      for (const [ns, dev, dir] of [[pair.B, pair.VB, 'rx'], [pair.A, pair.VA, 'tx']] as const) {
        pair.nft(ns, `
table netdev fntfo {
  chain in { type filter hook ingress device "${dev}" priority 0;
    tcp ${dir === 'rx' ? 'dport' : 'sport'} 1024-65535 counter comment "${dir}"; }
}
`);
      }
    });
    after(() => pair?.remove());

    it('the SYN with its payload, the SYN-ACK and the segments of the SYN_RECV window, each counted once', async () => {
      const p = pair!;
      const srv = py(['ip', 'netns', 'exec', p.B], SERVER, [p.ipB, 'tfo', '150']); // 100 + port % 1000 in the SYN, 50 after
      const port = Number(await next(srv));
      let cl: Py | undefined;
      let conns: { port: number; acked: boolean }[] = [];
      let rxWire = NaN, txWire = NaN;
      try {
        const cap = await captureOn(ep, async () => {
          cl = py(['ip', 'netns', 'exec', p.A], TFO_CLIENT, [p.ipA, p.ipB, String(port)]);
          conns = (await next(cl)).split(' ').map((x) => { const [a, b] = x.split(':'); return { port: Number(a), acked: b === '1' }; });
          assert.equal(await next(srv), 'done');
          // the server sends nothing but ACKs (a delayed one may still be due) and the client
          // nothing more: read the counters once two reads 0.5 s apart agree
          for (let prev = ''; ;) {
            rxWire = p.nftCount(p.B, 'rx');
            txWire = p.nftCount(p.A, 'tx');
            if (`${rxWire}/${txWire}` === prev) break;
            prev = `${rxWire}/${txWire}`;
            await new Promise((r) => setTimeout(r, 500));
          }
        }, ARGS);
        assert.equal(conns.length, K);
        assert.deepEqual(conns.filter((c) => !c.acked), [], 'every SYN carried data the server took (Fast Open)');
        let rx = 0, tx = 0;
        for (const c of conns) {
          const s = byPorts(cap.records, port, c.port);
          assert.equal(s.length, 1, `server side of ${c.port}`);
          const r = s[0]!;
          assert.equal(r.SockRxBytes, 100 + c.port % 1000 + 50, `server side of ${c.port}: bytes`);
          const rf = flagKeys(r, 'SockRxFlags'), tf = flagKeys(r, 'SockTxFlags');
          assert.equal(rf.SYN, 1, `server side of ${c.port}: ${JSON.stringify(rf)}`);
          assert.equal(tf['SYN-ACK'], 1, `server side of ${c.port}: ${JSON.stringify(tf)}`);
          assert.equal(r.SockRxPackets, Object.values(rf).reduce((a, b) => a + b, 0));
          assert.equal(r.SockTxPackets, Object.values(tf).reduce((a, b) => a + b, 0));
          assert.equal(r.ProcPID, srv.child.pid);
          rx += r.SockRxPackets as number;
          tx += r.SockTxPackets as number;
        }
        assert.equal(rx, rxWire, 'packets the server received, against nftables');
        assert.equal(tx, txWire, 'packets the server sent, against nftables');
      } finally {
        cl?.child.stdin!.end();
        srv.child.stdin!.end();
      }
    });

    /** K Fast Open HTTP exchanges (TFO_HTTP_CLIENT and TFO_HTTP_SERVER, both in `mode`) from
     * ipA to ipB:port under the agent with `args`: the capture, the server's pid and each
     * connection's client port and whether its SYN's data was taken. Held connections are let go
     * once the agent has stopped. */
    async function tfoExchange(p: VethPair, port: number, mode: 'close' | 'hold' | 'more', args: string[], ipA = p.ipA, ipB = p.ipB) {
      const srv = py(['ip', 'netns', 'exec', p.B], TFO_HTTP_SERVER, [ipB, String(port), mode]);
      let cl: Py | undefined;
      let conns: { port: number; acked: boolean }[] = [];
      try {
        assert.equal(await next(srv), 'ready');
        const cap = await captureOn(ep, async () => {
          cl = py(['ip', 'netns', 'exec', p.A], TFO_HTTP_CLIENT, [ipA, ipB, String(port), mode]);
          conns = (await next(cl)).split(' ').map((x) => { const [a, b] = x.split(':'); return { port: Number(a), acked: b === '1' }; });
          assert.equal(await next(srv), 'done');
        }, args);
        return { cap, conns, serverPid: srv.child.pid! };
      } finally {
        if (mode !== 'close') cl?.child.stdin!.end(); // a closing client has exited
        srv.child.stdin!.end();
      }
    }

    /** K Fast Open HTTP exchanges to a fresh port under -p http=tcp/PORT: the capture and the
     * client ports. */
    async function httpExchange(p: VethPair, port: number) {
      const { cap, conns } = await tfoExchange(p, port, 'close', [...ARGS, '-p', `http=tcp/${port}`, '-p', 'dns=off', '-p', 'syslog=off']);
      assert.equal(conns.length, K);
      assert.deepEqual(conns.filter((c) => !c.acked), [], 'every SYN carried the request and the server took it');
      return { cap, ports: conns.map((c) => c.port) };
    }
    const REQ = (c: number) => ({ _Method: 'GET', _Url: `/tfo/${c}`, _Version: 'HTTP/1.1', Host: 'b' });
    const noTs = (m: JsonRecord) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== '_Timestamp'));

    /** Each connection's request decoded once in its server's and client's records, and the
     * response; every capture shipped and joined, none dropped. */
    function checkHttp(cap: Capture, port: number, ports: number[]) {
      for (const c of ports) {
        const server = byPorts(cap.records, port, c), client = byPorts(cap.records, c, port);
        // the records themselves in the message: a second record of one side is what to look at
        assert.equal(server.length, 1, `server side of ${c}: ${JSON.stringify(server)}`);
        assert.equal(client.length, 1, `client side of ${c}: ${JSON.stringify(client)}`);
        assert.deepEqual((server[0]!.AppRxHttp as JsonRecord[] | undefined)?.map(noTs), [REQ(c)], `server side of ${c}`);
        assert.deepEqual((server[0]!.AppTxHttp as JsonRecord[]).map((m) => m._Status), [204]);
        assert.deepEqual((client[0]!.AppTxHttp as JsonRecord[] | undefined)?.map(noTs), [REQ(c)], `client side of ${c}`);
        assert.deepEqual((client[0]!.AppRxHttp as JsonRecord[]).map((m) => m._Status), [204]);
        // the request's and the response's bytes, whichever state the server's socket was in
        assert.equal(server[0]!.SockRxBytes, `GET /tfo/${c} HTTP/1.1\r\nHost: b\r\n\r\n`.length, `server side of ${c}`);
        assert.equal(server[0]!.SockTxBytes, 'HTTP/1.1 204 No Content\r\n\r\n'.length, `server side of ${c}`);
      }
      const line = cap.stderr.split('\n').filter((l) => l.startsWith('falconet-payload-stats ')).at(-1);
      assert.ok(line, 'payload stats line');
      const st = JSON.parse(line.slice('falconet-payload-stats '.length)) as Record<string, number>;
      // 4 messages per connection (request and response, on both sides), each once
      assert.deepEqual({ captured: st.captured, drop_handshake: st.drop_handshake, attached: st.attached },
        { captured: 4 * K, drop_handshake: 0, attached: 4 * K }, line);
    }

    it('-p: the HTTP request a SYN carries is decoded once on each side; nothing counted dropped', async () => {
      const port = await freePort();
      const { cap, ports } = await httpExchange(pair!, port);
      checkHttp(cap, port, ports);
    });

    it('a Fast Open child that answers and closes before the handshake completes (its client\'s bare ACKs dropped) has its record', async () => {
      // without the client's ACK the child stays in SYN_RECV until the client's FIN-ACK: it is
      // accepted, reads, writes and closes (SYN_RECV → FIN_WAIT1) without ever being ESTABLISHED
      const p = pair!;
      const port = await freePort();
      const undrop = serverDrop(p, port, 'tcp flags == ack ip length 52', 'tfo-bare-ack');
      try {
        const { cap, ports } = await httpExchange(p, port);
        assert.ok(p.nftCount(p.B, 'tfo-bare-ack') >= K, 'the clients\' bare ACKs were dropped');
        checkHttp(cap, port, ports);
      } finally {
        undrop();
      }
    });

    for (const fam of ['IPv4', 'IPv6'] as const) {
      it(`a Fast Open child still in SYN_RECV when the agent stops (every client packet after the SYN dropped) has its record [${fam}]`, async () => {
        // the child is accepted, reads the request its SYN carried and answers; no ACK of the
        // client reaches it, so it is never ESTABLISHED and is still in SYN_RECV at shutdown
        const p = pair!;
        const [ipA, ipB] = fam === 'IPv6' ? [p.ip6A!, p.ip6B!] : [p.ipA, p.ipB];
        const port = await freePort();
        const undrop = serverDrop(p, port, 'tcp flags & syn == 0', `tfo-after-syn-${fam}`, ipA);
        try {
          const { cap, conns, serverPid } = await tfoExchange(p, port, 'hold', ARGS, ipA, ipB);
          assert.ok(p.nftCount(p.B, `tfo-after-syn-${fam}`) >= K, 'the clients\' packets after their SYNs were dropped');
          assert.equal(conns.length, K);
          assert.deepEqual(conns.filter((c) => !c.acked), [], 'every SYN carried the request and the server took it');
          for (const c of conns) {
            const s = byPorts(cap.records, port, c.port);
            assert.equal(s.length, 1, `server side of ${c.port}: ${JSON.stringify(s)}`);
            const r = s[0]!;
            assert.equal(r.SockState, 'TCP_SYN_RECV', `server side of ${c.port}`);
            assert.deepEqual([r.SockLocalIP, r.SockRemoteIP], [ipB, ipA], `server side of ${c.port}`);
            assert.equal(r.ProcPID, serverPid);
            // nothing but the SYN reached the child: its request, once; the answer, once
            assert.deepEqual(flagKeys(r, 'SockRxFlags'), { SYN: 1 }, `server side of ${c.port}`);
            assert.equal(r.SockRxBytes, `GET /tfo/${c.port} HTTP/1.1\r\nHost: b\r\n\r\n`.length, `server side of ${c.port}`);
            assert.equal(r.SockTxBytes, 'HTTP/1.1 204 No Content\r\n\r\n'.length, `server side of ${c.port}`);
            assert.ok((flagKeys(r, 'SockTxFlags')['SYN-ACK'] ?? 0) >= 1, `server side of ${c.port}: ${JSON.stringify(r.SockTxFlags)}`);
            // the client's side is ESTABLISHED and open: its record too, once
            assert.equal(byPorts(cap.records, c.port, port).length, 1, `client side of ${c.port}`);
          }
        } finally {
          undrop();
        }
      });
    }

    it('a Fast Open child that answers in SYN_RECV and is made ESTABLISHED by its client\'s next data has the answer acknowledged', async () => {
      // the clients' bare ACKs are dropped: the answer leaves in SYN_RECV, and the client's 4
      // bytes more acknowledge it and complete the handshake in one segment (the kernel counts
      // the acknowledgement before the move to ESTABLISHED)
      const p = pair!;
      const port = await freePort();
      const undrop = serverDrop(p, port, 'tcp flags == ack ip length 52', 'tfo-more-bare-ack');
      try {
        const { cap, conns } = await tfoExchange(p, port, 'more', ARGS);
        const ports = conns.map((c) => c.port);
        assert.ok(p.nftCount(p.B, 'tfo-more-bare-ack') >= K, 'the clients\' bare ACKs were dropped');
        assert.equal(ports.length, K);
        const answer = 'HTTP/1.1 204 No Content\r\n\r\n'.length;
        for (const c of ports) {
          const s = byPorts(cap.records, port, c);
          assert.equal(s.length, 1, `server side of ${c}: ${JSON.stringify(s)}`);
          const r = s[0]!;
          assert.equal(r.SockState, 'TCP_ESTABLISHED', `server side of ${c}`);
          assert.equal(r.SockRxBytes, `GET /tfo/${c} HTTP/1.1\r\nHost: b\r\n\r\n`.length + 4, `server side of ${c}`);
          assert.equal(r.SockTxBytes, answer, `server side of ${c}`);
          assert.equal(r.SockTxBytesAcked, answer, `server side of ${c}: the answer, acknowledged by the segment that made the child ESTABLISHED`);
        }
      } finally {
        undrop();
      }
    });
  });
}
