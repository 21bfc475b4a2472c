// -p and TCP retransmissions: captures are de-duplicated by sequence number in the kernel, on
// both hooks. A client and an HTTP server in two private network namespaces joined by a veth
// pair (nothing leaves them); nftables makes the retransmissions:
//  - port D: every client data segment is copied after it left the socket (`dup to` in the
//    client's postrouting: the copy has no socket, so the egress program sees the segment once)
//    and the server's ingress program sees it twice;
//  - port L: the first transmission of every client data segment is lost on the wire (netdev
//    ingress of the server's veth, before the server's stack), so the client's TCP resends it
//    (a loss probe): the egress program sees the same sequence range twice, the server's
//    ingress program once. (A drop on the client's side of the wire would not do: a local drop
//    is reported to TCP, which sends the segment again as new, not as a retransmission.)
// Ground truth: the kernel's own counters (TcpRetransSegs of both namespaces, nft counters on
// the server's veth). Each request must appear exactly once in the client's and the server's
// record, and skip_retrans must equal the copies plus the retransmissions exactly.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { sh, vethPair, type VethPair } from './netns.js';
import { captureRecords, missingCommands, skipUnlessBpf, type Capture, type JsonRecord } from './harness.js';
import { run } from './protocols-servers.js';

const need = ['ip', 'nft', 'curl', 'python3'];
const skip = skipUnlessBpf() || missingCommands(need);

/** HTTP/1.0 on two ports (one connection per request), fixed body. */
const SERVER = `
import http.server, socketserver, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'ok ' + self.path.encode() + b'\\n'
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
ip = sys.argv[1]
for p in sys.argv[2:]:
    s = socketserver.TCPServer((ip, int(p)), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;


/** TcpRetransSegs of a namespace (/proc/net/snmp is per namespace). */
function retransSegs(ns: string): number {
  const lines = sh(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Tcp:'));
  const keys = lines[0]!.split(/\s+/), vals = lines[1]!.split(/\s+/);
  return Number(vals[keys.indexOf('RetransSegs')]);
}


describe('TCP retransmissions are captured once (netns + veth + nftables)', { skip }, () => {
  let A = '', B = '', VB = '', ipB = '';
  let pair: VethPair | undefined;
  const D = 20000 + randomInt(20000), L = D + 1;
  const K = 5;
  let server: ChildProcess | undefined;
  let cap: Capture;
  let dupCurl = 0, lossCurl = 0, serverPid = 0;
  let retransA = 0, retransB = 0, dupIn = 0, dropped = 0;

  before(async () => {
    pair = vethPair('fnrt');
    ({ A, B, VB, ipB } = pair);
    // data segments only (the IP length: a pure ACK with timestamps is 52 bytes, a SYN 60; a
    // copied SYN would make the server resend its SYN-ACK)
    pair.nft(A, `
table ip fndup {
  chain post { type filter hook postrouting priority mangle; tcp dport ${D} ip length > 100 dup to ${ipB}; }
}
`);
    pair.nft(B, `
table netdev fnwire {
  chain in { type filter hook ingress device "${VB}" priority 0;
    tcp dport ${D} ip length > 100 counter comment "dup-in";
    tcp dport ${L} ip length > 100 numgen inc mod 2 == 0 counter drop comment "loss"; }
}
`);
    server = spawn('ip', ['netns', 'exec', B, 'python3', '-c', SERVER, ipB, String(D), String(L)], { stdio: ['ignore', 'pipe', 'inherit'] });
    serverPid = server.pid!;
    await new Promise<void>((res, rej) => { server!.stdout!.once('data', () => res()); server!.once('exit', (c) => rej(new Error(`server exited ${c}`))); });
    const r0A = retransSegs(A), r0B = retransSegs(B);
    cap = await captureRecords(async () => {
      const urls = (port: number, p: string) => Array.from({ length: K }, (_, i) => [`-o`, '/dev/null', `http://${ipB}:${port}/${p}${i}`]).flat();
      dupCurl = (await run('ip', ['netns', 'exec', A, 'curl', '-s', ...urls(D, 'd')])).pid;
      lossCurl = (await run('ip', ['netns', 'exec', A, 'curl', '-s', ...urls(L, 'l')])).pid;
      await new Promise((res) => setTimeout(res, 1200));
    }, ['-m', 'socket', '-p', `http=tcp/${D},tcp/${L}`, '-p', 'dns=off', '-p', 'syslog=off']);
    retransA = retransSegs(A) - r0A;
    retransB = retransSegs(B) - r0B;
    dupIn = pair.nftCount(B, 'dup-in');
    dropped = pair.nftCount(B, 'loss');
  });

  after(() => {
    server?.kill();
    pair?.remove();
  });

  const requests = (recs: JsonRecord[], key: string) => recs.map((r) => ((r[key] as JsonRecord[] | undefined) ?? []).filter((m) => m._Method).map((m) => m._Url));

  it('the wire did what the test asked: K copies, K losses, each resent once, nothing else resent', () => {
    assert.equal(dupIn, 2 * K, 'the server got each request to D twice');
    assert.equal(dropped, K);
    assert.equal(retransA, K, 'the client resent each dropped request once');
    assert.equal(retransB, 0, 'the server resent nothing');
  });

  for (const [name, port, p] of [['duplicated on the wire', () => D, 'd'], ['dropped and resent', () => L, 'l']] as const) {
    it(`${name}: each request once in the client's and the server's record`, () => {
      const want = Array.from({ length: K }, (_, i) => [`/${p}${i}`]);
      const client = cap.records.filter((r) => r.ProcPID === (p === 'd' ? dupCurl : lossCurl) && r.SockRemotePort === port() && r.App === 'HTTP');
      const server = cap.records.filter((r) => r.ProcPID === serverPid && r.SockLocalPort === port() && r.App === 'HTTP');
      assert.deepEqual(requests(client, 'AppTxHttp'), want);
      assert.deepEqual(requests(server, 'AppRxHttp').sort(), want);
      // the responses, too, once each
      assert.deepEqual(client.map((r) => ((r.AppRxHttp as JsonRecord[]) ?? []).filter((m) => m._Status).length), want.map(() => 1));
    });
  }

  it('skip_retrans = copies seen at ingress + resends seen at egress, and every payload accounted for', () => {
    const line = cap.stderr.split('\n').filter((l) => l.startsWith('falconet-payload-stats ')).at(-1);
    assert.ok(line);
    const s = JSON.parse(line.slice('falconet-payload-stats '.length)) as Record<string, number>;
    // a loss probe's timer may fire while the agent runs: the resend is still the client's
    // (bpf/payload.bpf.h, pl_tcp_held; test/kernel/protocols-softirq.test.ts)
    assert.equal(s.skip_retrans, (dupIn - K) + retransA, `${JSON.stringify(s)}; copies in ${dupIn}, client resends ${retransA}`);
    assert.equal(s.drop_ringbuf, 0);
    assert.equal(s.payloads, s.captured);
  });
});
