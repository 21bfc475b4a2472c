// Records the ring buffer cannot take move to the kernel's map of deferred records and are
// emitted by the sensor (counted as deferred, never lost). The sensor is stopped (SIGSTOP) while a
// process deletes more files than a 1 MiB ring buffer holds records for: each delete emits a
// record at once (built in scratch memory, bpf/file.bpf.h REC_SCRATCH), so most of them go into
// that map instead, and the sensor emits them from there once it runs again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { captureRecords, eventsPerFile, skipUnlessBpf, type JsonRecord } from './harness.js';

const skip = skipUnlessBpf();
const FILES = 4000;

function py(code: string, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('python3', ['-c', code], { cwd, stdio: 'inherit' });
    c.on('close', (code) => (code === 0 ? resolve(c.pid!) : reject(new Error(`python exited ${code}`))));
  });
}

/** Children of pid (from /proc/<n>/stat), with their command names. */
function children(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(d), comm });
    } catch {
      // the process went away
    }
  }
  return out;
}

/** The sensor started by this test's agent (a child of a child of this process). */
function ourSensor(): number {
  for (const agent of children(process.pid))
    for (const c of children(agent.pid)) if (c.comm === 'falconet-sensor') return c.pid;
  throw new Error('no falconet-sensor under this test process');
}

test('deletes the ring buffer cannot take are deferred to the map and all emitted', { skip, timeout: 120000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-defer-'));
  for (let i = 0; i < FILES; i++) writeFileSync(path.join(dir, `d-${i}`), '');
  let pid = 0;
  const cap = await captureRecords(async () => {
    const sensor = ourSensor();
    process.kill(sensor, 'SIGSTOP');
    try {
      pid = await py('import os\nfor f in os.listdir("."): os.unlink(f)\n', dir);
    } finally {
      process.kill(sensor, 'SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 2500)); // the sensor sweeps deferred records on its stats timer
  }, ['-m', 'file', '--ringbuf-mb', '1']);
  const deletes = cap.records.filter((r: JsonRecord) => r.ProcPID === pid && r.FilePath === dir + '/');
  const names = new Map<string, number>();
  for (const r of deletes) {
    assert.deepEqual(r.FileEvents, { DELETE: 1 }, `record of ${String(r.File)}`);
    names.set(String(r.File), (names.get(String(r.File)) ?? 0) + 1);
  }
  assert.equal(names.size, FILES, 'a DELETE record for every file');
  assert.ok([...names.values()].every((n) => n === 1), 'one record per file');
  assert.ok(cap.stats, 'stats were reported');
  assert.equal(cap.stats.counters.file_map_full, 0, 'no record lost to a full map');
  assert.ok(cap.stats.counters.file_deferred > FILES / 4,
    `most deletes were deferred (${cap.stats.counters.file_deferred}): the ring buffer was full while the sensor was stopped`);
});

// Files created, written, closed and deleted one after another while the sensor is stopped: the
// file system gives the next file the inode number the last one freed, so a deferred record that
// stayed under its (pid, device, inode) key (as deferred records once did) took the next files'
// events under the first file's name (here: one record for hundreds of files).
test('deferred records leave the record map: a new file with a reused inode number gets its own record', { skip, timeout: 120000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-reuse-'));
  let pid = 0;
  const cap = await captureRecords(async () => {
    const sensor = ourSensor();
    process.kill(sensor, 'SIGSTOP');
    try {
      pid = await py(`import os\nfor i in range(${FILES}):\n  f = "r-%d" % i\n  fd = os.open(f, os.O_CREAT | os.O_WRONLY, 0o644)\n  os.write(fd, b"x")\n  os.close(fd)\n  os.unlink(f)\n`, dir);
    } finally {
      process.kill(sensor, 'SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 2500)); // the sensor sweeps deferred records on its stats timer
  }, ['-m', 'file', '--ringbuf-mb', '1']);
  const mine = cap.records.filter((r: JsonRecord) => r.ProcPID === pid && r.FilePath === dir + '/');
  const perFile = eventsPerFile(mine);
  assert.equal(perFile.size, FILES, 'records name every file');
  for (const [name, f] of perFile) {
    assert.deepEqual(f.events, { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1, DELETE: 1 }, name);
    assert.equal(f.records, 2, `${name}: one record at close, one at delete`);
  }
  assert.ok(cap.stats, 'stats were reported');
  assert.equal(cap.stats.counters.file_map_full, 0, 'no record lost to a full map');
  assert.ok(cap.stats.counters.file_deferred > FILES / 4, `most records were deferred (${cap.stats.counters.file_deferred})`);
});
