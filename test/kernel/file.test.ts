// Kernel e2e for the file monitor: real agent, real workloads, exact ground truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeEscaped } from '../../src/util/bytes.js';
import { captureRecords, eventsPerFile, skipUnlessBpf, type JsonRecord } from './harness.js';
import { buildLoad, runIn } from './workloads.js';

const skip = skipUnlessBpf();


const inDir = (recs: JsonRecord[], dir: string) => recs.filter((r) => r.FilePath === dir + '/');

test('shell script: create, append, rename, chmod, delete are reported exactly', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-file-'));
  const script = path.join(mkdtempSync(path.join(tmpdir(), 'fn-script-')), 'work.sh');
  writeFileSync(script, 'printf abc > f\nprintf defg >> f\nstat -c %i f\nmv f g\nchmod 600 g\nrm g\n');
  let bash = { pid: 0, stdout: '' };
  const cap = await captureRecords(async () => { bash = await runIn('bash', [script], dir); }, ['-m', 'file']);
  const inode = Number(bash.stdout.trim());
  const recs = inDir(cap.records, dir);
  const brief = recs.map((r) => ({ Proc: r.Proc, File: r.File, FileEvents: r.FileEvents }));
  assert.equal(recs.length, 5, `records in ${dir}: ${JSON.stringify(brief)}`);
  // chmod never closes g: its record is flushed when chmod exits, so it may follow rm's
  const [c1, c2, mv] = recs as [JsonRecord, JsonRecord, JsonRecord];
  const ch = recs.find((r) => r.Proc === 'chmod')!;
  const rm = recs.find((r) => r.Proc === 'rm')!;

  assert.equal(c1.ProcPID, bash.pid);
  assert.equal(c1.Proc, 'bash');
  assert.equal(c1.File, 'f');
  assert.deepEqual(c1.FileEvents, { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
  assert.equal(c1.FileEventCount, 4);
  assert.equal(c1.FileSize, 3);
  assert.equal(c1.FileSizeChange, 3);

  assert.equal(c2.ProcPID, bash.pid);
  assert.equal(c2.File, 'f');
  assert.deepEqual(c2.FileEvents, { OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
  assert.equal(c2.FileSize, 7);
  assert.equal(c2.FileSizeChange, 4);

  assert.equal(mv.Proc, 'mv');
  assert.equal(mv.ProcPPID, bash.pid);
  assert.equal(mv.File, 'g');
  assert.equal(mv.FileOrigin, 'f');
  assert.deepEqual(mv.FileEvents, { MOVED_FROM: 1, MOVED_TO: 1 });
  assert.equal(mv.FileSize, 7);
  assert.equal(mv.FileSizeChange, undefined);

  assert.equal(ch.Proc, 'chmod');
  assert.equal(ch.ProcPPID, bash.pid);
  assert.equal(ch.File, 'g');
  assert.deepEqual(ch.FileEvents, { ATTRIB: 1 });
  assert.equal(ch.FilePermissions, '0600/-rw-------');

  assert.equal(rm.Proc, 'rm');
  assert.equal(rm.ProcPPID, bash.pid);
  assert.equal(rm.File, 'g');
  assert.deepEqual(rm.FileEvents, { DELETE: 1 });

  for (const r of recs) {
    assert.equal(r.FileInode, inode, `inode of ${r.Proc} record`);
    assert.equal(r.InfoMonitor, 'filesystem');
    assert.match(String(r.FileDevice), /^[0-9a-f]+h:[^:]*:[^:]*:[a-z0-9]+$/);
  }
});

test('file names with quotes, backslashes, newlines and invalid UTF-8 come out as valid JSON', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-names-'));
  const names = [
    Buffer.from('quo"te'), Buffer.from('back\\slash'), Buffer.from('new\nline'),
    Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), Buffer.from('ünï'), Buffer.from('x'.repeat(255)),
  ];
  // python writes byte names exactly
  const py = `import os\nfor n in ${JSON.stringify(names.map((n) => n.toString('hex')))}:\n  fd = os.open(bytes.fromhex(n), os.O_CREAT | os.O_WRONLY, 0o644)\n  os.write(fd, b'1')\n  os.close(fd)\n`;
  const cap = await captureRecords(async () => { await runIn('python3', ['-c', py], dir); }, ['-m', 'file']);
  const got = inDir(cap.records, dir).map((r) => encodeEscaped(String(r.File)).toString('hex')).sort();
  assert.deepEqual(got, names.map((n) => n.toString('hex')).sort());
});

test('deep paths are reported in full (no 16-level / 96-byte truncation)', { skip }, async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'fn-deep-'));
  const deep = path.join(base, ...Array.from({ length: 40 }, (_, i) => `level-${i}-${'d'.repeat(50)}`));
  execFileSync('mkdir', ['-p', deep]);
  const cap = await captureRecords(async () => { await runIn('bash', ['-c', 'echo hi > leaf.txt'], deep); }, ['-m', 'file']);
  const rec = cap.records.find((r) => r.FilePath === deep + '/' && r.File === 'leaf.txt');
  assert.ok(rec, `no record for ${deep.length}-byte path`);
  assert.deepEqual(rec.FileEvents, { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
});

test('hard link, symlink, truncate and fallocate are reported', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-links-'));
  writeFileSync(path.join(dir, 'orig'), 'hello');
  const cap = await captureRecords(async () => {
    await runIn('bash', ['-c', 'ln orig hard; ln -s orig soft; truncate -s 2 orig; fallocate -l 8 orig; true'], dir);
  }, ['-m', 'file']);
  const recs = inDir(cap.records, dir);
  const hard = recs.find((r) => r.File === 'hard' && r.Proc === 'ln');
  assert.ok(hard, JSON.stringify(recs.map((r) => [r.Proc, r.File, r.FileEvents])));
  assert.deepEqual(hard.FileEvents, { CREATE: 1 });
  assert.equal(hard.FileMode, 'hardlink');
  const soft = recs.find((r) => r.File === 'soft');
  assert.ok(soft);
  assert.deepEqual(soft.FileEvents, { CREATE: 1 });
  assert.equal(soft.FileMode, 'symlink');
  const tr = recs.find((r) => r.Proc === 'truncate');
  assert.ok(tr);
  assert.equal((tr.FileEvents as Record<string, number>).MODIFY, 1);
  assert.equal(tr.FileSize, 2);
  // the ctime tracepoints here; the fd at the call's exit on the BPF LSM path (test/kernel61)
  const fa = recs.find((r) => r.Proc === 'fallocate');
  assert.ok(fa, JSON.stringify(recs.map((r) => [r.Proc, r.File, r.FileEvents])));
  assert.equal((fa.FileEvents as Record<string, number>).MODIFY, 1);
  assert.equal(fa.FileSize, 8);
});

test('zero loss: 1,000,000 writes and 20,000 files, every event counted, no kernel drops', { skip, timeout: 300000 }, async () => {
  const bin = buildLoad();
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-zero-'));
  const WRITES = 1_000_000, FILES = 20_000;
  let pid = 0;
  const cap = await captureRecords(async () => { pid = (await runIn(bin, [String(WRITES), String(FILES)], dir)).pid; }, ['-m', 'file'], 240000);
  const mine = inDir(cap.records, dir).filter((r) => r.ProcPID === pid);
  const big = mine.filter((r) => r.File === 'big');
  assert.equal(big.length, 1);
  assert.deepEqual(big[0]!.FileEvents, { CREATE: 1, OPEN: 1, MODIFY: WRITES, CLOSE_WRITE: 1 });
  assert.equal(big[0]!.FileSize, WRITES);
  const small = mine.filter((r) => String(r.File).startsWith('small-'));
  const total = mine.reduce((n, r) => n + Number(r.FileEventCount), 0);
  assert.equal(total, WRITES + 3 + FILES * 5, 'sum of FileEventCount equals the operations performed');
  assert.ok(cap.stats, 'final kernel counters reported');
  // A file's close and its delete give two records, also when the ring buffer was full (the
  // agent fell behind): a deferred record leaves the kernel's record map (bpf/file.bpf.h
  // file_deferred), so the delete starts a record of its own
  assert.equal(small.length, FILES * 2, 'one record at close, one at delete per file');
  // every file's events
  const perFile = eventsPerFile(small);
  assert.equal(perFile.size, FILES);
  for (const [name, f] of perFile) assert.deepEqual(f.events, { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1, DELETE: 1 }, name);
  assert.equal(cap.stats.counters.file_map_full, 0, 'no record lost to a full map');
  // an exit notice the full ring buffer refused (notice_drop) loses nothing: the sensor's sweep
  // of dead processes finds the records, and the counts above include them
});
