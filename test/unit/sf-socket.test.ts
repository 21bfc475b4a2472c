// SysFlow socket output reaches a real AF_UNIX SOCK_SEQPACKET server (python3 plays
// sf-processor's socket driver): one datum per packet, byte-identical to the encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { SysFlowSocketOutput } from '../../src/sysflow/socket-output.js';
import { SeqpacketRelayTransport, RELAY_BIN } from '../../src/sysflow/seqpacket-transport.js';
import { createSysFlowTraceSink, type SysFlowTraceSink } from '../../src/sysflow/trace-sink.js';
import { decodeSfDatum } from '../../src/sysflow/index.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { end, fileRecord, hello, records } from './stream-builder.js';
import { scratchDir } from '../lib/temp-dir.js';

// reads one connection: every message, or the first `limit` (then it closes, as a processor
// that stops does, and removes its socket); with a gate file, only once that file exists (a
// processor that falls behind)
const SERVER = `
import socket, sys, os, time
path, limit = sys.argv[1], int(sys.argv[2])
gate = sys.argv[3] if len(sys.argv) > 3 else None
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path); s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
while gate and not os.path.exists(gate): time.sleep(0.02)
n = 0
while limit < 0 or n < limit:
    m = c.recv(65536)
    if not m: break
    sys.stdout.write(m.hex() + '\\n'); n += 1
sys.stdout.flush()
c.close(); s.close(); os.unlink(path)
`;

async function server(sock: string, limit = -1, gate?: string): Promise<{ messages: Promise<Buffer[]> }> {
  const py = spawn('python3', ['-c', SERVER, sock, String(limit), ...(gate ? [gate] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve) => py.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('listening')) resolve(); }));
  const messages = new Promise<Buffer[]>((resolve) => py.on('close', () =>
    resolve(out.split('\n').slice(1).filter((l) => l).map((l) => Buffer.from(l, 'hex')))));
  return { messages };
}

const skip = existsSync(RELAY_BIN) ? false : 'relay not built (npm run setup)';

test('each SysFlow record is one SEQPACKET message, decodable on its own', { skip }, async () => {
  const sock = path.join(scratchDir('fn-sfsock-'), 'sysflow.sock');
  const srv = await server(sock);
  const relay = new SeqpacketRelayTransport(sock);
  const out = new SysFlowSocketOutput(relay);
  const objs: SfObject[] = [
    { type: 'H', rec: { version: 5n, exporter: 'test', ip: 'NA', filename: '' } },
    { type: 'H', rec: { version: 5n, exporter: 'second', ip: 'NA', filename: 'x' } },
  ];
  for (const o of objs) out.write(o);
  out.close();
  assert.equal(await relay.done, 0);
  const msgs = await srv.messages;
  assert.equal(msgs.length, 2);
  assert.deepEqual(msgs.map((m) => decodeSfDatum(m)), objs);
});

test('the agent streams live records to the socket with --sf-socket (replayed stream)', { skip }, async () => {
  const dir = scratchDir('fn-sfsock2-');
  const sock = path.join(dir, 'sysflow.sock');
  const srv = await server(sock);
  const stream = path.join(dir, 's.bin');
  writeFileSync(stream, Buffer.concat([hello(), records([fileRecord({ pid: 77, path: '/srv/a.txt' })]), end()]));
  await runPipeline(replaySource(stream), { output: 'json-min', quiet: true, hostFromStream: true, sysflow: { socketPath: sock } }, new PassThrough());
  const kinds = (await srv.messages).map((m) => decodeSfDatum(m).type);
  assert.equal(kinds[0], 'H', 'header first');
  assert.ok(kinds.indexOf('P') < kinds.indexOf('FF') && kinds.indexOf('F') < kinds.indexOf('FF'), `entities before the flow: ${kinds.join(',')}`);
});

test('--sf-socket-buffer sets the bytes that may wait for a slow processor (the agent, end to end)', { skip }, async () => {
  const dir = scratchDir('fn-sfsock5-');
  const sock = path.join(dir, 'sysflow.sock');
  const gate = path.join(dir, 'read-now');
  const srv = await server(sock, -1, gate);
  const stream = path.join(dir, 's.bin');
  // each record's file is a new entity: ~200 bytes of SysFlow per record, 4 MB in all, far more
  // than the socket, the pipe and a 64 KiB mark hold while the processor reads nothing
  const recs = Array.from({ length: 20_000 }, (_, i) => fileRecord({ pid: 77, ino: 9000 + i, path: `/srv/data/file-${i}.txt` }));
  const frames = [hello()];
  for (let i = 0; i < recs.length; i += 256) frames.push(records(recs.slice(i, i + 256)));
  writeFileSync(stream, Buffer.concat([...frames, end()]));
  const lines: string[] = [];
  // the processor starts reading once the relay has said it drops (connected by then or not)
  const log = (l: string): void => { lines.push(l); if (/dropping messages/.test(l)) writeFileSync(gate, ''); };
  // with the default mark (16 MiB) nothing would drop: then the test fails below instead of waiting
  const unblock = setTimeout(() => writeFileSync(gate, ''), 120_000);
  await runPipeline(replaySource(stream), { output: 'json-min', quiet: true, hostFromStream: true, log, sysflow: { socketPath: sock, socketBufferBytes: 64 << 10 } }, new PassThrough());
  clearTimeout(unblock);
  const text = lines.join('\n');
  assert.match(text, /(reads slower than records come|no processor has connected yet) \(65536 bytes waiting\); dropping messages/);
  const m = /SysFlow socket: 0 messages dropped while no processor was connected, (\d+) while it read too slowly, 0 lost with a connection; 1 connections/.exec(text);
  assert.ok(m && Number(m[1]) > 0, text);
  const got = (await srv.messages).map((b) => decodeSfDatum(b));
  assert.equal(got[0]!.type, 'H');
  assert.ok(got.length < recs.length, `${got.length} messages: some were dropped`);
});

test('a missing processor socket is reported, not hung on', { skip }, async () => {
  const relay = new SeqpacketRelayTransport(path.join(tmpdir(), 'no-such-dir-fn', 's.sock'), 1);
  relay.close();
  assert.equal(await relay.done, 1);
  assert.match(relay.errors, /cannot connect/);
});

test('a processor that goes away and comes back is connected to again: a new segment starts with a header and the live processes, and every message is accounted for', { skip }, async () => {
  const sock = path.join(scratchDir('fn-sfsock3-'), 'sysflow.sock');
  const proc = (pid: bigint, exe: string): SfObject => ({ type: 'P', rec: { state: 'CREATED', oid: { createTS: pid * 10n, hpid: pid }, poid: null, ts: 1n, exe, exeArgs: '', uid: 0, userName: '', gid: 0, groupName: '', tty: false, containerId: null, entry: false, cwd: '', env: [] } });
  const event = (pid: bigint, ts: bigint): SfObject => ({ type: 'PE', rec: { procOID: { createTS: pid * 10n, hpid: pid }, ts, tid: pid, opFlags: 2, args: [], ret: 0 } });
  const a = await server(sock, 3); // the first processor reads 3 messages and stops
  const lines: string[] = [];
  const connects: boolean[] = [];
  let sink: SysFlowTraceSink | undefined;
  const relay = new SeqpacketRelayTransport(sock, 1, { reconnect: true, retryMs: 100, log: (l) => lines.push(l),
    onConnect: (again) => { connects.push(again); if (again) sink?.restartSocket(); } });
  let given = 0; // messages the socket output handed to the transport
  sink = createSysFlowTraceSink({ socket: { send: (m) => { given++; relay.send(m); }, close: () => relay.close() }, flushIntervalMs: 0 });
  sink.write(proc(100n, '/bin/first'));
  let ts = 1n;
  const until = async (what: string, done: () => boolean): Promise<void> => {
    for (const t0 = Date.now(); !done(); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() - t0 > 60_000) assert.fail(`no ${what} in 60 s; lines: ${lines.join(' | ')}`);
      sink!.write(event(100n, ts++)); // the relay learns that the processor left when a send fails
    }
  };
  sink.write(event(100n, ts++)); // the third message: the first processor stops after it
  const first = await a.messages;
  await until('lost connection', () => lines.some((l) => /went away/.test(l)));
  const b = await server(sock);
  await until('new connection', () => connects.length === 2);
  sink.write(proc(200n, '/bin/second'));
  sink.write(event(200n, ts++));
  sink.close();
  assert.equal(await relay.done, 0, relay.errors);
  const second = (await b.messages).map((m) => decodeSfDatum(m));
  assert.deepEqual(connects, [false, true]);
  assert.equal(first.length, 3);
  assert.equal(decodeSfDatum(first[0]!).type, 'H');
  // the new segment stands alone: header, the live process again, then what came after
  assert.equal(second[0]!.type, 'H');
  assert.equal(second[1]!.type, 'P');
  assert.equal((second[1]!.rec as { exe: string }).exe, '/bin/first');
  assert.equal((second[1]!.rec as { state: string }).state, 'REUP');
  const exes = second.filter((o) => o.type === 'P').map((o) => (o.rec as { exe: string }).exe);
  assert.deepEqual(exes, ['/bin/first', '/bin/second']);
  assert.equal(second[second.length - 1]!.type, 'PE');
  // accounting: every message given is sent, lost with the first connection, or dropped while away
  const st = relay.stats;
  assert.equal(st.sentByConnection.length, 2);
  assert.ok(st.sentByConnection[0]! >= 3, `first connection sent ${st.sentByConnection[0]}`);
  assert.equal(st.sentByConnection[1], second.length, 'the second processor read all that its connection sent');
  assert.equal(st.written, st.sentByConnection[0]! + st.sentByConnection[1]! + st.lostAtDisconnect);
  assert.equal(given, st.written + st.droppedWhileDown);
  assert.ok(lines.some((l) => /connected again/.test(l)), lines.join(' | '));
});

test('a processor that reads too slowly: the relay\'s input stays bounded, the excess is dropped and counted, and a new segment starts once it has caught up', { skip }, async () => {
  const dir = scratchDir('fn-sfsock4-');
  const sock = path.join(dir, 'sysflow.sock');
  const gate = path.join(dir, 'read-now');
  const srv = await server(sock, -1, gate); // connected, reading nothing until the gate opens
  const lines: string[] = [];
  const connects: boolean[] = [];
  let sink: SysFlowTraceSink | undefined;
  const highWaterBytes = 64 << 10;
  const relay = new SeqpacketRelayTransport(sock, 5, { reconnect: true, highWaterBytes, log: (l) => lines.push(l),
    onConnect: (again) => { connects.push(again); if (again) sink?.restartSocket(); } });
  let given = 0;
  sink = createSysFlowTraceSink({ socket: { send: (m) => { given++; relay.send(m); }, close: () => relay.close() }, flushIntervalMs: 0 });
  const proc = (pid: bigint, exe: string): SfObject => ({ type: 'P', rec: { state: 'CREATED', oid: { createTS: pid * 10n, hpid: pid }, poid: null, ts: 1n, exe, exeArgs: '', uid: 0, userName: '', gid: 0, groupName: '', tty: false, containerId: null, entry: false, cwd: '', env: [] } });
  const event = (pid: bigint, ts: bigint): SfObject => ({ type: 'PE', rec: { procOID: { createTS: pid * 10n, hpid: pid }, ts, tid: pid, opFlags: 2, args: [], ret: 0 } });
  await new Promise<void>((resolve) => { const t = setInterval(() => { if (connects.length) { clearInterval(t); resolve(); } }, 10); });
  sink.write(proc(100n, '/bin/live'));
  // far more than the socket, the pipe and the mark hold together (~60 bytes each)
  let ts = 1n;
  for (let i = 0; i < 40_000; i++) sink.write(event(100n, ts++));
  assert.ok(relay.stats.droppedSlow > 0, `nothing dropped: ${JSON.stringify(relay.stats)}`);
  // the mark is checked before each message: at most one message's frame over it
  assert.ok(relay.stats.maxBuffered < highWaterBytes + 256, `buffered ${relay.stats.maxBuffered}`);
  assert.match(lines.join('\n'), /reads slower than records come/);
  writeFileSync(gate, '');
  for (const t0 = Date.now(); connects.length < 2; await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() - t0 > 60_000) assert.fail(`no new segment in 60 s: ${lines.join(' | ')}`);
  sink.write(proc(200n, '/bin/after'));
  sink.close();
  assert.equal(await relay.done, 0, relay.errors);
  const got = (await srv.messages).map((m) => decodeSfDatum(m));
  const st = relay.stats;
  assert.deepEqual(connects, [false, true]);
  // every message given was sent or dropped and counted; nothing was lost with the connection
  assert.equal(given, st.written + st.droppedSlow);
  assert.deepEqual(st.sentByConnection, [st.written]);
  assert.equal(st.lostAtDisconnect, 0);
  assert.equal(got.length, st.written);
  // two segments: the first header, and after the drops one more header with the live process
  // again (REUP) before anything that follows
  const heads = got.flatMap((o, i) => o.type === 'H' ? [i] : []);
  assert.equal(heads.length, 2);
  assert.equal(heads[0], 0);
  const restart = got[heads[1]! + 1]!;
  assert.equal(restart.type, 'P');
  assert.equal((restart.rec as { exe: string }).exe, '/bin/live');
  assert.equal((restart.rec as { state: string }).state, 'REUP');
  assert.equal((got[got.length - 1]!.rec as { exe: string }).exe, '/bin/after');
  assert.match(lines.join('\n'), new RegExp(`caught up \\(${st.droppedSlow} messages dropped\\); starting a new segment`));
});
