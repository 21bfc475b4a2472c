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
import { decodeSfDatum } from '../../src/sysflow/index.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { end, fileRecord, hello, records } from './stream-builder.js';
import { scratchDir } from '../lib/temp-dir.js';

const SERVER = `
import socket, sys, os
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path); s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
while True:
    m = c.recv(65536)
    if not m: break
    sys.stdout.write(m.hex() + '\\n')
sys.stdout.flush()
`;

async function server(sock: string): Promise<{ messages: Promise<Buffer[]> }> {
  const py = spawn('python3', ['-c', SERVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
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

test('a missing processor socket is reported, not hung on', { skip }, async () => {
  const relay = new SeqpacketRelayTransport(path.join(tmpdir(), 'no-such-dir-fn', 's.sock'), 1);
  relay.close();
  assert.equal(await relay.done, 1);
  assert.match(relay.errors, /cannot connect/);
});
