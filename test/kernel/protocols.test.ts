// -p end to end with real Debian clients and servers (dig/dnsmasq, curl/nginx, logger/rsyslog),
// all on 127.0.0.1 with private configs: the decoded App keys of each client's socket record
// are checked against the servers' configuration and the clients' own output; a curl to a name
// dig resolved carries that name; and the capture counters account for every payload.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { captureRecords, missingCommands, skipUnlessBpf, type Capture, type JsonRecord } from './harness.js';
import { nodeChild } from './socket-workloads.js';
import { run, startDnsmasq, startNginx, startRsyslog, type Rsyslog, type Server, type Run } from './protocols-servers.js';
import { freePort } from '../lib/ports.js';

const need = ['dnsmasq', 'nginx', 'dig', 'curl', 'logger', 'rsyslogd'];
const skip = skipUnlessBpf() || missingCommands(need);

const DNSMASQ = [
  '--host-record=a.test,10.1.2.3,fd00::3', '--cname=www.a.test,a.test', '--mx-host=a.test,mail.a.test,10',
  '--txt-record=t.a.test,v=spf1 -all', '--ptr-record=9.9.9.10.in-addr.arpa,p.a.test',
  '--srv-host=_sip._tcp.a.test,sip.a.test,5060,1,2', '--address=/nx.test/', '--local=/a.test/',
  '--host-record=web.test,127.0.0.7', '--listen-address=::1',
];

/** [dig args, expected answers] with the answers as the config defines them */
const QUERIES: [string[], string, string, unknown[][], string][] = [
  [[], 'A', 'www.a.test', [['CNAME', 'www.a.test', 300, 'IN', 'a.test'], ['A', 'a.test', 300, 'IN', '10.1.2.3']], 'NOERROR'],
  [[], 'AAAA', 'a.test', [['AAAA', 'a.test', 300, 'IN', 'fd00::3']], 'NOERROR'],
  [[], 'MX', 'a.test', [['MX', 'a.test', 300, 'IN', '10 mail.a.test']], 'NOERROR'],
  [[], 'TXT', 't.a.test', [['TXT', 't.a.test', 300, 'IN', '"v=spf1 -all"']], 'NOERROR'],
  [[], 'PTR', '9.9.9.10.in-addr.arpa', [['PTR', '9.9.9.10.in-addr.arpa', 300, 'IN', 'p.a.test']], 'NOERROR'],
  [[], 'SRV', '_sip._tcp.a.test', [['SRV', '_sip._tcp.a.test', 300, 'IN', '1 2 5060 sip.a.test']], 'NOERROR'],
  [[], 'A', 'x.nx.test', [], 'NXDOMAIN'],
  [['+tcp'], 'MX', 'a.test', [['MX', 'a.test', 300, 'IN', '10 mail.a.test']], 'NOERROR'],
  [['+tcp'], 'SRV', '_sip._tcp.a.test', [['SRV', '_sip._tcp.a.test', 300, 'IN', '1 2 5060 sip.a.test']], 'NOERROR'],
  // over IPv6 (the server's address is given by @::1 below)
  [['-6'], 'A', 'a.test', [['A', 'a.test', 300, 'IN', '10.1.2.3']], 'NOERROR'],
  [['-6', '+tcp'], 'AAAA', 'a.test', [['AAAA', 'a.test', 300, 'IN', 'fd00::3']], 'NOERROR'],
];

const noTs = (m: JsonRecord) => {
  assert.equal(typeof m._Timestamp, 'number', '_Timestamp is a number');
  assert.ok((m._Timestamp as number) >= 0);
  const { _Timestamp, ...rest } = m;
  return rest;
};

/** The records of one client process talking to one server port (the one with App keys). */
function appRecord(recs: JsonRecord[], pid: number, remotePort?: number): JsonRecord {
  const mine = recs.filter((r) => r.ProcPID === pid && r.App !== undefined && (remotePort === undefined || r.SockRemotePort === remotePort));
  assert.equal(mine.length, 1, `one record with App keys of pid ${pid}: ${JSON.stringify(recs.filter((r) => r.ProcPID === pid))}`);
  return mine[0]!;
}

/** dig's id, and its header flags in kflowd's order (QR AA TC RD RA). */
function digFacts(out: string): { id: number; flags: string[]; status: string } {
  const h = /opcode: QUERY, status: (\w+), id: (\d+)/.exec(out);
  const f = /;; flags:([a-z ]*);/.exec(out);
  assert.ok(h && f, `dig output: ${out}`);
  const set = f[1]!.trim().split(/\s+/).map((x) => x.toUpperCase());
  return { id: Number(h[2]), status: h[1]!, flags: ['QR', 'AA', 'TC', 'RD', 'RA'].filter((x) => set.includes(x)) };
}

describe('payload decoding with real clients and servers', { skip }, () => {
  const dir = skip ? '' : mkdtempSync(path.join(tmpdir(), 'fn-proto-'));
  let dns: Server, web: Server, webDeferred: Server, syslog: Rsyslog;
  let cap: Capture;
  const digs: { q: (typeof QUERIES)[number]; r: Run }[] = [];
  let curl: Run, curlName: Run, curlDeferred: Run, digName: Run, logU: Run, logT: Run, logD: Run;
  let curlVersion = '';

  before(async () => {
    for (const d of ['dns', 'web', 'web-deferred', 'rs']) execFileSync('mkdir', ['-p', path.join(dir, d)]);
    dns = await startDnsmasq(path.join(dir, 'dns'), DNSMASQ);
    web = await startNginx(path.join(dir, 'web'));
    webDeferred = await startNginx(path.join(dir, 'web-deferred'), { deferred: true });
    syslog = await startRsyslog(path.join(dir, 'rs'));
    curlVersion = /^curl (\S+)/.exec(execFileSync('curl', ['--version'], { encoding: 'utf8' }))![1]!;
    const P = String(web.port);
    cap = await captureRecords(async () => {
      for (const q of QUERIES) {
        const server = q[0].includes('-6') ? '@::1' : '@127.0.0.1';
        digs.push({ q, r: await run('dig', [server, '-p', String(dns.port), '+tries=1', '+time=3', ...q[0], q[1], q[2]]) });
      }
      curl = await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null',
        `http://127.0.0.1:${P}/old`, `http://127.0.0.1:${P}/new`, `http://127.0.0.1:${P}/chunk.html`]);
      digName = await run('dig', ['@127.0.0.1', '-p', String(dns.port), '+tries=1', '+time=3', 'A', 'web.test']);
      curlName = await run('curl', ['-s', '-o', '/dev/null', '--resolve', `web.test:${P}:127.0.0.7`, `http://web.test:${P}/new`]);
      curlDeferred = await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${webDeferred.port}/new`]);
      logU = await run('logger', ['-u', syslog.socket, '-t', 'utag', '-i', 'hello unix']);
      logT = await run('logger', ['-T', '-n', '127.0.0.1', '-P', String(syslog.tcp), '--rfc5424', '--msgid', 'MID7', '-t', 'ttag', 'hello tcp']);
      logD = await run('logger', ['-d', '-n', '127.0.0.1', '-P', String(syslog.udp), '--rfc3164', '-t', 'dtag', 'hello udp']);
      // the UDP and UNIX records leave at close; give the exporter a tick
      await new Promise((r) => setTimeout(r, 1200));
    }, ['-m', 'socket', '--sink', 'stdout:?format=json-min', '--sink', `file://${path.join(dir, 'ecs.ndjson')}?format=ecs`,
      '-p', `dns=udp/${dns.port},tcp/${dns.port}`, '-p', `http=tcp/${P},tcp/${webDeferred.port}`,
      '-p', `syslog=udp/${syslog.udp},tcp/${syslog.tcp},unix:${syslog.socket}`]);
  });

  after(async () => {
    await Promise.all([dns?.stop(), web?.stop(), webDeferred?.stop(), syslog?.stop()]);
  });

  it('dig (UDP and +tcp) against dnsmasq: ids, flags, names, types and answers', () => {
    for (const { q: [args, type, name, answers, rcode], r } of digs) {
      const d = digFacts(r.stdout);
      assert.equal(d.status, rcode);
      const rec = appRecord(cap.records, r.pid, dns.port);
      assert.equal(rec.SockProtocol, args.includes('+tcp') ? 'TCP' : 'UDP');
      assert.equal(rec.SockRemoteIP, args.includes('-6') ? '::1' : '127.0.0.1');
      assert.equal(rec.App, 'DNS');
      const tx = (rec.AppTxDns as JsonRecord[]).map(noTs);
      const rx = (rec.AppRxDns as JsonRecord[]).map(noTs);
      assert.deepEqual(tx, [{ TransactionId: d.id, OpCode: 'QUERY', Flags: ['RD'], ResourceRecords: [[type, name]] }], `${type} ${name}`);
      assert.deepEqual(rx, [{ TransactionId: d.id, ResponseCode: rcode, Flags: d.flags, AnswerCount: answers.length, ResourceRecords: answers }], `${type} ${name}`);
    }
  });

  it('curl against nginx: a 301 with Location, keep-alive with three requests, a chunked body', () => {
    const rec = appRecord(cap.records, curl.pid, web.port);
    assert.equal(rec.App, 'HTTP');
    const host = `127.0.0.1:${web.port}`;
    assert.deepEqual((rec.AppTxHttp as JsonRecord[]).map(noTs), ['/old', '/new', '/chunk.html'].map((u) => (
      { _Method: 'GET', _Url: u, _Version: 'HTTP/1.1', Host: host, 'User-Agent': `curl/${curlVersion}`, Accept: '*/*' })));
    const rx = (rec.AppRxHttp as JsonRecord[]).map(noTs);
    const heads = rx.filter((m) => m._Status !== undefined);
    assert.deepEqual(heads.map((m) => m._Status), [301, 200, 200]);
    const [moved, ok, chunked] = heads as [JsonRecord, JsonRecord, JsonRecord];
    assert.deepEqual(Object.keys(moved), ['_Version', '_Status', '_Reason', 'Server', 'Date', 'Content-Type', 'Content-Length', 'Connection', 'Location', '_Body']);
    assert.equal(moved._Reason, 'Moved Permanently');
    assert.equal(moved.Location, `http://127.0.0.1:${web.port}/new`);
    assert.equal(moved.Connection, 'keep-alive');
    assert.match(moved.Server as string, /^nginx\//);
    assert.match(moved.Date as string, /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
    assert.equal((moved._Body as string).slice(0, 45), '<html>\r\n<head><title>301 Moved Permanently</t');
    assert.deepEqual({ ...ok, Date: '' }, { _Version: 'HTTP/1.1', _Status: 200, _Reason: 'OK', Server: moved.Server, Date: '', 'Content-Type': 'text/plain',
      'Content-Length': '9', Connection: 'keep-alive', _Body: 'new page\n' });
    assert.equal(chunked['Transfer-Encoding'], 'chunked');
    assert.equal(chunked['Content-Length'], undefined);
    // the chunks, in the head's segment or in continuation segments (_Body)
    const after = rx.slice(rx.indexOf(chunked));
    const body = after.map((m) => m._Body ?? '').join('');
    assert.match(body, /^[0-9a-f]+\r\nhello chunked world\n/);
  });

  it('nginx `listen … deferred`: the request that completes the handshake is the server\'s first message', () => {
    // TCP_DEFER_ACCEPT: nginx's socket is made from the segment that carries the request, which
    // reaches the listener; the sensor keeps it and ships it under the new socket's cookie
    const host = `127.0.0.1:${webDeferred.port}`;
    const req = { _Method: 'GET', _Url: '/new', _Version: 'HTTP/1.1', Host: host, 'User-Agent': `curl/${curlVersion}`, Accept: '*/*' };
    const client = appRecord(cap.records, curlDeferred.pid, webDeferred.port);
    assert.deepEqual((client.AppTxHttp as JsonRecord[]).map(noTs), [req]);
    const server = cap.records.filter((r) => r.SockRole === 'SERVER' && r.SockLocalPort === webDeferred.port && r.SockRemotePort === client.SockLocalPort);
    assert.equal(server.length, 1, JSON.stringify(server));
    assert.equal(server[0]!.App, 'HTTP');
    assert.deepEqual((server[0]!.AppRxHttp as JsonRecord[]).map(noTs), [req]);
    assert.deepEqual((server[0]!.AppTxHttp as JsonRecord[]).map((m) => m._Status), [200]);
  });

  it('curl http://web.test/ after dig web.test: the socket record carries the name', () => {
    assert.match(digName.stdout, /web\.test\.\s+300\s+IN\s+A\s+127\.0\.0\.7/);
    const rec = appRecord(cap.records, curlName.pid, web.port);
    assert.equal(rec.SockRemoteIP, '127.0.0.7');
    assert.deepEqual(rec.SockRemoteNames, ['web.test']);
    // a flow to an address nobody resolved has none
    assert.equal(appRecord(cap.records, curl.pid, web.port).SockRemoteNames, undefined);
  });

  it('logger -u / -T / -d against rsyslog: both formats, the logger as the process', () => {
    const host = hostname();
    const u = appRecord(cap.records, logU.pid);
    assert.equal(u.SockFamily, 'AF_UNIX');
    assert.equal(u.SockAddress, syslog.socket);
    assert.equal(u.Proc, 'logger');
    const [mu] = u.AppTxSyslog as JsonRecord[];
    assert.match(mu!.Timestamp as string, /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$/);
    assert.deepEqual({ ...mu, Timestamp: '' }, { Facility: 'User', Severity: 'Notice (5)', Priority: 13, Version: 0, Timestamp: '',
      Appname: 'utag', ProcId: String(logU.pid), Message: 'hello unix' });
    const t = appRecord(cap.records, logT.pid, syslog.tcp);
    assert.equal(t.SockProtocol, 'TCP');
    const [mt] = t.AppTxSyslog as JsonRecord[];
    assert.match(mt!.Timestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d$/);
    assert.match(mt!.Data as string, /^\[timeQuality /);
    assert.deepEqual({ ...mt, Timestamp: '', Data: '' }, { Facility: 'User', Severity: 'Notice (5)', Priority: 13, Version: 1, Timestamp: '',
      Hostname: host, Appname: 'ttag', MsgId: 'MID7', Data: '', Message: 'hello tcp' });
    const d = appRecord(cap.records, logD.pid, syslog.udp);
    assert.equal(d.SockProtocol, 'UDP');
    const [md] = d.AppTxSyslog as JsonRecord[];
    assert.deepEqual({ ...md, Timestamp: '' }, { Facility: 'User', Severity: 'Notice (5)', Priority: 13, Version: 0, Timestamp: '',
      Hostname: host, Appname: 'dtag', Message: 'hello udp' });
    // rsyslog received them all
    const got = readFileSync(syslog.out, 'utf8');
    for (const m of ['hello unix', 'hello tcp', 'hello udp']) assert.ok(got.includes(m), m);
  });

  it('ECS (format=ecs sink of the same run): dns.*, http.*/url.*, log.syslog.*, destination.domain', () => {
    const docs = readFileSync(path.join(dir, 'ecs.ndjson'), 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l) as JsonRecord);
    const of = (pid: number, proto: string) => {
      const d = docs.filter((x) => (x.process as JsonRecord | undefined)?.pid === pid && (x.network as JsonRecord).protocol === proto);
      assert.equal(d.length, 1, `one ${proto} document of pid ${pid}`);
      return d[0]!;
    };
    const first = digs[0]!; // A www.a.test: a CNAME and an A
    const d = digFacts(first.r.stdout);
    assert.deepEqual(of(first.r.pid, 'dns').dns, {
      type: 'answer', id: String(d.id), op_code: 'QUERY', header_flags: d.flags, response_code: 'NOERROR', question: { name: 'www.a.test', type: 'A' },
      answers: [{ name: 'www.a.test', type: 'CNAME', class: 'IN', ttl: 300, data: 'a.test' }, { name: 'a.test', type: 'A', class: 'IN', ttl: 300, data: '10.1.2.3' }],
      resolved_ip: ['10.1.2.3'],
    });
    const h = of(curl.pid, 'http');
    assert.deepEqual(h.http, { version: '1.1', request: { method: 'GET' }, response: { status_code: 301, mime_type: 'text/html', body: { bytes: 169 } } });
    assert.deepEqual(h.url, { original: '/old', path: '/old', domain: '127.0.0.1', port: web.port });
    assert.deepEqual(h.user_agent, { original: `curl/${curlVersion}` });
    assert.deepEqual(h.falconet && (h.falconet as JsonRecord).app, { tx_messages: 3, rx_messages: (appRecord(cap.records, curl.pid, web.port).AppRxHttp as unknown[]).length, exceptions: 0 });
    const named = of(curlName.pid, 'http');
    assert.equal((named.destination as JsonRecord).domain, 'web.test');
    assert.deepEqual((named.related as JsonRecord).hosts, ['web.test']);
    const u = of(logU.pid, 'syslog');
    assert.deepEqual((u.log as JsonRecord).syslog, { priority: 13, facility: { code: 1, name: 'user' }, severity: { code: 5, name: 'Notice' }, appname: 'utag', procid: String(logU.pid) });
    assert.equal(u.message, 'hello unix');
    const t = of(logT.pid, 'syslog');
    const ts = (t.log as JsonRecord).syslog as JsonRecord;
    assert.deepEqual({ ...ts, structured_data: undefined }, { priority: 13, facility: { code: 1, name: 'user' }, severity: { code: 5, name: 'Notice' }, version: '1',
      hostname: hostname(), appname: 'ttag', msgid: 'MID7', structured_data: undefined });
    assert.deepEqual(Object.keys(ts.structured_data as JsonRecord), ['timeQuality']);
    assert.equal(t.message, 'hello tcp');
  });

  it('every capture reached the agent and joined a record', () => {
    const line = cap.stderr.split('\n').filter((l) => l.startsWith('falconet-payload-stats ')).at(-1);
    assert.ok(line, 'payload stats line');
    const s = JSON.parse(line.slice('falconet-payload-stats '.length)) as Record<string, number>;
    assert.equal(s.drop_ringbuf, 0);
    assert.equal(s.drop_flow_map, 0);
    assert.equal(s.drop_read, 0);
    assert.equal(s.drop_handshake, 0, 'the deferred listener\'s request went to its socket');
    assert.equal(s.payloads, s.captured);
  });
});

/** UDP datagrams from many sockets as fast as one process sends them; each is seen leaving and
 * arriving (loopback), so 2 × sent payloads meet the port filter. */
const FLOOD = `
const dgram = require('node:dgram');
const [port, sockets, per, size] = process.argv.slice(1).map(Number);
const rx = dgram.createSocket('udp4');
rx.bind(port, '127.0.0.1', async () => {
  const buf = Buffer.alloc(size, 0x61);
  let sent = 0;
  const ports = new Set();
  for (let s = 0; s < sockets; s++) {
    const tx = dgram.createSocket('udp4');
    await new Promise((r) => tx.bind(0, '127.0.0.1', r));
    ports.add(tx.address().port);
    for (let i = 0; i < per; i++) await new Promise((r, j) => tx.send(buf, port, '127.0.0.1', (e) => e ? j(e) : (sent++, r())));
    tx.close();
  }
  rx.close();
  console.log(JSON.stringify({ sent, peers: ports.size }));
});
`;

describe('payload loss accounting', { skip: skipUnlessBpf() }, () => {
  it('at full rate, captured + dropped by reason = payloads that matched the port (both directions)', async () => {
    const port = await freePort({ udp: true });
    let sent = 0, peers = 0;
    const cap = await captureRecords(async () => {
      const r = await nodeChild(FLOOD, [String(port), '400', '20', '1400']);
      ({ sent, peers } = JSON.parse(r.stdout.trim()) as { sent: number; peers: number });
      await new Promise((res) => setTimeout(res, 1500));
    }, ['-m', 'socket', '-p', `dns=udp/${port}`, '-p', 'http=off', '-p', 'syslog=off', '--ringbuf-mb', '1']);
    assert.equal(sent, 400 * 20);
    const line = cap.stderr.split('\n').filter((l) => l.startsWith('falconet-payload-stats ')).at(-1);
    assert.ok(line);
    const s = JSON.parse(line.slice('falconet-payload-stats '.length)) as Record<string, number>;
    const accounted = s.captured! + s.drop_ringbuf! + s.drop_flow_cap! + s.drop_flow_map! + s.drop_handshake! + s.drop_read!;
    assert.equal(accounted, 2 * sent, JSON.stringify(s));
    assert.equal(s.skip_retrans, 0);
    // 8 per flow and direction: 400 sending sockets (tx), and the receiver's peers (rx: a sender
    // port the kernel handed out again is the same peer)
    assert.equal(s.captured! + s.drop_ringbuf! + s.drop_flow_map!, 400 * 8 + peers * 8, JSON.stringify(s));
    assert.equal(s.payloads, s.captured, 'every captured record reached the agent');
  });
});

/** Address reuse: one process, pinned to one CPU, alternates two connected UNIX datagram
 * sockets: a "noise" one to an ordinary socket (read at once, so the socket is freed at close)
 * and a "syslog" one to the configured syslog socket. The allocator hands the next socket the
 * struct sock the previous one just freed, so both records carry the same address. */
const REUSE = `
import os, socket, sys
os.sched_setaffinity(0, {0})
d, n = sys.argv[1], int(sys.argv[2])
other = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); other.bind(d + '/other')
for i in range(n):
    a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); a.connect(d + '/other'); a.send(b'noise'); other.recv(64); a.close()
    b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); b.connect(d + '/log'); b.send(b'<13>Dec  2 21:02:49 rtag[1]: msg %d' % i); b.close()
print(os.getpid())
`;

/** The syslog socket (it must exist when the agent starts: -p resolves its path then). Pinned to
 * the sender's CPU: sk_data_ready reads the datagram at the tail of the receive queue, and a
 * receiver running on another CPU could take it first (counted as drop_read, not joined). On one
 * CPU the receiver runs only once the sender's send() has returned. */
const LOG_RECEIVER = `
import os, socket, sys
os.sched_setaffinity(0, {0})
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1] + '/log')
print('ready', flush=True)
while True: s.recv(256)
`;

describe('UNIX syslog payloads and struct sock reuse', { skip: skipUnlessBpf() }, () => {
  it('each message joins the record of the socket that sent it, never an earlier socket at the same address', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fn-reuse-'));
    const N = 40;
    let pid = 0;
    const rx = spawn('python3', ['-c', LOG_RECEIVER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => { rx.stdout.once('data', () => res()); rx.once('exit', (c) => rej(new Error(`receiver exited ${c}`))); });
    const cap = await captureRecords(async () => {
      const r = await run('python3', ['-c', REUSE, dir, String(N)]);
      pid = Number(r.stdout.trim());
      await new Promise((res) => setTimeout(res, 1200));
    }, ['-m', 'socket', '-p', 'dns=off', '-p', 'http=off', '-p', `syslog=unix:${dir}/log`]).finally(() => rx.kill());
    const mine = cap.records.filter((r) => r.ProcPID === pid && r.SockFamily === 'AF_UNIX' && r.SockRole === 'CLIENT');
    const noise = mine.filter((r) => r.SockAddress === `${dir}/other`);
    const logs = mine.filter((r) => r.SockAddress === `${dir}/log`);
    assert.equal(noise.length, N, 'one record per noise socket');
    assert.equal(logs.length, N, 'one record per syslog socket');
    assert.deepEqual(noise.filter((r) => r.App !== undefined).map((r) => r.AppTxSyslog), [], 'no noise socket has a syslog message');
    const msgs = logs.map((r) => ((r.AppTxSyslog as JsonRecord[] | undefined) ?? []).map((m) => m.Message));
    assert.deepEqual(msgs.flat().sort(), Array.from({ length: N }, (_, i) => `msg ${i}`).sort());
    assert.ok(msgs.every((m) => m.length === 1), 'one message per syslog socket');
  });
});

/** The race: senders on CPU 0, the syslog receiver on CPU 1 polling without blocking (a busy
 * receiver, like rsyslogd under load), so it often takes a datagram off the queue before the
 * sender's sk_data_ready looks at the queue's tail. Those
 * are the reader side's (skb_copy_datagram_iovec); the rest the sender side's. Each sending
 * socket sends PER messages (under the per-flow cap of 8) and closes. */
const RACE_SENDER = `
import os, socket, sys
os.sched_setaffinity(0, {0})
d, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); b.connect(d + '/log')
    for j in range(per): b.send(b'<13>Dec  2 21:02:49 race[1]: m %d.%d' % (i, j))
    b.close()
print(os.getpid())
`;
const RACE_RECEIVER = `
import os, socket, sys
os.sched_setaffinity(0, {1})
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1] + '/log')
print('ready', flush=True)
s.setblocking(False)
n = 0
while True:
    try: m = s.recv(256)
    except BlockingIOError: continue
    if m == b'end': break
    n += 1
print(n, flush=True)
`;

describe('UNIX syslog: receiver on another CPU than the sender (reader-side capture)', { skip: skipUnlessBpf() }, () => {
  it('every datagram is captured once, on one side or the other, and joins its socket record', async (t) => {
    const { availableParallelism } = await import('node:os');
    if (availableParallelism() < 2) { t.skip('needs 2 CPUs'); return; }
    const dir = mkdtempSync(path.join(tmpdir(), 'fn-race-'));
    const N = 300, PER = 5;
    let pid = 0, received = -1;
    const rx = spawn('python3', ['-c', RACE_RECEIVER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rxOut = '';
    await new Promise<void>((res, rej) => {
      rx.stdout.setEncoding('utf8').on('data', (d: string) => { rxOut += d; if (rxOut.includes('ready')) res(); });
      rx.once('exit', (c) => rej(new Error(`receiver exited ${c}`)));
    });
    const rxDone = new Promise<void>((res) => rx.once('exit', () => res()));
    const cap = await captureRecords(async () => {
      const r = await run('python3', ['-c', RACE_SENDER, dir, String(N), String(PER)]);
      pid = Number(r.stdout.trim());
      // the end marker is not a syslog message: it is sent from an unconnected socket after the run
      await run('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'end', '${dir}/log')`]);
      await rxDone;
      received = Number(rxOut.split('\n')[1]);
      await new Promise((res) => setTimeout(res, 1200));
    }, ['-m', 'socket', '-p', 'dns=off', '-p', 'http=off', '-p', `syslog=unix:${dir}/log`]).finally(() => rx.kill());
    assert.equal(received, N * PER, 'the receiver got every datagram');
    const line = cap.stderr.split('\n').filter((l) => l.startsWith('falconet-payload-stats ')).at(-1);
    assert.ok(line, 'payload stats line');
    const s = JSON.parse(line.slice('falconet-payload-stats '.length)) as Record<string, number>;
    process.stdout.write(`# race: ${JSON.stringify(s)}\n`);
    // N × PER messages + the end marker: all captured, none dropped, none twice
    const dropped = s.drop_ringbuf! + s.drop_flow_cap! + s.drop_flow_map! + s.drop_handshake! + s.drop_read!;
    assert.equal(s.captured! + dropped, N * PER + 1, JSON.stringify(s));
    assert.equal(dropped, 0, JSON.stringify(s));
    assert.ok(s.unix_reader! <= s.captured!, JSON.stringify(s));
    assert.equal(s.payloads, s.captured, 'every captured record reached the agent');
    const logs = cap.records.filter((r) => r.ProcPID === pid && r.SockFamily === 'AF_UNIX' && r.SockAddress === `${dir}/log`);
    assert.equal(logs.length, N, 'one record per sending socket');
    // sorted: a message taken on the reader side is shipped when it is read, after later
    // messages of the same socket the sender side took as they were sent
    const msgs = logs.map((r) => ((r.AppTxSyslog as JsonRecord[] | undefined) ?? []).map((m) => m.Message as string).sort());
    for (const m of msgs) {
      assert.equal(m.length, PER, JSON.stringify(m));
      const i = /^m (\d+)\.0$/.exec(m[0]!)?.[1];
      assert.deepEqual(m, Array.from({ length: PER }, (_, j) => `m ${i}.${j}`), 'a socket\'s own messages');
    }
    assert.equal(new Set(msgs.map((m) => m[0])).size, N);
  });
});
