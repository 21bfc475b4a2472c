// -c checksums: digests equal md5sum/sha256sum; a 1 GiB executable never holds up other records
// (asserted by ordering: the small file's record leaves, with its digest, while the big one is
// still being hashed); the wait bound with a single worker; identity-keyed caching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, appendFileSync, chmodSync, closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChecksumStage, type ChecksumEnrichment } from '../../src/enrich/checksums.js';
import { bootId, formatDigests, parseDigests } from '../../src/enrich/checksum-store.js';
import { Rng } from '../policy/fuzz-lib.js';
import { kernelDev } from '../../src/enrich/checksum-worker.js';
import type { FileRecord } from '../../src/model/records.js';
import type { Envelope } from '../../src/pipeline/types.js';

/** A file record for `p` as the kernel would report it after close (identity from stat). */
function recordOf(p: string): Envelope {
  const s = statSync(p, { bigint: true });
  const rec = {
    type: 'file', hdr: { flags: 0 }, dir: path.dirname(p) + '/', name: path.basename(p), mode: Number(s.mode),
    dev: kernelDev(s.dev), ino: Number(s.ino), size: Number(s.size), mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs,
  } as unknown as FileRecord;
  return { kind: 'file', rec };
}
const sum = (tool: string, p: string) => execFileSync(tool, [p], { encoding: 'utf8' }).split(' ')[0]!;
const cs = (e: Envelope) => e.enrich?.['checksums'] as ChecksumEnrichment | undefined;

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'falconet-cs-'));
}

test('digests of a written executable equal md5sum and sha256sum; non-executables get none; cache hit', async () => {
  const dir = tmp();
  const stage = new ChecksumStage({ waitMs: 30000 });
  try {
    const exe = path.join(dir, 'tool');
    copyFileSync('/usr/bin/true', exe);
    appendFileSync(exe, `unique ${process.pid} ${Date.now()}`);
    chmodSync(exe, 0o750);
    const data = path.join(dir, 'data');
    writeFileSync(data, 'not executable');
    const [a, b] = await stage.process([recordOf(exe), recordOf(data)]);
    assert.deepEqual(cs(a!), { state: 'done', md5: sum('md5sum', exe), sha256: sum('sha256sum', exe) });
    assert.equal(cs(b!), undefined);
    const [again] = await stage.process([recordOf(exe)]);
    assert.deepEqual(cs(again!), cs(a!));
    assert.equal(stage.stats.computed, 1); // the second record was served from the cache
    // a file changed after its record: that record's identity is never hashed (pending), the
    // next record (new identity) gets the new digests
    appendFileSync(exe, 'changed');
    const old = recordOf(exe);
    appendFileSync(exe, 'more');
    const [stale] = await stage.process([old]);
    assert.deepEqual(cs(stale!), { state: 'pending' });
    await stage.settle();
    const [fresh] = await stage.process([recordOf(exe)]);
    assert.deepEqual(cs(fresh!), { state: 'done', md5: sum('md5sum', exe), sha256: sum('sha256sum', exe) });
    // a vanished file: an error state, not a crash
    const gone = path.join(dir, 'gone');
    copyFileSync('/usr/bin/true', gone);
    const goneRec = recordOf(gone);
    rmSync(gone);
    const [g] = await stage.process([goneRec]);
    assert.deepEqual(cs(g!), { state: 'error', reason: 'ENOENT' });
  } finally {
    await stage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function bigExecutable(dir: string): string {
  const p = path.join(dir, 'big');
  const fd = openSync(p, 'w', 0o755);
  writeFileSync(fd, 'head of a big executable');
  ftruncateSync(fd, 1 << 30); // 1 GiB (sparse: the test measures hashing, not disk)
  closeSync(fd);
  return p;
}

test('a 1 GiB executable does not hold up other records; its digest follows in a later record', async () => {
  const dir = tmp();
  const stage = new ChecksumStage({ workers: 2, waitMs: 60000 });
  try {
    const big = bigExecutable(dir);
    const small = path.join(dir, 'small');
    copyFileSync('/usr/bin/true', small);
    const [b1] = await stage.process([recordOf(big)]);
    // large files never make a batch wait
    assert.deepEqual(cs(b1!), { state: 'pending' });
    const [s1] = await stage.process([recordOf(small)]);
    assert.deepEqual(cs(s1!), { state: 'done', md5: sum('md5sum', small), sha256: sum('sha256sum', small) });
    // ordering: the small record left with its digest while the big file was still being hashed
    const [b2] = await stage.process([recordOf(big)]);
    assert.deepEqual(cs(b2!), { state: 'pending' }, 'the 1 GiB hash finished before the small one: lanes are not separate');
    await stage.settle();
    const [b3] = await stage.process([recordOf(big)]);
    assert.deepEqual(cs(b3!), { state: 'done', md5: sum('md5sum', big), sha256: sum('sha256sum', big) });
  } finally {
    await stage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one worker: a record behind a big job waits only the bound, leaves pending, gets the digest later', async () => {
  const dir = tmp();
  // largeBytes above the big file's size: the pool treats it as small and the batch waits for it
  const stage = new ChecksumStage({ workers: 1, waitMs: 100, largeBytes: 2 * 2 ** 30 });
  try {
    const big = bigExecutable(dir);
    const small = path.join(dir, 'small');
    copyFileSync('/usr/bin/true', small);
    let bigDone = false;
    const t0 = Date.now();
    const out = await stage.process([recordOf(big), recordOf(small)]);
    const held = Date.now() - t0;
    // the batch returned on its bound, not when hashing finished: both still pending
    assert.deepEqual(out.map(cs), [{ state: 'pending' }, { state: 'pending' }]);
    assert.ok(held >= 95, `returned after ${held} ms, before its bound`);
    void stage.settle().then(() => { bigDone = true; });
    assert.equal(bigDone, false);
    await stage.settle();
    const again = await stage.process([recordOf(small)]);
    assert.deepEqual(cs(again[0]!), { state: 'done', md5: sum('md5sum', small), sha256: sum('sha256sum', small) });
  } finally {
    await stage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('workers start with their first job: records without executables start none', async () => {
  const dir = tmp();
  const stage = new ChecksumStage({ waitMs: 30000 });
  try {
    const data = path.join(dir, 'data');
    writeFileSync(data, 'not executable');
    for (let i = 0; i < 3; i++) await stage.process([recordOf(data)]);
    assert.equal(stage.pool.started, 0);
    const exe = path.join(dir, 'tool');
    copyFileSync('/usr/bin/true', exe);
    chmodSync(exe, 0o755);
    // the first executable starts the small-file worker; the batch waits for it to run and then
    // for the digest (bound 30 s), so the digest is there
    const [a] = await stage.process([recordOf(exe)]);
    assert.equal(stage.pool.started, 1);
    assert.deepEqual(cs(a!), { state: 'done', md5: sum('md5sum', exe), sha256: sum('sha256sum', exe) });
  } finally {
    await stage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('digests kept between runs in one boot: the next run starts no worker for them; other boot, corrupt bytes, bad mode → not used', async () => {
  const dir = tmp();
  const state = path.join(dir, 'state');
  const logs: string[] = [];
  const ctx = { log: (t: string) => logs.push(t) };
  try {
    const exe = path.join(dir, 'tool');
    copyFileSync('/usr/bin/true', exe);
    appendFileSync(exe, `kept ${process.pid} ${Date.now()}`);
    chmodSync(exe, 0o755);
    const want = { state: 'done', md5: sum('md5sum', exe), sha256: sum('sha256sum', exe) };
    const a = new ChecksumStage({ waitMs: 30000, stateDir: state });
    await a.start(ctx);
    assert.deepEqual(cs((await a.process([recordOf(exe)]))[0]!), want);
    await a.close();
    const file = path.join(state, 'checksums.txt');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const kept = readFileSync(file);
    assert.equal(kept.toString('latin1').split('\n')[0]!.split(' ').slice(0, 4).join(' '), `falconet-checksums 1 ${bootId()} 1`);
    const fresh = async (): Promise<ChecksumStage> => { const s = new ChecksumStage({ waitMs: 30000, stateDir: state }); await s.start(ctx); return s; };
    const b = await fresh();
    assert.equal(b.stats.loaded, 1);
    assert.deepEqual(cs((await b.process([recordOf(exe)]))[0]!), want);
    assert.equal(b.pool.started, 0); // served from the store: no worker
    assert.equal(b.stats.computed, 0);
    await b.close();
    assert.deepEqual(readFileSync(file), kept); // nothing new: not rewritten
    assert.deepEqual(logs, []);
    const rejected = async (bytes: Buffer, reason: RegExp): Promise<void> => {
      writeFileSync(file, bytes, { mode: 0o600 });
      logs.length = 0;
      const s = await fresh();
      assert.equal(s.stats.loaded, 0);
      assert.match(logs[0] ?? '', reason);
      assert.deepEqual(cs((await s.process([recordOf(exe)]))[0]!), want); // computed again
      assert.equal(s.pool.started, 1);
      await s.close();
    };
    const line = kept.toString('latin1').split('\n')[1]!;
    await rejected(formatDigests([{ key: line.split(' ')[0]!, md5: want.md5, sha256: want.sha256 }], 'another-boot'), /: written in another boot \(another-boot; now .+\): device numbers may differ; not used$/);
    const flipped = Buffer.from(kept);
    const at = kept.indexOf(want.md5) + 5;
    flipped[at] = flipped[at] === 0x30 ? 0x31 : 0x30; // another hex digit: still well-formed
    await rejected(flipped, new RegExp(`: bytes ${kept.indexOf(10) + 1}–${kept.length - 1}: checksum \\S+, the header says \\S+; not used$`));
    writeFileSync(file, kept);
    chmodSync(file, 0o666);
    await rejected(readFileSync(file), /: writable by others \(mode 666\); not used$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz: a mutated digest store never loads and never throws', () => {
  const boot = 'b00t';
  const rng = new Rng(1508);
  const digests = Array.from({ length: 40 }, (_, i) => ({ key: `2049:${1000 + i}:${i * 17}:1700000000${i}:1700000001${i}`, md5: 'ab'.repeat(16), sha256: ((i % 10).toString()).repeat(64) }));
  const good = formatDigests(digests, boot);
  const ok = parseDigests(good, boot);
  assert.ok(ok.ok && ok.digests.length === 40 && ok.digests[3]!.key === digests[3]!.key);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(good);
    let bytes = b;
    if (rng.int(3) === 0) bytes = b.subarray(0, rng.int(b.length));
    else for (let k = 1 + rng.int(3); k > 0; k--) b[rng.int(b.length)]! ^= 1 + rng.int(255);
    if (bytes.equals(good)) continue;
    let r;
    assert.doesNotThrow(() => { r = parseDigests(bytes, boot); }, `case ${i}`);
    assert.equal(r!.ok, false, `case ${i} loaded`);
  }
});
