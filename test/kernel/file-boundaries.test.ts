// Record boundaries beyond close: -e N, process exit (implicit close), agent shutdown,
// and record → replay giving the same records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { captureRecords, REPO, skipUnlessBpf, type JsonRecord } from './harness.js';

const skip = skipUnlessBpf();
const BIN = path.join(REPO, 'bin/falconet');

function py(code: string, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('python3', ['-c', code], { cwd, stdio: 'inherit' });
    c.on('close', (code) => (code === 0 ? resolve(c.pid!) : reject(new Error(`python exited ${code}`))));
  });
}

const inDir = (recs: JsonRecord[], dir: string) => recs.filter((r) => r.FilePath === dir + '/');

test('-e 3 emits a record every 3 events', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-e-'));
  const cap = await captureRecords(async () => {
    await py("import os\nfd = os.open('f', os.O_CREAT | os.O_WRONLY, 0o644)\nfor i in range(7): os.write(fd, b'x')\nos.close(fd)\n", dir);
  }, ['-m', 'file', '-e', '3']);
  const recs = inDir(cap.records, dir);
  // CREATE OPEN + 7 MODIFY + CLOSE_WRITE = 10 events: records of 3, 3, 3 and the close
  assert.deepEqual(recs.map((r) => r.FileEventCount), [3, 3, 3, 1]);
  assert.deepEqual(recs[0]!.FileEvents, { CREATE: 1, OPEN: 1, MODIFY: 1 });
  assert.deepEqual(recs[3]!.FileEvents, { CLOSE_WRITE: 1 });
});

test('a process that exits without closing gets its record at exit', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-exit-'));
  let pid = 0;
  const cap = await captureRecords(async () => {
    pid = await py("import os\nfd = os.open('held', os.O_CREAT | os.O_WRONLY, 0o644)\nos.write(fd, b'abc')\nos._exit(0)\n", dir);
    await new Promise((r) => setTimeout(r, 300)); // exit sweep happens on the sensor's next cycle
  }, ['-m', 'file']);
  const rec = inDir(cap.records, dir).find((r) => r.File === 'held');
  assert.ok(rec);
  assert.equal(rec.ProcPID, pid);
  assert.deepEqual(rec.FileEvents, { CREATE: 1, OPEN: 1, MODIFY: 1 });
  assert.equal(rec.FileSize, 3);
});

test('records still open at shutdown are flushed', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-shut-'));
  let holder: ReturnType<typeof spawn> | undefined;
  try {
    const cap = await captureRecords(async () => {
      holder = spawn('python3', ['-c', "import os,sys,time\nfd = os.open('open-at-shutdown', os.O_CREAT | os.O_WRONLY, 0o644)\nos.write(fd, b'12345')\nprint('written', flush=True)\ntime.sleep(30)\n"], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => holder!.stdout!.once('data', () => resolve()));
    }, ['-m', 'file']);
    const rec = inDir(cap.records, dir).find((r) => r.File === 'open-at-shutdown');
    assert.ok(rec, 'the open record is flushed when the agent stops');
    assert.equal(rec.ProcPID, holder!.pid);
    assert.deepEqual(rec.FileEvents, { CREATE: 1, OPEN: 1, MODIFY: 1 });
  } finally {
    holder?.kill('SIGKILL');
  }
});

test('record then replay (without the sensor) reproduces the records', { skip, timeout: 60000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-rec-'));
  const file = path.join(dir, 'stream.bin');
  const rec = spawn(process.execPath, [BIN, 'record', file, '-m', 'file'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    rec.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; if (err.includes('sensor ready')) resolve(); });
    rec.on('close', (c) => reject(new Error(`record exited ${c}: ${err}`)));
  });
  await py("open('replayed.txt', 'w').write('hello')\n", dir);
  rec.kill('SIGTERM');
  await new Promise((r) => rec.on('close', r));
  assert.match(err, /recorded \d+ records/);
  const out = execFileSync(process.execPath, [BIN, 'replay', file, '-o', 'json-min'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const recs = out.trim().split('\n').map((l) => JSON.parse(l) as JsonRecord);
  const r = recs.find((x) => x.File === 'replayed.txt' && x.FilePath === dir + '/');
  assert.ok(r, 'the recorded workload is in the replay');
  assert.deepEqual(r.FileEvents, { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
  // replay is deterministic: same bytes in, same records out
  const again = execFileSync(process.execPath, [BIN, 'replay', file, '-o', 'json-min'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(again, out);
  assert.ok(readFileSync(file).length > 0);
});

test('a sensor that dies is restarted and monitoring goes on', { skip, timeout: 240000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-restart-'));
  const agent = spawn(process.execPath, [BIN, '-m', 'file', '-o', 'json-min'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  agent.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const waitErr = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => { if (re.test(err)) resolve(); };
    agent.stderr.on('data', check);
    agent.on('close', (c) => reject(new Error(`agent exited ${c}: ${err}`)));
    check();
  });
  agent.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  try {
    await waitErr(/sensor ready/);
    const sensorPid = Number(execFileSync('pgrep', ['-P', String(agent.pid), 'falconet-sensor'], { encoding: 'utf8' }).trim());
    process.kill(sensorPid, 'SIGKILL');
    await waitErr(/restarting it \(1\/3\)[\s\S]*sensor ready/);
    await py("open('after-restart', 'w').write('x')\n", dir);
    agent.kill('SIGTERM');
    const code = await new Promise((r) => agent.on('close', r));
    assert.equal(code, 0);
    const recs = out.trim().split('\n').map((l) => JSON.parse(l) as JsonRecord);
    assert.ok(recs.some((r) => r.FilePath === dir + '/' && r.File === 'after-restart'), 'records flow after the restart');
  } finally {
    agent.kill('SIGKILL');
  }
});
