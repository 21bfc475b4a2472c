// Kernel e2e for the socket monitor: real agent, real loopback traffic, exact ground truth.
// Every test runs once per TCP export path (socket-paths.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, sensorHello, type JsonRecord } from './harness.js';
import { buildC } from './process-workloads.js';
import { MON_FILE, MON_SOCKET } from '../../src/sensor/layout.js';
import { EXPORT_PATHS, captureOn, pathSkips } from './socket-paths.js';
import { TCP_CLIENT, byPorts, flagKeys, nodeChild, sock, tcpServer } from './socket-workloads.js';
import { freePort } from '../lib/ports.js';

const skips = await pathSkips();
const ARGS = ['-m', 'socket'];

const hasFlag = (f: Record<string, number>, part: string) => Object.keys(f).some((k) => k.split('-').includes(part));
const brief = (recs: JsonRecord[]) => JSON.stringify(recs.map((r) => ({
  pid: r.ProcPID, proto: r.SockProtocol, role: r.SockRole, l: r.SockLocalPort, r: r.SockRemotePort, a: r.SockAddress,
})));

async function tcpExchange(host: string, n: number, m: number) {
  const srv = await tcpServer(host, m);
  const client = await nodeChild(TCP_CLIENT, [host, String(srv.port), String(n)]);
  assert.equal(await srv.received, n);
  await srv.close();
  const out = JSON.parse(client.stdout.trim()) as { localPort: number; got: number };
  assert.equal(out.got, m);
  return { port: srv.port, clientPort: out.localPort, clientPid: client.pid };
}

function checkTcpPair(recs: JsonRecord[], x: { port: number; clientPort: number; clientPid: number }, n: number, m: number, fam: string, ip: string) {
  const cl = byPorts(recs, x.clientPort, x.port);
  const sv = byPorts(recs, x.port, x.clientPort);
  assert.equal(cl.length, 1, `client records: ${brief(sock(recs))}`);
  assert.equal(sv.length, 1, `server records: ${brief(sock(recs))}`);
  const c = cl[0]!, s = sv[0]!;
  for (const r of [c, s]) {
    assert.equal(r.SockProtocol, 'TCP');
    assert.equal(r.SockState, 'TCP_CLOSE');
    assert.equal(r.SockFamily, fam);
    assert.equal(r.SockLocalIP, ip);
    assert.equal(r.SockRemoteIP, ip);
    assert.match(String(r.SockTxInterface), /^1:lo:/);
    assert.match(String(r.SockRxInterface), /^1:lo:/);
    assert.equal(r.SockRxTTL, 64);
  }
  assert.equal(c.SockRole, 'CLIENT');
  assert.equal(c.ProcPID, x.clientPid);
  assert.equal(c.SockTxBytes, n);
  assert.equal(c.SockRxBytes, m);
  assert.equal(s.SockRole, 'SERVER');
  assert.equal(s.ProcPID, process.pid);
  assert.equal(s.SockRxBytes, n);
  assert.equal(s.SockTxBytes, m);
  // client: SYN out, SYN-ACK in; server: the mirror; both sides send and receive a FIN
  assert.equal(flagKeys(c, 'SockTxFlags').SYN, 1);
  assert.equal(flagKeys(c, 'SockRxFlags')['SYN-ACK'], 1);
  assert.equal(flagKeys(s, 'SockRxFlags').SYN, 1);
  assert.equal(flagKeys(s, 'SockTxFlags')['SYN-ACK'], 1);
  for (const r of [c, s]) {
    assert.ok(hasFlag(flagKeys(r, 'SockTxFlags'), 'FIN'), `FIN sent: ${JSON.stringify(r.SockTxFlags)}`);
    assert.ok(hasFlag(flagKeys(r, 'SockRxFlags'), 'FIN'), `FIN received: ${JSON.stringify(r.SockRxFlags)}`);
  }
  // each side's sent packets are the other side's received packets (loopback loses nothing)
  assert.equal(c.SockTxPackets, s.SockRxPackets);
  assert.equal(c.SockRxPackets, s.SockTxPackets);
  const keys = Object.keys(c);
  assert.ok(keys.indexOf('SockTxPackets') < keys.indexOf('SockRxPackets'), 'client: Tx before Rx');
  const skeys = Object.keys(s);
  assert.ok(skeys.indexOf('SockRxPackets') < skeys.indexOf('SockTxPackets'), 'server: Rx before Tx');
  return { c, s };
}

function udpBound(type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(type);
    s.bind(0, host, () => resolve(s));
  });
}

const PY_UNIX_DGRAM = `
import os, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(p)
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); c.connect(p)
for n in (10, 20, 30): c.send(b'x' * n)
got = sum(len(s.recv(100)) for _ in range(3))
print(os.getpid(), got)
c.close(); s.close()
`;

function hasPython(): boolean {
  try { execFileSync('python3', ['-c', 'import socket'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** The booted-kernel test's netpair (scripts/qemu/guest/netpair.c), built for this host once. */
let netpairBin = '';
const netpair = (): string => netpairBin ||= buildC('netpair', readFileSync(path.join(REPO, 'scripts/qemu/guest/netpair.c'), 'utf8'));

for (const ep of EXPORT_PATHS) {
  const skip = skips.get(ep.name)!;

  test(`TCP server socket: its owner is the task that first reads it, not the one that closes it (a forked reader; the FIN read with the data) [${ep.name}]`, { skip }, async () => {
    const port = await freePort();
    let out = '';
    const cap = await captureOn(ep, async () => { out = execFileSync(netpair(), ['tcpfork', String(port), '1000', '2000'], { encoding: 'utf8' }); }, ARGS);
    const reader = Number(/^tcpfork reader pid=(\d+) rx=1000$/m.exec(out)?.[1]);
    const server = Number(/^tcpfork server pid=(\d+) /m.exec(out)?.[1]);
    const client = /^tcpfork client pid=(\d+) lport=(\d+) rport=\d+ tx=1000 rx=2000$/m.exec(out);
    assert.ok(reader && server && client, out);
    const sv = byPorts(cap.records, port, Number(client[2]));
    assert.equal(sv.length, 1, brief(sock(cap.records)));
    assert.equal(sv[0]!.SockRole, 'SERVER');
    assert.equal(sv[0]!.ProcPID, reader, `the reader ${reader} owns it, not the server ${server} that answered and closed`);
    assert.equal(sv[0]!.SockRxBytes, 1000);
    assert.equal(sv[0]!.SockTxBytes, 2000);
    const cl = byPorts(cap.records, Number(client[2]), port);
    assert.equal(cl.length, 1, brief(sock(cap.records)));
    assert.equal(cl[0]!.ProcPID, Number(client[1]));
  });

  test(`TCP over IPv4: one CLIENT and one SERVER record with exact bytes, pids, ports and flags [${ep.name}]`, { skip }, async () => {
    const N = 123457, M = 54321;
    let x = { port: 0, clientPort: 0, clientPid: 0 };
    const cap = await captureOn(ep, async () => { x = await tcpExchange('127.0.0.1', N, M); }, ARGS);
    const { c } = checkTcpPair(cap.records, x, N, M, 'AF_INET', '127.0.0.1');
    // every kflowd TCP key is present, in kflowd's order
    const tcpKeys = Object.keys(c).filter((k) => k.startsWith('Sock'));
    assert.deepEqual(tcpKeys, [
      'SockProtocol', 'SockRole', 'SockState', 'SockFamily', 'SockLocalIP', 'SockLocalPort', 'SockRemoteIP', 'SockRemotePort',
      'SockTxInterface', 'SockTxDataPackets', 'SockTxPackets', 'SockTxPacketsRetrans', 'SockTxPacketsDups', 'SockTxFlags',
      'SockTxDuration', 'SockTxBytes', 'SockTxBytesAcked', 'SockTxBytesRetrans', 'SockTxRTO',
      'SockRxInterface', 'SockRxDataPackets', 'SockRxPackets', 'SockRxPacketsQueued', 'SockRxPacketsDrop',
      'SockRxPacketsReorder', 'SockRxPacketsFrag', 'SockRxFlags', 'SockRxDuration', 'SockRxBytes', 'SockRxTTL', 'SockRTT',
      'SockAge',
    ]);
    assert.equal(c.SockTxBytesAcked, N + 2, 'bytes acked counts the SYN and FIN sequence numbers');
    assert.ok(Number(c.SockTxRTO) >= 200, `RTO in ms: ${c.SockTxRTO}`);
    assert.equal(cap.stats?.counters.sock_drop, 0);
  });

  test(`TCP over IPv6 (::1) [${ep.name}]`, { skip }, async () => {
    const N = 4096, M = 777;
    let x = { port: 0, clientPort: 0, clientPid: 0 };
    const cap = await captureOn(ep, async () => { x = await tcpExchange('::1', N, M); }, ARGS);
    checkTcpPair(cap.records, x, N, M, 'AF_INET6', '::1');
  });

  test(`refused connect: a CLIENT record in TCP_CLOSE with SYN out and RST in [${ep.name}]`, { skip }, async () => {
    const port = await freePort();
    let pid = 0;
    const cap = await captureOn(ep, async () => {
      const r = await nodeChild(TCP_CLIENT, ['127.0.0.1', String(port), '10']);
      assert.match(r.stdout, /ECONNREFUSED/);
      pid = r.pid;
    }, ARGS);
    const recs = sock(cap.records).filter((r) => r.SockRemotePort === port && r.ProcPID === pid);
    assert.equal(recs.length, 1, brief(sock(cap.records)));
    const r = recs[0]!;
    assert.equal(r.SockRole, 'CLIENT');
    assert.equal(r.SockState, 'TCP_CLOSE');
    assert.deepEqual(r.SockTxFlags, { SYN: 1 });
    assert.deepEqual(r.SockRxFlags, { 'RST-ACK': 1 });
    assert.equal(r.SockTxBytes, 0);
    assert.equal(r.SockRxBytes, 0);
  });

  test(`reset connection: both sides reported closed, RST sent by the server and received by the client [${ep.name}]`, { skip }, async () => {
    const N = 1000;
    let port = 0, clientPort = 0;
    const cap = await captureOn(ep, async () => {
      let srvResolve!: () => void;
      const done = new Promise<void>((r) => { srvResolve = r; });
      const srv = await tcpServer('127.0.0.1', 0, (s) => {
        let got = 0;
        s.on('data', (d) => {
          got += d.length;
          if (got >= N) { s.resetAndDestroy(); srvResolve(); }
        });
        s.on('error', () => undefined);
      });
      port = srv.port;
      const client = nodeChild(`
        const net = require('node:net');
        const c = net.connect(${port}, '127.0.0.1', () => { c.write(Buffer.alloc(${N})); });
        c.on('error', (e) => { console.log(JSON.stringify({ error: e.code, localPort: c.localPort })); });
        c.on('close', () => {});
        const lp = () => c.localPort; c.on('connect', () => { globalThis.lp = lp(); });
        process.on('exit', () => { if (!c.errored) console.log(JSON.stringify({ localPort: globalThis.lp })); });
      `);
      await done;
      const r = await client;
      clientPort = Number(/"localPort":(\d+)/.exec(r.stdout)?.[1] ?? 0);
      assert.match(r.stdout, /ECONNRESET/);
      await srv.close();
    }, ARGS);
    const recs = sock(cap.records);
    const s = recs.filter((r) => r.SockLocalPort === port && r.SockRole === 'SERVER');
    assert.equal(s.length, 1, brief(recs));
    assert.equal(s[0]!.SockState, 'TCP_CLOSE');
    assert.ok(hasFlag(flagKeys(s[0]!, 'SockTxFlags'), 'RST'), JSON.stringify(s[0]!.SockTxFlags));
    assert.equal(s[0]!.SockRxBytes, N);
    const c = recs.filter((r) => r.SockRemotePort === port && r.SockRole === 'CLIENT');
    assert.equal(c.length, 1, brief(recs));
    if (clientPort) assert.equal(c[0]!.SockLocalPort, clientPort);
    assert.equal(c[0]!.SockState, 'TCP_CLOSE');
    assert.ok(hasFlag(flagKeys(c[0]!, 'SockRxFlags'), 'RST'), JSON.stringify(c[0]!.SockRxFlags));
    assert.equal(c[0]!.SockTxBytes, N);
  });

  test(`connected UDP: one record per side, exact packets and bytes, no TCP-only keys [${ep.name}]`, { skip }, async () => {
    let cport = 0, sport = 0;
    const cap = await captureOn(ep, async () => {
      const srv = await udpBound('udp4', '127.0.0.1');
      sport = srv.address().port;
      let echoed = 0;
      srv.on('message', (m, r) => { srv.send(Buffer.alloc(m.length * 2), r.port, r.address); });
      const cl = await udpBound('udp4', '127.0.0.1');
      cport = cl.address().port;
      await new Promise<void>((r) => cl.connect(sport, '127.0.0.1', () => r()));
      await new Promise<void>((resolve) => {
        cl.on('message', () => { if (++echoed === 3) resolve(); });
        for (const n of [100, 200, 300]) cl.send(Buffer.alloc(n));
      });
      cl.close();
      srv.close();
    }, ARGS);
    const c = byPorts(cap.records, cport, sport), s = byPorts(cap.records, sport, cport);
    assert.equal(c.length, 1, brief(sock(cap.records)));
    assert.equal(s.length, 1, brief(sock(cap.records)));
    assert.equal(c[0]!.SockProtocol, 'UDP');
    assert.equal(c[0]!.SockRole, 'CLIENT');
    assert.equal(c[0]!.SockTxPackets, 3);
    assert.equal(c[0]!.SockTxBytes, 600);
    assert.equal(c[0]!.SockRxPackets, 3);
    assert.equal(c[0]!.SockRxBytes, 1200);
    assert.equal(c[0]!.ProcPID, process.pid);
    assert.equal(s[0]!.SockRole, 'SERVER');
    assert.equal(s[0]!.SockRxBytes, 600);
    assert.equal(s[0]!.SockTxBytes, 1200);
    assert.equal(s[0]!.ProcPID, process.pid);
    for (const r of [c[0]!, s[0]!]) {
      assert.equal(r.SockState, 'UDP_CLOSE');
      for (const k of ['SockTxDataPackets', 'SockTxFlags', 'SockTxRTO', 'SockRxFlags', 'SockRTT', 'SockRxPacketsReorder', 'SockTxBytesAcked']) {
        assert.ok(!(k in r), `${k} is TCP-only`);
      }
    }
    assert.deepEqual(Object.keys(c[0]!).filter((k) => k.startsWith('Sock')), [
      'SockProtocol', 'SockRole', 'SockState', 'SockFamily', 'SockLocalIP', 'SockLocalPort', 'SockRemoteIP', 'SockRemotePort',
      'SockTxInterface', 'SockTxPackets', 'SockTxDuration', 'SockTxBytes',
      'SockRxInterface', 'SockRxPackets', 'SockRxPacketsQueued', 'SockRxPacketsDrop', 'SockRxPacketsFrag',
      'SockRxDuration', 'SockRxBytes', 'SockRxTTL', 'SockAge',
    ]);
  });

  test(`unconnected UDP talking to two peers: one record per peer (IPv6) [${ep.name}]`, { skip }, async () => {
    let a = 0, b = 0, c = 0;
    const cap = await captureOn(ep, async () => {
      const sa = await udpBound('udp6', '::1'), sb = await udpBound('udp6', '::1'), sc = await udpBound('udp6', '::1');
      [a, b, c] = [sa.address().port, sb.address().port, sc.address().port];
      sb.on('message', (m, r) => sb.send(Buffer.alloc(10), r.port, r.address));
      sc.on('message', (m, r) => sc.send(Buffer.alloc(20), r.port, r.address));
      await new Promise<void>((resolve) => {
        let n = 0;
        sa.on('message', () => { if (++n === 3) resolve(); });
        sa.send(Buffer.alloc(100), b, '::1');
        sa.send(Buffer.alloc(200), c, '::1');
        sa.send(Buffer.alloc(300), c, '::1');
      });
      for (const s of [sa, sb, sc]) s.close();
    }, ARGS);
    const ab = byPorts(cap.records, a, b), ac = byPorts(cap.records, a, c);
    assert.equal(ab.length, 1, brief(sock(cap.records)));
    assert.equal(ac.length, 1, brief(sock(cap.records)));
    assert.equal(ab[0]!.SockFamily, 'AF_INET6');
    assert.equal(ab[0]!.SockRemoteIP, '::1');
    assert.deepEqual([ab[0]!.SockTxPackets, ab[0]!.SockTxBytes, ab[0]!.SockRxPackets, ab[0]!.SockRxBytes], [1, 100, 1, 10]);
    assert.deepEqual([ac[0]!.SockTxPackets, ac[0]!.SockTxBytes, ac[0]!.SockRxPackets, ac[0]!.SockRxBytes], [2, 500, 2, 40]);
    assert.equal(byPorts(cap.records, c, a)[0]?.SockRole, 'SERVER');
    assert.equal(byPorts(cap.records, c, a)[0]?.SockRxBytes, 500);
  });

  test(`UNIX datagram: client and server records with the path and exact bytes [${ep.name}]`, { skip: skip || (hasPython() ? false : 'no python3') }, async () => {
    const p = path.join(mkdtempSync(path.join(tmpdir(), 'fn-unix-')), 'dgram.sock');
    let pid = 0;
    const cap = await captureOn(ep, async () => {
      const out = execFileSync('python3', ['-c', PY_UNIX_DGRAM, p], { encoding: 'utf8' }).trim().split(' ');
      pid = Number(out[0]);
      assert.equal(Number(out[1]), 60);
    }, ARGS);
    const recs = sock(cap.records).filter((r) => r.SockAddress === p);
    assert.equal(recs.length, 2, brief(sock(cap.records)));
    const c = recs.find((r) => r.SockRole === 'CLIENT')!, s = recs.find((r) => r.SockRole === 'SERVER')!;
    assert.ok(c && s, brief(recs));
    assert.deepEqual(Object.keys(c).filter((k) => k.startsWith('Sock')), ['SockRole', 'SockAddress', 'SockFamily', 'SockTxBytes', 'SockAge']);
    assert.equal(c.SockFamily, 'AF_UNIX');
    assert.equal(c.SockTxBytes, 60);
    assert.equal(c.ProcPID, pid);
    assert.deepEqual(Object.keys(s).filter((k) => k.startsWith('Sock')), ['SockRole', 'SockAddress', 'SockFamily', 'SockRxBytes', 'SockAge']);
    assert.equal(s.SockRxBytes, 60);
    assert.equal(s.ProcPID, pid);
  });

  test(`UNIX stream: client (child process) and accepted server socket [${ep.name}]`, { skip }, async () => {
    const p = path.join(mkdtempSync(path.join(tmpdir(), 'fn-unix-')), 'stream.sock');
    let pid = 0;
    const N = 5000, M = 321;
    const cap = await captureOn(ep, async () => {
      const srv = net.createServer((s) => {
        let got = 0;
        s.on('data', (d) => { got += d.length; });
        s.on('end', () => { assert.equal(got, N); s.end(Buffer.alloc(M)); });
      });
      await new Promise<void>((r) => srv.listen(p, () => r()));
      const r = await nodeChild(`
        const net = require('node:net'); let got = 0;
        const c = net.connect(process.argv[1], () => c.end(Buffer.alloc(${N})));
        c.on('data', (d) => { got += d.length; }); c.on('close', () => console.log(got));`, [p]);
      pid = r.pid;
      assert.equal(Number(r.stdout.trim()), M);
      await new Promise<void>((res) => srv.close(() => res()));
    }, ARGS);
    const recs = sock(cap.records).filter((r) => r.SockAddress === p);
    const c = recs.filter((r) => r.SockRole === 'CLIENT'), s = recs.filter((r) => r.SockRole === 'SERVER');
    assert.equal(c.length, 1, brief(recs));
    assert.equal(s.length, 1, brief(recs));
    assert.equal(c[0]!.ProcPID, pid);
    assert.equal(c[0]!.SockTxBytes, N);
    assert.equal(c[0]!.SockRxBytes, M);
    assert.equal(s[0]!.ProcPID, process.pid);
    assert.equal(s[0]!.SockRxBytes, N);
    assert.equal(s[0]!.SockTxBytes, M);
    const keys = Object.keys(s[0]!).filter((k) => k.startsWith('Sock'));
    assert.deepEqual(keys, ['SockRole', 'SockAddress', 'SockFamily', 'SockRxBytes', 'SockTxBytes', 'SockAge']);
  });

  test(`UNIX stream bytes moved by sendfile and splice: one record per socket, exact both ways (the server's first call a splice read; the file monitor on) [${ep.name}]`, { skip }, async () => {
    // its output to a file: a pipe from node is a UNIX socket too, and would have a record
    const outFile = path.join(mkdtempSync(path.join(tmpdir(), 'fn-unix-')), 'out');
    const cap = await captureOn(ep, async () => {
      const fd = openSync(outFile, 'w');
      try { execFileSync(netpair(), ['unixsplice'], { stdio: ['ignore', fd, 'inherit'] }); } finally { closeSync(fd); }
    }, ['-m', 'socket,file']); // a splice read's one hook is a syscall exit: not with -m socket alone
    const out = readFileSync(outFile, 'utf8');
    const side = (role: string) => {
      const m = new RegExp(`^unixsplice ${role} pid=(\\d+) tx=(\\d+) rx=(\\d+)$`, 'm').exec(out);
      assert.ok(m, out);
      return { pid: Number(m[1]), tx: Number(m[2]), rx: Number(m[3]) };
    };
    const c = side('client'), sv = side('server');
    assert.deepEqual([c.tx, c.rx, sv.tx, sv.rx], [5500, 700, 700, 5500]);
    for (const p of [c, sv]) {
      const mine = sock(cap.records).filter((r) => r.SockFamily === 'AF_UNIX' && r.ProcPID === p.pid);
      assert.equal(mine.length, 1, brief(mine));
      // sendfile and splice writes pass sock_send_length; a splice read passes no hook with the
      // socket: the exit of splice counts it, under the socket's inode until it has a cookie
      assert.deepEqual([mine[0]!.SockTxBytes ?? 0, mine[0]!.SockRxBytes ?? 0], [p.tx, p.rx], brief(mine));
    }
    assert.equal(cap.stats?.counters.sock_ux_uncounted ?? 0, 0);
  });

  test(`agent shutdown flushes connections still open, with their counts so far [${ep.name}]`, { skip }, async () => {
    const N = 3000;
    let srvSock: net.Socket | undefined;
    let client: net.Socket | undefined;
    let srv: net.Server | undefined;
    let port = 0, clientPort = 0;
    const cap = await captureOn(ep, async () => {
      srv = net.createServer((s) => { srvSock = s; });
      await new Promise<void>((r) => srv!.listen(0, '127.0.0.1', () => r()));
      port = (srv.address() as net.AddressInfo).port;
      const got = new Promise<void>((resolve) => {
        srv!.once('connection', (s) => { let n = 0; s.on('data', (d) => { n += d.length; if (n === N) resolve(); }); });
      });
      client = net.connect(port, '127.0.0.1');
      await new Promise<void>((r) => client!.once('connect', () => r()));
      clientPort = client.localPort!;
      client.write(Buffer.alloc(N));
      await got;
    }, ARGS);
    client?.destroy();
    srvSock?.destroy();
    await new Promise<void>((r) => srv!.close(() => r()));
    const c = byPorts(cap.records, clientPort, port), s = byPorts(cap.records, port, clientPort);
    assert.equal(c.length, 1, brief(sock(cap.records)));
    assert.equal(s.length, 1, brief(sock(cap.records)));
    assert.equal(c[0]!.SockState, 'TCP_ESTABLISHED');
    assert.equal(s[0]!.SockState, 'TCP_ESTABLISHED');
    assert.equal(c[0]!.SockTxBytes, N);
    assert.equal(s[0]!.SockRxBytes, N);
    assert.equal(s[0]!.ProcPID, process.pid);
  });

  test(`shutdown flushes 40 open connections, each exactly once (more than one read of the export iterator) [${ep.name}]`, { skip }, async () => {
    const K = 40;
    const clients: net.Socket[] = [];
    const accepted: net.Socket[] = [];
    let srv: net.Server | undefined;
    let port = 0;
    const cap = await captureOn(ep, async () => {
      let left = K;
      let done: () => void = () => {};
      const all = new Promise<void>((r) => { done = r; });
      srv = net.createServer((s) => {
        accepted.push(s);
        let n = 0;
        s.on('data', (d) => { n += d.length; if (n === 100 + Number(s.remotePort) % 1000) { if (--left === 0) done(); } });
      });
      await new Promise<void>((r) => srv!.listen(0, '127.0.0.1', () => r()));
      port = (srv.address() as net.AddressInfo).port;
      for (let i = 0; i < K; i++) {
        const c = net.connect(port, '127.0.0.1');
        await new Promise<void>((r) => c.once('connect', () => r()));
        clients.push(c);
        c.write(Buffer.alloc(100 + c.localPort! % 1000));
      }
      await all;
    }, ARGS);
    const localPorts = clients.map((c) => c.localPort!);
    for (const c of clients) c.destroy();
    for (const s of accepted) s.destroy();
    await new Promise<void>((r) => srv!.close(() => r()));
    assert.equal(localPorts.length, K);
    for (const lp of localPorts) {
      const n = 100 + lp % 1000;
      const cr = byPorts(cap.records, lp, port), sr = byPorts(cap.records, port, lp);
      assert.equal(cr.length, 1, `client ${lp}: ${brief(sock(cap.records))}`);
      assert.equal(sr.length, 1, `server side of ${lp}`);
      assert.equal(cr[0]!.SockState, 'TCP_ESTABLISHED');
      assert.equal(cr[0]!.SockTxBytes, n);
      assert.equal(sr[0]!.SockRxBytes, n);
      assert.equal(sr[0]!.ProcPID, process.pid);
      // SYN, ACK, one data segment: counted once however often the iterator shows the record
      assert.equal(cr[0]!.SockTxPackets, 3);
      assert.equal(sr[0]!.SockRxPackets, 3);
      assert.deepEqual(flagKeys(cr[0]!, 'SockTxFlags'), { SYN: 1, ACK: 1, 'PSH-ACK': 1 });
    }
  });

  test(`UNIX close is reported by the timer while the agent runs (no close hook) [${ep.name}]`, { skip }, async () => {
    const p = path.join(mkdtempSync(path.join(tmpdir(), 'fn-unix-')), 'close.sock');
    let seen: JsonRecord[] = [];
    await captureOn(ep, async (live) => {
      const srv = net.createServer((s) => { s.on('data', () => s.end()); });
      await new Promise<void>((r) => srv.listen(p, () => r()));
      const c = net.connect(p);
      await new Promise<void>((r) => c.once('connect', () => r()));
      c.write('ping');
      await new Promise<void>((r) => c.once('close', () => r()));
      await new Promise<void>((r) => srv.close(() => r()));
      // the timer runs every 0.5 s: both ends while the agent runs, before any shutdown flush
      // (usually within 1 s; 10 s allowed for a slow machine)
      for (let i = 0; i < 200 && seen.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
        seen = sock(live()).filter((r) => r.SockAddress === p);
      }
    }, ARGS);
    assert.deepEqual(seen.map((r) => r.SockRole).sort(), ['CLIENT', 'SERVER'], brief(seen));
    assert.equal(seen.find((r) => r.SockRole === 'CLIENT')!.SockTxBytes, 4);
  });
}

test('-m socket alone names what it leaves out (splice reads: their one hook is a syscall exit); beside the file monitor nothing', { skip: skips.get('map-walk')! }, async () => {
  const alone = await sensorHello(['--monitors', String(MON_SOCKET)]);
  assert.ok(alone.some((s) => s.startsWith('unavailable: socket: UNIX stream bytes read by splice')), JSON.stringify(alone));
  const withFile = await sensorHello(['--monitors', String(MON_SOCKET | MON_FILE)]);
  assert.ok(!withFile.some((s) => s.includes('read by splice')), JSON.stringify(withFile));
});

test('the sensor itself reads FALCONET_NO_SK_ITER=1 (and 0 leaves the choice to the kernel)', { skip: skips.get('map-walk')! }, async () => {
  const forced = await sensorHello(['--monitors', String(MON_SOCKET)], { FALCONET_NO_SK_ITER: '1' });
  assert.ok(forced.includes('tcp_export: map-walk (forced: FALCONET_NO_SK_ITER=1)'), JSON.stringify(forced));
  const free = await sensorHello(['--monitors', String(MON_SOCKET)], { FALCONET_NO_SK_ITER: '0' });
  const line = free.find((s) => s.startsWith('tcp_export: '));
  assert.ok(line === 'tcp_export: iterator' || /^tcp_export: map-walk \(iterator refused/.test(line ?? ''), JSON.stringify(free));
});
