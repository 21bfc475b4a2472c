// The agent's delivery flags end to end on replayed streams (no root): --sink (repeatable, with
// per-sink formats), -q as kflowd defines it (needs a destination), --rules alerts beside the
// records, --print-pipeline (the tree the flags compile to) and --config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from '../kernel/harness.js';
import { end, fileRecord, hello, records } from '../unit/stream-builder.js';

const BIN = path.join(REPO, 'bin/falconet');
const RULES = path.join(process.env.FALCONET_SHARED ?? '/work/shared', 'data/sysflow/policies/runtimeintegrity');
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });

function stream(): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-cli-'));
  const file = path.join(dir, 's.bin');
  writeFileSync(file, Buffer.concat([hello(), records([
    fileRecord({ pid: 700, exe: 'vi', path: '/etc/shadow', events: [0, 1, 0, 0, 0, 3, 1, 0, 0, 0, 0] }),
    fileRecord({ pid: 701, exe: 'cat', path: '/tmp/readme', events: [0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0] }),
  ]), end()]));
  return { dir, file };
}

test('-q needs a destination, as in kflowd; with --sink nothing goes to stdout', () => {
  const { dir, file } = stream();
  const bare = run(['replay', file, '-q']);
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /-q needs a destination for the records \(--sink URL or -u IP:PORT/);
  const out = path.join(dir, 'a.jsonl');
  const q = run(['replay', file, '-o', 'json-min', '-q', '--sink', `file://${out}`]);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(q.stdout, '');
  assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { File: string }).File), ['shadow', 'readme']);
});

test('--sink is repeatable; each sink may ask for its own format', () => {
  const { dir, file } = stream();
  const a = path.join(dir, 'a.jsonl');
  const b = path.join(dir, 'b.txt');
  const r = run(['replay', file, '-o', 'json-min', '--sink', `file://${a}`, '--sink', `file://${b}?format=table`]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '', 'with --sink, records do not go to stdout');
  assert.equal(readFileSync(a, 'utf8').trim().split('\n').length, 2);
  const rows = readFileSync(b, 'utf8').trim().split('\n');
  assert.equal(rows.length, 3);
  assert.match(rows[0]!, /^TIME \(UTC\)\s+EVENTS/);
  assert.match(rows[1]!, /\/etc\/shadow$/);
});

test('--rules: alerts in Falco JSON beside the kflowd records', () => {
  const { file } = stream();
  const r = run(['replay', file, '-o', 'json-min', '--rules', RULES]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const records = lines.filter((l) => 'InfoSequenceNumber' in l);
  const alerts = lines.filter((l) => 'rule' in l);
  assert.equal(records.length, 2);
  // vi writing /etc/shadow: three rules of runtimeintegrity.yaml (the cat of /tmp/readme none)
  assert.deepEqual([...new Set(alerts.map((a) => a.rule as string))].sort(), ['Password file modified', 'Untrusted read sensitive file', 'Write below system dirs']);
  assert.equal(alerts[0]!.source, 'syscall');
  const sf = run(['replay', file, '-o', 'json-min', '-q', '--sink', 'file:///dev/null', '--rules', RULES, '--alert-format', 'sysflow-json', '--sink', 'stdout:']);
  assert.equal(sf.status, 0, sf.stderr);
  const sfAlerts = sf.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => 'policies' in l);
  assert.ok(sfAlerts.length >= 1);
  for (const a of sfAlerts) assert.equal((a.file as { path: string }).path, '/etc/shadow');
});

test('--print-pipeline shows the tree the flags compile to; --config errors name file:line:col', () => {
  const p = run(['--print-pipeline', '--filter', 'sf.proc.name != sshd', '--rules', '/r', '--sink', 'file:///x', '-w', '/t/']);
  assert.equal(p.status, 0, p.stderr);
  const tree = JSON.parse(p.stdout) as { pipeline: { processor: string; in: string; out?: string }[] };
  assert.deepEqual(tree.pipeline.map((x) => x.processor), ['filter', 'enrich', 'exporter', 'sysflowwriter', 'sysflowreader', 'policyengine', 'exporter']);
  assert.equal(tree.pipeline[0]!.in, 'kernel kernelchan');
  const { dir, file } = stream();
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, '{"pipeline": [\n  {"processor": "enrich", "in": "kernel k", "out": "r r"},\n  {"processor": "exporter", "in": "r r", "export": "carrier-pigeon"}\n]}');
  const r = run(['replay', file, '--config', bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.json:3:52: export "carrier-pigeon" is not supported yet/);
});

test('--sf-socket-buffer compiles to the sysflowwriter\'s socket.buffer; a bad size is refused with its place', () => {
  const p = run(['--print-pipeline', '-q', '--sf-socket', '/run/sf.sock', '--sf-socket-buffer', '1MiB']);
  assert.equal(p.status, 0, p.stderr);
  const w = (JSON.parse(p.stdout) as { pipeline: Record<string, string>[] }).pipeline.find((x) => x['processor'] === 'sysflowwriter');
  assert.deepEqual(w && { socket: w['socket'], buffer: w['socket.buffer'] }, { socket: '/run/sf.sock', buffer: String(1 << 20) });
  const small = run(['--print-pipeline', '-q', '--sf-socket', '/run/sf.sock', '--sf-socket-buffer', '4k']);
  assert.notEqual(small.status, 0);
  assert.match(small.stderr, /--sf-socket-buffer <size>' argument '4k' is invalid\. expected a size of at least 64KiB/);
  const { dir, file } = stream();
  const bad = path.join(dir, 'buffer.json');
  writeFileSync(bad, '{"pipeline": [\n  {"processor": "sysflowwriter", "in": "kernel k", "socket": "/run/sf.sock",\n   "socket.buffer": "lots"}\n]}');
  const r = run(['replay', file, '--config', bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /buffer\.json:3:21: socket\.buffer must be a size of at least 64KiB \(e\.g\. 16MiB\), got "lots"/);
});

test('-u takes up to 8 servers (kflowd means 8; its check refuses the eighth)', () => {
  const servers = (n: number): string => Array.from({ length: n }, (_, i) => (i % 2 ? `[::1]:${5000 + i}` : `127.0.0.1:${5000 + i}`)).join(',');
  const ok = run(['--print-pipeline', '-u', servers(8)]);
  assert.equal(ok.status, 0, ok.stderr);
  const tree = JSON.stringify(JSON.parse(ok.stdout));
  for (let i = 0; i < 8; i++) assert.ok(tree.includes(`:${5000 + i}`), `server ${i + 1} in the tree`);
  assert.match(tree, /udp:\/\/\[::1\]:5001/);
  const nine = run(['--print-pipeline', '-u', servers(9)]);
  assert.notEqual(nine.status, 0);
  assert.match(nine.stderr, /-u: at most 8 servers, got 9/);
});
