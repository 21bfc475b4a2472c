// The SysFlow socket as a Source (sf-processor's socket driver): `falconet replay` streams a
// recorded stream's SysFlow to a socket with --sf-socket (through the SEQPACKET relay), and
// `falconet process --driver socket` listens there and runs policies on what arrives. Exact
// counts: 300 file records, 38 of them under the watched directory; every flow is exported by a
// bypass engine, exactly the 38 by the alerting one. No root needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from '../kernel/harness.js';
import { end, fileRecord, hello, records } from '../unit/stream-builder.js';
import { parsePipelineConfig, PipelineConfigError } from '../../src/pipeline/config.js';
import { LISTEN_BIN, sysflowSocketSource } from '../../src/pipeline/sources/sysflow-socket.js';
import type { SourceEvent } from '../../src/pipeline/types.js';

const BIN = path.join(REPO, 'bin/falconet');

const POLICY = `
- rule: Secret touched
  desc: a file under the secret directory was written
  condition: sf.file.path startswith /var/lib/app/secret/ and sf.opflags contains WRITE
  action: [alert]
  priority: high
  prefilter: [FF]
`;

function setup(): { dir: string; stream: string; sock: string; config: string; alerts: string; all: string; secret: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-sfsock-src-'));
  const recs: Buffer[] = [];
  const secret: string[] = [];
  for (let i = 0; i < 300; i++) {
    const isSecret = i % 8 === 3; // 38 of 300
    const p = isSecret ? `/var/lib/app/secret/key-${i}` : `/var/lib/app/data/file-${i}.dat`;
    if (isSecret) secret.push(p);
    recs.push(fileRecord({ pid: 900 + (i % 7), ino: 10_000 + i, path: p, ts: 3_000_000_000n + BigInt(i) * 1000n }));
  }
  const frames = [hello()];
  for (let i = 0; i < recs.length; i += 64) frames.push(records(recs.slice(i, i + 64)));
  frames.push(end());
  const stream = path.join(dir, 's.bin');
  writeFileSync(stream, Buffer.concat(frames));
  writeFileSync(path.join(dir, 'secret.yaml'), POLICY);
  const alerts = path.join(dir, 'alerts.jsonl');
  const all = path.join(dir, 'all.jsonl');
  const config = path.join(dir, 'p.json');
  writeFileSync(config, JSON.stringify({ pipeline: [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'alerts eventchan', policies: path.join(dir, 'secret.yaml'), mode: 'alert' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'every eventchan2', policies: path.join(dir, 'secret.yaml'), mode: 'bypass' },
    { processor: 'exporter', in: 'alerts eventchan', export: 'file', 'file.path': alerts, format: 'json' },
    { processor: 'exporter', in: 'every eventchan2', export: 'file', 'file.path': all, format: 'json' },
  ] }, null, 1));
  return { dir, stream, sock: path.join(dir, 'sysflow.sock'), config, alerts, all, secret };
}

/** Runs `process` on the socket, replays into it, stops `process` with SIGTERM. */
async function roundTrip(s: ReturnType<typeof setup>, processArgs: string[]): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [BIN, 'process', ...processArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const listening = new Promise<void>((resolve, reject) => {
    proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (stderr.includes('listening on SysFlow socket')) resolve(); });
    proc.on('close', () => reject(new Error(`process exited before listening: ${stderr}`)));
  });
  const closed = new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
  try {
    await listening;
    const r = spawnSync(process.execPath, [BIN, 'replay', s.stream, '-q', '--sf-socket', s.sock], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    proc.kill('SIGTERM');
    return { code: await closed, stderr };
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trim().split('\n').filter((l) => l).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function paths(recs: Record<string, unknown>[]): string[] {
  return recs.map((r) => JSON.stringify(r).match(/"(\/var\/lib\/app\/[^"]+\/[^"/]+)"/)?.[1] ?? '?');
}

test('replay --sf-socket → process --driver socket: every flow arrives, exactly the 38 secret writes alert', { skip: !existsSync(LISTEN_BIN) && `listener not built (${LISTEN_BIN}; run scripts/setup.sh)` }, async () => {
  const s = setup();
  try {
    const r = await roundTrip(s, ['--config', s.config, '--driver', 'socket', s.sock]);
    assert.equal(r.code, 0, r.stderr);
    const all = lines(s.all);
    assert.equal(all.length, 300, 'one FileFlow per file record');
    const alerts = lines(s.alerts);
    assert.equal(s.secret.length, 38);
    assert.equal(alerts.length, 38);
    assert.deepEqual(paths(alerts), s.secret, 'the alerts are the secret files, in order');
    assert.ok(!existsSync(s.sock), 'the listener removes its socket');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('the socket driver from pipeline.json\'s "drivers" section (sf-processor 0.7)', { skip: !existsSync(LISTEN_BIN) && 'listener not built' }, async () => {
  const s = setup();
  try {
    const cfg = JSON.parse(readFileSync(s.config, 'utf8')) as Record<string, unknown>;
    cfg['drivers'] = [{ driver: 'socket', out: 'sysflow sysflowchan', path: s.sock }];
    writeFileSync(s.config, JSON.stringify(cfg));
    const r = await roundTrip(s, ['-config', s.config]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lines(s.all).length, 300);
    assert.equal(lines(s.alerts).length, 38);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('bad drivers sections and driver choices are errors that name the place', () => {
  const base = '{"pipeline": [{"processor": "exporter", "in": "sysflow sysflowchan", "export": "null"}]';
  assert.throws(() => parsePipelineConfig('p.json', `${base}, "drivers": 3}`), (e: Error) => e instanceof PipelineConfigError && /^p\.json:1:\d+: drivers must be an array/.test(e.message));
  assert.throws(() => parsePipelineConfig('p.json', `${base}, "drivers": [{"path": "/x"}]}`), /p\.json:1:\d+: drivers\[0\]\.driver must be a non-empty string/);
  assert.throws(() => parsePipelineConfig('p.json', `${base}, "drivers": [{"driver": "socket", "pth": "/x"}]}`), /p\.json:1:\d+: drivers\[0\]: unknown key "pth"/);
  const ok = parsePipelineConfig('p.json', `${base}, "drivers": [{"driver": "Socket", "path": "/run/s.sock"}]}`);
  assert.equal(ok.drivers?.[0]?.driver, 'socket');
  assert.equal(ok.drivers?.[0]?.path, '/run/s.sock');
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-sfsock-bad-'));
  try {
    const p = path.join(dir, 'p.json');
    writeFileSync(p, `${base}}`);
    const unknown = spawnSync(process.execPath, [BIN, 'process', '--config', p, '--driver', 'kafka2', 'x'], { encoding: 'utf8' });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /--driver: unknown driver "kafka2" \(file, socket, nats or kafka\)/);
    const two = spawnSync(process.execPath, [BIN, 'process', '--config', p, '--driver', 'socket', 'a', 'b'], { encoding: 'utf8' });
    assert.match(two.stderr, /the socket driver takes one socket path, got 2/);
    const none = spawnSync(process.execPath, [BIN, 'process', '--config', p], { encoding: 'utf8' });
    assert.match(none.stderr, /the file driver needs trace files or directories/);
    const notSock = path.join(dir, 'plain');
    writeFileSync(notSock, 'x');
    const busy = spawnSync(process.execPath, [BIN, 'process', '--config', p, '--driver', 'socket', notSock], { encoding: 'utf8', timeout: 20000 });
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /cannot listen on SysFlow socket .*plain: .*exists and is not a socket/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('datagrams that are not SysFlow datums are skipped, counted and reported once; the source goes on', { skip: !existsSync(LISTEN_BIN) && 'listener not built' }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-sfsock-junk-'));
  const sock = path.join(dir, 's.sock');
  const logs: string[] = [];
  const src = sysflowSocketSource(sock, (t) => logs.push(t));
  const events: SourceEvent[] = [];
  const done = (async () => { for await (const ev of src) events.push(ev); })();
  try {
    await src.listening;
    // a header datum (union branch 0) cut short, a union index out of range, random bytes
    const client = `
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.connect(sys.argv[1])
for m in [b'\\x00\\x02', b'\\x7f\\x01\\x02', bytes(range(256))]:
    c.send(m)
c.close()
`;
    const r = spawnSync('python3', ['-c', client, sock], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (let i = 0; i < 600 && src.badMessages < 3; i++) await new Promise((res) => setTimeout(res, 50)); // bounded: 30 s
    src.stop();
    await done;
    assert.equal(src.badMessages, 3);
    assert.equal(events.filter((e) => e.kind === 'records').length, 0);
    assert.equal(events.at(-1)?.kind, 'end');
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /not a SysFlow v5 datum/);
  } finally {
    src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
