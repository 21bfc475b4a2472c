// Socket monitor against independent ground truth: packet counts from a tshark capture of the
// same loopback traffic, and the idle timeout flushing a quiet socket with no further traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, type JsonRecord } from './harness.js';
import { EXPORT_PATHS, captureOn, pathSkips, tcpExportOf } from './socket-paths.js';
import { TCP_CLIENT, byPorts, nodeChild, tcpServer } from './socket-workloads.js';

const skips = await pathSkips();

function hasTshark(): boolean {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Starts tshark on lo for one TCP port; resolves once it is capturing. "Capturing on" comes
 * before the capture filter is live (a fast transfer right after it was missed whole): UDP
 * probes to a port of their own are sent until the capture file grows, i.e. one was captured. */
async function startCapture(port: number, file: string) {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const probePort = probe.address().port;
  const t = spawn('tshark', ['-i', 'lo', '-B', '64', '-s', '128', '-f', `tcp port ${port} or udp port ${probePort}`, '-w', file],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  try {
    await new Promise<void>((resolve, reject) => {
      t.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; if (err.includes('Capturing on')) resolve(); });
      t.on('close', (c) => reject(new Error(`tshark exited ${c}: ${err}`)));
    });
    const size = () => { try { return statSync(file).size; } catch { return 0; } };
    const s0 = size();
    for (let i = 0; size() <= s0; i++) {
      if (i === 200) throw new Error(`tshark captured none of 200 probes in 10 s: ${err}`);
      probe.send(Buffer.from('probe'), probePort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    probe.close();
  }
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 300));
      const closed = new Promise<void>((r) => t.on('close', () => r()));
      t.kill('SIGINT');
      await closed;
      return err;
    },
  };
}

for (const ep of EXPORT_PATHS) {
  const skip = skips.get(ep.name)!;

  test(`10 MB over loopback: packet counts equal a tshark capture of the same traffic [${ep.name}]`, { skip: skip || (hasTshark() ? false : 'tshark not installed (scripts/setup.sh installs it)') }, async () => {
    const N = 10 * 1024 * 1024, M = 1000;
    const pcap = path.join(mkdtempSync(path.join(tmpdir(), 'fn-pcap-')), 'lo.pcap');
    const srv = await tcpServer('127.0.0.1', M);
    let clientPort = 0;
    let tsharkLog = '';
    const cap = await captureOn(ep, async () => {
      const t = await startCapture(srv.port, pcap);
      const r = await nodeChild(TCP_CLIENT, ['127.0.0.1', String(srv.port), String(N)]);
      clientPort = (JSON.parse(r.stdout.trim()) as { localPort: number }).localPort;
      assert.equal(await srv.received, N);
      tsharkLog = await t.stop();
    }, ['-m', 'socket']);
    await srv.close();
    assert.doesNotMatch(tsharkLog, /dropped [1-9]/, tsharkLog);
    // srcport, dstport, payload length, relative sequence number
    const lines = execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.len',
      '-e', 'tcp.seq'], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n').map((l) => l.split('\t').map(Number));
    const fromClient = lines.filter(([s, d]) => s === clientPort && d === srv.port);
    const toClient = lines.filter(([s, d]) => s === srv.port && d === clientPort);
    // Bytes of the stream the capture holds (union of sequence ranges), and bytes sent again: the
    // wire's own count of retransmitted bytes, whatever tshark's heuristics call each segment.
    const unique = (ls: number[][]) => {
      const iv = ls.filter((l) => l[2]! > 0).map((l) => [l[3]!, l[3]! + l[2]!] as [number, number]).sort((a, b) => a[0] - b[0]);
      let total = 0, end = -1;
      for (const [a, b] of iv) {
        if (b <= end) continue;
        total += b - Math.max(a, end);
        end = b;
      }
      return total;
    };
    const wire = fromClient.reduce((a, l) => a + l[2]!, 0);
    assert.equal(unique(fromClient), N, 'the capture holds the whole transfer');
    const retrans = { length: fromClient.filter((l) => l[2]! > 0).length - new Set(fromClient.filter((l) => l[2]! > 0).map((l) => l[3])).size };
    const c = byPorts(cap.records, clientPort, srv.port)[0] as JsonRecord;
    const s = byPorts(cap.records, srv.port, clientPort)[0] as JsonRecord;
    assert.ok(c && s, 'client and server records');
    process.stdout.write(`# tshark: client->server ${fromClient.length} frames (${retrans.length} retransmitted), server->client ` +
      `${toClient.length}; agent: client tx ${c.SockTxPackets} (retrans ${c.SockTxPacketsRetrans}) rx ${c.SockRxPackets}, ` +
      `server rx ${s.SockRxPackets} tx ${s.SockTxPackets}\n`);
    assert.equal(c.SockTxPackets, fromClient.length);
    assert.equal(c.SockRxPackets, toClient.length);
    assert.equal(s.SockRxPackets, fromClient.length);
    assert.equal(s.SockTxPackets, toClient.length);
    assert.equal(c.SockTxDataPackets, fromClient.filter((l) => l[2]! > 0).length);
    assert.equal(c.SockTxBytes, N);
    assert.equal(s.SockRxBytes, N);
    assert.equal(s.SockTxBytes, M);
    assert.equal(c.SockRxBytes, M);
    assert.equal(c.SockTxBytesRetrans, wire - N, 'retransmitted bytes = bytes on the wire beyond the stream');
  });

  test(`idle timeout: a UDP socket that goes quiet is reported by the timer, not before IDLE s, with no further traffic [${ep.name}]`, { skip }, async () => {
    const IDLE = 2;
    const agent = spawn(process.execPath, [path.join(REPO, 'bin/falconet'), '-m', 'socket', '-o', 'json-min', '-t', `${IDLE},1800`, ...ep.args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let buf = '';
    const seen: { rec: JsonRecord; at: number }[] = [];
    agent.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line) seen.push({ rec: JSON.parse(line) as JsonRecord, at: Date.now() });
      }
    });
    const ready = new Promise<void>((resolve, reject) => {
      agent.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (stderr.includes('sensor ready')) resolve(); });
      agent.on('close', (c) => reject(new Error(`agent exited ${c}: ${stderr}`)));
    });
    const closed = new Promise<void>((r) => agent.on('close', () => r()));
    const sockets: dgram.Socket[] = [];
    try {
      await ready;
      assert.equal(tcpExportOf(stderr)?.path, ep.name, stderr);
      const bind = () => new Promise<dgram.Socket>((r) => { const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => r(s)); });
      const a = await bind(), b = await bind();
      sockets.push(a, b);
      const got = new Promise<void>((r) => b.once('message', () => r()));
      const sentAt = Date.now();
      a.send(Buffer.alloc(42), b.address().port, '127.0.0.1');
      await got;
      const match = () => seen.find((x) => x.rec.SockLocalPort === a.address().port && x.rec.SockRemotePort === b.address().port);
      // the timer ticks every 0.5 s, so the record usually arrives within IDLE + 1 s (printed);
      // the bound is generous because the record carries no export time of its own and a slow
      // machine's pipeline is not a failure
      const deadline = sentAt + (IDLE + 30) * 1000;
      while (!match() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const m = match();
      assert.ok(m, `no record for the quiet socket within ${IDLE + 30} s while the agent ran`);
      const after = (m.at - sentAt) / 1000;
      process.stdout.write(`# idle record after ${after.toFixed(2)} s (IDLE=${IDLE})\n`);
      assert.ok(after >= IDLE - 0.05, `exported before the idle timeout (${after} s)`);
      assert.equal(m.rec.SockTxBytes, 42);
      assert.equal(m.rec.SockState, 'UDP_CLOSE');
    } finally {
      // closed on failure too: an open socket would keep this file's process alive after its tests
      for (const s of sockets) s.close();
      agent.kill('SIGTERM');
      await closed;
    }
  });

  test(`active timeout: a long connection is exported periodically, counters restart, totals stay exact [${ep.name}]`, { skip }, async () => {
    const ACTIVE = 2, CHUNK = 1000, CHUNKS = 16;
    let x = { port: 0, clientPort: 0, clientPid: 0 };
    const cap = await captureOn(ep, async () => {
      const srv = await tcpServer('127.0.0.1', 10);
      // the client writes one chunk every 300 ms for ~4.8 s, then half-closes
      const r = await nodeChild(`
        const net = require('node:net'); let i = 0, localPort = 0, got = 0;
        const c = net.connect(${srv.port}, '127.0.0.1', () => {
          localPort = c.localPort;
          const t = setInterval(() => { c.write(Buffer.alloc(${CHUNK})); if (++i === ${CHUNKS}) { clearInterval(t); c.end(); } }, 300);
        });
        c.on('data', (d) => { got += d.length; });
        c.on('close', () => console.log(JSON.stringify({ localPort, got })));`);
      assert.equal(await srv.received, CHUNK * CHUNKS);
      await srv.close();
      x = { port: srv.port, clientPort: (JSON.parse(r.stdout.trim()) as { localPort: number }).localPort, clientPid: r.pid };
    }, ['-m', 'socket', '-t', `30,${ACTIVE}`]);
    const cl = byPorts(cap.records, x.clientPort, x.port);
    const sv = byPorts(cap.records, x.port, x.clientPort);
    process.stdout.write(`# active exports: client ${cl.length} records, server ${sv.length}\n`);
    assert.ok(cl.length >= 2 && sv.length >= 2, `several exports per side (client ${cl.length}, server ${sv.length})`);
    for (const recs of [cl, sv]) {
      assert.equal(recs.at(-1)!.SockState, 'TCP_CLOSE');
      for (const r of recs.slice(0, -1)) assert.equal(r.SockState, 'TCP_ESTABLISHED');
      // SockAge is cumulative: it grows from one export to the next
      const ages = recs.map((r) => Number(r.SockAge));
      assert.deepEqual(ages, [...ages].sort((a, b) => a - b));
    }
    const sum = (recs: JsonRecord[], k: string) => recs.reduce((a, r) => a + Number(r[k] ?? 0), 0);
    assert.equal(sum(cl, 'SockTxBytes'), CHUNK * CHUNKS, 'client bytes over all exports');
    assert.equal(sum(sv, 'SockRxBytes'), CHUNK * CHUNKS, 'server bytes over all exports');
    assert.equal(sum(cl, 'SockTxPackets'), sum(sv, 'SockRxPackets'), 'packets over all exports');
    assert.ok(cl.every((r) => r.ProcPID === x.clientPid));
  });

  test(`idle timeout: a quiet open TCP connection is reported while open, then its close; totals stay exact [${ep.name}]`, { skip }, async () => {
    const IDLE = 1, N = 2500;
    let port = 0, clientPort = 0;
    let idle: JsonRecord[] = [];
    const cap = await captureOn(ep, async (live) => {
      let srvSock: net.Socket | undefined;
      const srv = net.createServer((s) => { srvSock = s; });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      port = (srv.address() as net.AddressInfo).port;
      const got = new Promise<void>((resolve) => {
        srv.once('connection', (s) => { let n = 0; s.on('data', (d) => { n += d.length; if (n === N) resolve(); }); });
      });
      const c = net.connect(port, '127.0.0.1');
      await new Promise<void>((r) => c.once('connect', () => r()));
      clientPort = c.localPort!;
      c.write(Buffer.alloc(N));
      await got;
      // quiet now: both ends are exported by the timer (IDLE s + one 0.5 s tick), still open
      // (10 s more allowed for a slow machine)
      for (let i = 0; i < (IDLE + 10) * 20 && idle.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
        idle = live().filter((r) => (r.SockLocalPort === clientPort && r.SockRemotePort === port) ||
          (r.SockLocalPort === port && r.SockRemotePort === clientPort));
      }
      c.destroy();
      srvSock?.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }, ['-m', 'socket', '-t', `${IDLE},1800`]);
    assert.equal(idle.length, 2, `both ends reported idle within ${IDLE + 10} s, while still open: ${JSON.stringify(idle)}`);
    for (const r of idle) assert.equal(r.SockState, 'TCP_ESTABLISHED');
    const cl = byPorts(cap.records, clientPort, port), sv = byPorts(cap.records, port, clientPort);
    // the idle export and the close: nothing in between (no traffic), nothing after
    assert.deepEqual(cl.map((r) => r.SockState), ['TCP_ESTABLISHED', 'TCP_CLOSE']);
    assert.deepEqual(sv.map((r) => r.SockState), ['TCP_ESTABLISHED', 'TCP_CLOSE']);
    assert.equal(cl[0]!.SockTxBytes, N);
    assert.equal(sv[0]!.SockRxBytes, N);
    assert.equal(cl.reduce((a, r) => a + Number(r.SockTxBytes ?? 0), 0), N);
    const sum = (recs: JsonRecord[], k: string) => recs.reduce((a, r) => a + Number(r[k] ?? 0), 0);
    assert.equal(sum(cl, 'SockTxPackets'), sum(sv, 'SockRxPackets'), 'packets over both exports');
    assert.equal(sum(cl, 'SockRxPackets'), sum(sv, 'SockTxPackets'), 'packets over both exports');
  });

  test(`-m file,socket: both monitors report in one run [${ep.name}]`, { skip }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fn-both-'));
    let x = { port: 0 };
    const cap = await captureOn(ep, async () => {
      const srv = await tcpServer('127.0.0.1', 5);
      await nodeChild(TCP_CLIENT, ['127.0.0.1', String(srv.port), '5']);
      await srv.close();
      x = { port: srv.port };
      execFileSync('sh', ['-c', `printf abc > "${dir}/f"`]);
    }, ['-m', 'file,socket']);
    assert.ok(cap.records.some((r) => r.InfoMonitor === 'socket' && r.SockLocalPort === x.port), 'socket record');
    assert.ok(cap.records.some((r) => r.InfoMonitor === 'filesystem' && r.FilePath === dir + '/' && r.File === 'f'), 'file record');
  });
}
