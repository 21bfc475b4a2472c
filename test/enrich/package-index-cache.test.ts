// The package index kept between runs (-v, src/enrich/package-index-cache.ts): a second index on
// an unchanged database loads the file and equals the built one; every kind of change to what
// the build read (status, info/, a symlinked directory, options) and every corrupt, truncated,
// foreign or badly-owned file makes a rebuild with a log line saying why (corrupt bytes: the
// offset of the failing block, found by the first look-up that reaches it); versions from a
// loaded cache equal dpkg-query's; fuzzed bytes are rejected at load or by the look-ups that
// reach them, never answered from and never thrown on otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadPackageIndexCache, PACKAGE_INDEX_BLOCK as BLOCK, packageIndexCacheFile, parseCache, PACKAGE_INDEX_CACHE_FORMAT } from '../../src/enrich/package-index-cache.js';
import { PackageIndex, PackageStage, type PackageEnrichment, type PackageIndexOptions } from '../../src/enrich/packages.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { CorruptIndexError } from '../../src/enrich/packed-path-index.js';
import { defaultStateDir } from '../../src/enrich/state-dir.js';
import { enrichmentStages } from '../../src/enrich/stages.js';
import { Rng } from '../policy/fuzz-lib.js';

const hasDpkg = existsSync('/var/lib/dpkg/status') && spawnSync('dpkg-query', ['--version']).status === 0;

/** A dpkg database with `extra` more listed files (so the cache spans many blocks). */
function fixture(extra = 0): { dir: string; dpkg: string; root: string; state: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-pkgcache-'));
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
  symlinkSync('usr/bin', path.join(root, 'bin'));
  const dpkg = path.join(dir, 'dpkg');
  mkdirSync(path.join(dpkg, 'info'), { recursive: true });
  writeFileSync(path.join(dpkg, 'status'), [
    'Package: alpha', 'Status: install ok installed', 'Architecture: amd64', 'Version: 1:2.3-4+deb12u1', '',
    'Package: beta', 'Status: install ok installed', 'Architecture: all', 'Version: 0.9~rc1-2', '',
  ].join('\n'));
  writeFileSync(path.join(dpkg, 'info/alpha.list'), '/.\n/bin\n/bin/alpha\n/usr/bin/alpha-helper\n');
  const many = Array.from({ length: extra }, (_, i) => `/usr/share/beta/some/longer/directory/name/file-number-${i}.txt`);
  writeFileSync(path.join(dpkg, 'info/beta.list'), ['/usr/sbin/beta', ...many, ''].join('\n'));
  return { dir, dpkg, root, state: path.join(dir, 'state') };
}

type Fx = ReturnType<typeof fixture>;

async function index(f: Fx, more: PackageIndexOptions = {}): Promise<{ idx: PackageIndex; logs: string[] }> {
  const logs: string[] = [];
  const idx = new PackageIndex({ dpkgDir: f.dpkg, root: f.root, rpm: null, cacheDir: f.state, log: (t) => logs.push(t), ...more });
  await idx.start();
  return { idx, logs };
}

/** A fixture's index built and kept: the kept file, its bytes, where its data starts, and the
 * bytes with one bit flipped in the third block of data. */
async function kept(f: Fx): Promise<{ good: Awaited<ReturnType<typeof index>>; file: string; orig: Buffer; dataStart: number; bad: Buffer; block: number }> {
  const good = await index(f);
  const file = good.idx.cacheFile!;
  const orig = readFileSync(file);
  const dataStart = 24 + orig.readUInt32LE(12);
  assert.ok(orig.length - dataStart > 3 * BLOCK, `only ${orig.length} bytes`);
  const block = dataStart + 2 * BLOCK;
  const bad = Buffer.from(orig);
  bad[block + 1234 % BLOCK]! ^= 0x01;
  return { good, file, orig, dataStart, bad, block };
}

const entries = (idx: PackageIndex) => [...idx.entries()].map(([p, o]) => `${p}\t${o.pkg}\t${o.version}\t${o.arch}\t${o.source}`);

test('cache: the first run builds and writes it, the next loads it and equals the build', async () => {
  const f = fixture(3000);
  try {
    const a = await index(f);
    assert.equal(a.idx.stats.fromCache, false);
    assert.equal(a.idx.stats.cacheNote, 'written');
    assert.deepEqual(a.logs, [`package index cache ${a.idx.cacheFile}: none yet; building the index`]);
    const file = a.idx.cacheFile!;
    assert.equal(path.dirname(file), f.state);
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(f.state), [path.basename(file)]); // no temporary file left
    const b = await index(f);
    assert.equal(b.idx.stats.fromCache, true);
    assert.deepEqual(b.logs, []);
    assert.equal(b.idx.stats.paths, a.idx.stats.paths);
    assert.equal(b.idx.stats.packages, 2);
    assert.deepEqual(entries(b.idx), entries(a.idx));
    assert.equal(b.idx.lookup('/usr/bin/alpha')?.version, '1:2.3-4+deb12u1');
    assert.equal(b.idx.lookup('/usr/share/beta/some/longer/directory/name/file-number-2999.txt')?.version, '0.9~rc1-2');
    assert.equal(b.idx.lookup('/usr/bin/nothing'), undefined);
    // other options, other file: both kept
    const c = await index(f, { cacheDir: f.state, root: path.join(f.root, 'usr') });
    assert.notEqual(c.idx.cacheFile, file);
    assert.equal(readdirSync(f.state).length, 2);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

/** The descriptors this process holds open on `file`. */
const openOn = (file: string): number => readdirSync('/proc/self/fd').filter((fd) => {
  try { return readlinkSync(`/proc/self/fd/${fd}`) === file; } catch { return false; }
}).length;

test('cache: a load reads the header only; blocks are read as look-ups reach them, the stage\'s never on its thread', async () => {
  const f = fixture(3000);
  try {
    const { good, file } = await kept(f);
    const blocks = Math.ceil((statSync(file).size - (24 + readFileSync(file).readUInt32LE(12))) / BLOCK);
    const b = await index(f);
    assert.equal(b.idx.stats.fromCache, true);
    assert.deepEqual(b.idx.blockReads, { sync: 0, async: 0 }); // nothing of the data at load
    assert.equal(openOn(file), 1);
    // the stage: every listed path as an exe, in batches; versions right, no read on its thread
    const stage = new PackageStage(b.idx, { watch: false, readyWaitMs: 10000 });
    const want = [...good.idx.entries()].map(([p, o]) => [p, o.version] as const);
    const mk = (exe: string): Envelope => ({ kind: 'file', rec: { type: 'file', hdr: { flags: 0 }, mode: 0o100644, dir: '/', name: 'x' }, enrich: { process: { exe } } });
    const first = await stage.process([mk('/usr/bin/alpha')]);
    assert.deepEqual(first[0]!.enrich!['packages'], { procVersion: '1:2.3-4+deb12u1' });
    const afterOne = b.idx.blockReads!;
    assert.ok(afterOne.async >= 1 && afterOne.async <= 5 && afterOne.sync === 0, JSON.stringify(afterOne)); // a slot, its hash, an entry, a key (maybe across two blocks)
    for (let i = 0; i < want.length; i += 256) {
      const batch = want.slice(i, i + 256);
      const out = await stage.process(batch.map(([p]) => mk(p)));
      for (let k = 0; k < out.length; k++) assert.deepEqual(out[k]!.enrich!['packages'], { procVersion: batch[k]![1] }, batch[k]![0]);
    }
    assert.deepEqual(b.idx.blockReads, { sync: 0, async: blocks }); // each block once, all through the pool
    // a look-up that may block reads what it needs itself
    const c = await index(f);
    assert.equal(c.idx.lookup('/usr/share/beta/some/longer/directory/name/file-number-2999.txt')?.version, '0.9~rc1-2');
    assert.ok(c.idx.blockReads!.sync >= 1 && c.idx.blockReads!.async === 0, JSON.stringify(c.idx.blockReads));
    // the file stays open while its table is in use, and is let go when the index closes
    assert.equal(openOn(file), 2);
    stage.close();
    c.idx.close();
    assert.equal(openOn(file), 0);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('cache: a loaded table answers from the file it opened: renamed over, it keeps its bytes; cut short, the look-up that reaches the gap drops it and the index is built again', async () => {
  const f = fixture(3000);
  try {
    const { good, file, orig } = await kept(f);
    const want = [...good.idx.entries()].map(([p, o]) => [p, o.version] as const);
    // a new file renamed over the kept one (as a rebuild writes it): the open table is unmoved
    const a = await index(f);
    const tmp = `${file}.other`;
    writeFileSync(tmp, Buffer.alloc(orig.length, 0x55));
    renameSync(tmp, file);
    for (const [p, v] of want) assert.equal(a.idx.lookup(p)?.version, v, p);
    a.idx.close();
    writeFileSync(file, orig);
    // cut short in place after the load: the block past the end cannot be read
    const b = await index(f);
    truncateSync(file, orig.length - 70000);
    let unreadable = 0;
    for (const [p, v] of want) {
      if (!b.idx.ready) break;
      try {
        assert.equal(b.idx.lookup(p)?.version, v, p);
      } catch (e) {
        assert.ok(e instanceof CorruptIndexError, String(e));
        unreadable++;
      }
    }
    assert.equal(unreadable, 1);
    assert.match(b.logs[0] ?? '', new RegExp(`^package index cache ${file}: unreadable: the block at offset \\d+: \\d+ of \\d+ bytes \\(the file shrank\\); building the index$`));
    await b.idx.settled();
    assert.deepEqual(entries(b.idx), entries(good.idx));
    assert.deepEqual(readFileSync(file), orig); // written again
    b.idx.close();
    assert.equal(openOn(file), 0);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('cache: stale after a change to status, info/ or a symlinked directory — rebuilt, new versions, a log line', async () => {
  const f = fixture();
  try {
    await index(f);
    // status rewritten in place, same size (a version's last character)
    const st = path.join(f.dpkg, 'status');
    writeFileSync(st, readFileSync(st, 'utf8').replace('deb12u1', 'deb12u2'));
    let r = await index(f);
    assert.equal(r.idx.stats.fromCache, false);
    assert.equal(r.logs.length, 1);
    assert.match(r.logs[0]!, new RegExp(`: stale: ${st} changed \\(.+ → .+\\); building the index$`));
    assert.equal(r.idx.lookup('/usr/bin/alpha')?.version, '1:2.3-4+deb12u2');
    assert.equal((await index(f)).idx.stats.fromCache, true); // the rebuild wrote the new one
    // a list file added (a package installed, as dpkg does: a new file in info/)
    writeFileSync(path.join(f.dpkg, 'info/gamma.list'), '/usr/bin/gamma\n');
    r = await index(f);
    assert.match(r.logs[0] ?? '', new RegExp(`: stale: ${path.join(f.dpkg, 'info')} changed`));
    assert.equal((await index(f)).idx.stats.fromCache, true);
    // /bin pointed elsewhere: /bin/alpha is now /usr/sbin/alpha
    unlinkSync(path.join(f.root, 'bin'));
    symlinkSync('usr/sbin', path.join(f.root, 'bin'));
    r = await index(f);
    assert.match(r.logs[0] ?? '', /: stale: directory \/bin now resolves to \/usr\/sbin \(was \/usr\/bin\); building the index$/);
    assert.equal(r.idx.lookup('/usr/sbin/alpha')?.pkg, 'alpha');
    assert.equal(r.idx.lookup('/usr/bin/alpha'), undefined);
    // the status file gone: stale, and the index is empty rather than old
    rmSync(st);
    r = await index(f);
    assert.match(r.logs[0] ?? '', new RegExp(`: stale: ${st} changed \\(.+ → absent\\)`));
    assert.equal(r.idx.stats.paths, 0);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('cache: corrupt, truncated, foreign and writable-by-others files are rejected with the reason (corrupt: the offset)', async () => {
  const f = fixture(3000);
  try {
    const { good, file, orig, bad, block } = await kept(f);
    const expectLoad = async (bytes: Buffer, reason: RegExp): Promise<void> => {
      writeFileSync(file, bytes);
      const r = await index(f);
      assert.equal(r.idx.stats.fromCache, false, String(reason));
      assert.match(r.logs[0] ?? '', reason);
      assert.deepEqual(entries(r.idx), entries(good.idx)); // rebuilt: the right versions
      assert.deepEqual(readFileSync(file), orig); // and written again
    };
    // one byte in the third block of data: the table loads (blocks are checked when a look-up
    // first reaches them); the look-ups that reach it have no answer, the table is dropped and
    // built again, and no look-up ever answers from the corrupt bytes
    writeFileSync(file, bad);
    const lazy = await index(f);
    assert.equal(lazy.idx.stats.fromCache, true);
    assert.deepEqual(lazy.logs, []);
    let corrupt = 0;
    for (const [p, o] of good.idx.entries()) {
      if (!lazy.idx.ready) break;
      try {
        assert.equal(lazy.idx.lookup(p)?.version, o.version, p);
      } catch (e) {
        assert.ok(e instanceof CorruptIndexError, String(e));
        corrupt++;
      }
    }
    assert.equal(corrupt, 1);
    assert.equal(lazy.idx.ready, false); // dropped: its look-ups answer nothing until the rebuild
    assert.equal(lazy.idx.lookup('/usr/bin/alpha'), undefined);
    assert.deepEqual(lazy.logs, [`package index cache ${file}: corrupt: the block at offset ${block} (bytes ${block}–${block + BLOCK - 1}) fails its checksum; building the index`]);
    await lazy.idx.settled();
    assert.equal(lazy.idx.ready, true);
    assert.equal(lazy.idx.stats.fromCache, false);
    assert.deepEqual(entries(lazy.idx), entries(good.idx)); // rebuilt: the right versions
    assert.deepEqual(readFileSync(file), orig); // and written again
    // a walk over every entry checks every block
    writeFileSync(file, bad);
    const walked = await index(f);
    assert.throws(() => walked.idx.entries(), CorruptIndexError);
    await walked.idx.settled();
    assert.deepEqual(entries(walked.idx), entries(good.idx));
    // one byte of the header (an owner's version lives there)
    const h = Buffer.from(orig);
    const v = h.indexOf('deb12u1');
    h[v + 6] = '9'.charCodeAt(0);
    await expectLoad(h, /: offset 24: header \(\d+ bytes\) fails its checksum; building the index$/);
    await expectLoad(orig.subarray(0, orig.length - 4096), new RegExp(`: truncated: ${orig.length - 4096} bytes, the header says ${orig.length}; building the index$`));
    await expectLoad(orig.subarray(0, 10), /: truncated: 10 bytes, shorter than the 24-byte preamble/);
    await expectLoad(Buffer.from('#!/bin/sh\necho not a cache at all\n'), /: offset 0: not a falconet package index cache \(magic\)/);
    const other = Buffer.from(orig);
    other.writeUInt32LE(PACKAGE_INDEX_CACHE_FORMAT + 1, 8);
    await expectLoad(other, new RegExp(`: offset 8: format ${PACKAGE_INDEX_CACHE_FORMAT + 1}, this falconet writes ${PACKAGE_INDEX_CACHE_FORMAT}`));
    // writable by others: not trusted
    chmodSync(file, 0o666);
    const r = await index(f);
    assert.match(r.logs[0] ?? '', /: writable by others \(mode 666\); building the index$/);
    assert.equal(statSync(file).mode & 0o777, 0o644); // replaced by a fresh one
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('stage: a batch whose look-up reaches a corrupt block passes pending, never with a version from it; the rebuilt table answers', async () => {
  const f = fixture(3000);
  try {
    const { good, file, orig, bad } = await kept(f);
    writeFileSync(file, bad);
    const logs: string[] = [];
    const idx = new PackageIndex({ dpkgDir: f.dpkg, root: f.root, rpm: null, cacheDir: f.state, log: (t) => logs.push(t) });
    const stage = new PackageStage(idx, { watch: false, readyWaitMs: 10000 });
    // every listed path as a process's exe: some batch reaches the corrupt block
    const paths = [...good.idx.entries()].map(([p, o]) => [p, o.version] as const);
    const mk = (exe: string): Envelope => ({ kind: 'file', rec: { type: 'file', hdr: { flags: 0 }, mode: 0o100644, dir: '/', name: 'x' }, enrich: { process: { exe } } });
    let pending = 0;
    for (let i = 0; i < paths.length; i += 64) {
      const batch = paths.slice(i, i + 64);
      const out = await stage.process(batch.map(([p]) => mk(p)));
      for (let k = 0; k < out.length; k++) {
        const e = out[k]!.enrich!['packages'] as PackageEnrichment;
        if (e.indexPending) { pending++; continue; }
        assert.equal(e.procVersion, batch[k]![1], batch[k]![0]); // never another version
      }
    }
    assert.ok(pending >= 1, 'the corrupt block was never reached');
    assert.equal(logs.filter((l) => / corrupt: the block at offset \d+ .*; building the index$/.test(l)).length, 1, logs.join('\n'));
    await idx.settled();
    const [after] = await stage.process([mk('/usr/share/beta/some/longer/directory/name/file-number-2999.txt')]);
    assert.deepEqual(after!.enrich!['packages'], { procVersion: '0.9~rc1-2' });
    assert.deepEqual(readFileSync(file), orig); // written again
    stage.close();
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('fuzz: mutated cache bytes are rejected at load or by the look-ups that reach them, never answered from', async () => {
  const f = fixture(2000);
  try {
    const good = await index(f);
    const orig = readFileSync(good.idx.cacheFile!);
    const opts = { dpkgDir: f.dpkg, root: f.root, rpm: null };
    assert.equal(parseCache(Buffer.from(orig), opts).ok, true);
    const want = [...good.idx.entries()].map(([p, o]) => [p, o.version] as const);
    let rejected = 0;
    let caught = 0;
    const rng = new Rng(1507);
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(orig);
      let changed = false;
      const kind = rng.int(4);
      let bytes = b;
      if (kind === 0) { // a few flipped bytes anywhere
        for (let k = 1 + rng.int(4); k > 0; k--) { const o = rng.int(b.length); const x = 1 + rng.int(255); b[o]! ^= x; changed = true; }
      } else if (kind === 1) { // a byte of the preamble or header
        const o = rng.int(Math.min(b.length, 24 + 200)); b[o]! ^= 1 + rng.int(255); changed = true;
      } else if (kind === 2) { // truncated
        bytes = b.subarray(0, rng.int(b.length)); changed = true;
      } else { // a run of bytes overwritten with another part of the file
        const len = 1 + rng.int(64); const from = rng.int(b.length - len); const to = rng.int(b.length - len);
        const before = Buffer.from(b.subarray(to, to + len));
        b.copy(b, to, from, from + len);
        changed = !before.equals(b.subarray(to, to + len));
      }
      if (!changed) continue;
      const copy = Buffer.alloc(bytes.length); // own buffer at offset 0, as the loader reads it
      bytes.copy(copy);
      let r: ReturnType<typeof parseCache> | undefined;
      assert.doesNotThrow(() => { r = parseCache(copy, opts); }, `case ${i}`);
      if (!r!.ok) { rejected++; continue; }
      // it loaded (the change lies in data blocks, checked when first reached): every look-up
      // gives the intact table's answer or none at all (CorruptIndexError), never another
      const idx = r!.index;
      let threw = false;
      for (const [p, o] of want) {
        try {
          assert.equal(idx.lookup(p)?.version, o, `case ${i}: ${p}`);
        } catch (e) {
          assert.ok(e instanceof CorruptIndexError, `case ${i}: ${String(e)}`);
          threw = true;
        }
      }
      for (const p of ['/usr/bin/nothing', '/usr/share/beta/x', '/']) {
        try { assert.equal(idx.lookup(p), undefined, `case ${i}: ${p}`); } catch (e) { assert.ok(e instanceof CorruptIndexError, `case ${i}: ${String(e)}`); threw = true; }
      }
      // every key was looked up, so the change was reached unless it lies where no look-up reads
      // (an empty slot's hash, the padding after a section)
      if (threw) caught++;
      assert.throws(() => [...idx.entries()], CorruptIndexError, `case ${i}: a walk over every block`);
    }
    assert.ok(rejected > 100 && caught > 100, `rejected at load ${rejected}, caught by a look-up ${caught}`);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('fuzz: mutated cache files loaded from disk and read block by block through the pool: rejected, or every look-up the intact answer or none', async () => {
  const f = fixture(2000);
  try {
    const good = await index(f);
    const file = good.idx.cacheFile!;
    const orig = readFileSync(file);
    good.idx.close();
    const opts = { dpkgDir: f.dpkg, root: f.root, rpm: null };
    const loaded = (await index(f)).idx;
    const want = [...loaded.entries()].map(([p, o]) => [p, o.version] as const);
    loaded.close();
    const rng = new Rng(2711);
    let rejected = 0;
    let caught = 0;
    for (let i = 0; i < 60; i++) {
      const b = Buffer.from(orig);
      for (let k = 1 + rng.int(3); k > 0; k--) b[rng.int(b.length)]! ^= 1 + rng.int(255);
      writeFileSync(file, i % 5 === 4 ? b.subarray(0, rng.int(b.length)) : b);
      const r = await loadPackageIndexCache(file, opts);
      if (!r.ok) { rejected++; continue; }
      let threw = false;
      for (const [p, v] of [...want, ['/usr/bin/nothing', undefined] as const]) {
        try {
          await r.index.resident(p);
          assert.equal(r.index.lookup(p, false)?.version, v, `case ${i}: ${p}`);
        } catch (e) {
          assert.ok(e instanceof CorruptIndexError, `case ${i}: ${String(e)}`);
          threw = true;
        }
      }
      assert.equal(r.index.reads!.sync, 0, `case ${i}: every block came through the pool`);
      if (threw) caught++;
      r.index.close();
    }
    assert.ok(rejected > 5 && caught > 5, `rejected at load ${rejected}, caught by a look-up ${caught}`);
    assert.equal(openOn(file), 0);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('dpkg: versions from a loaded cache equal dpkg-query\'s', { skip: !hasDpkg && 'no dpkg' }, async () => {
  const state = mkdtempSync(path.join(tmpdir(), 'falconet-pkgstate-'));
  try {
    const built = new PackageIndex({ rpm: null, cacheDir: state });
    await built.start();
    const loaded = new PackageIndex({ rpm: null, cacheDir: state });
    await loaded.start();
    assert.equal(loaded.stats.fromCache, true, loaded.stats.cacheNote);
    assert.equal(loaded.stats.paths, built.stats.paths);
    for (const [p, pkg] of [['/usr/bin/curl', 'curl'], ['/usr/bin/ls', 'coreutils'], ['/usr/bin/bash', 'bash'], ['/usr/bin/dpkg-query', 'dpkg']] as const) {
      const o = loaded.lookup(p);
      assert.equal(o?.pkg, pkg, p);
      assert.equal(o?.version, execFileSync('dpkg-query', ['-W', `-f=\${Version}`, pkg], { encoding: 'utf8' }), p);
    }
    // every entry equal, in order
    const a = built.entries();
    for (const [p, o] of loaded.entries()) {
      const x = a.next().value as [string, { version: string; pkg: string }];
      assert.equal(p, x[0]);
      assert.equal(o.version, x[1].version);
      assert.equal(o.pkg, x[1].pkg);
    }
    assert.equal(a.next().done, true);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test('state dir: root, XDG_STATE_HOME, HOME; state_dir checked; "none" keeps nothing', () => {
  assert.equal(defaultStateDir({}, 0), '/var/lib/falconet');
  assert.equal(defaultStateDir({ XDG_STATE_HOME: '/srv/state', HOME: '/home/u' }, 1000), '/srv/state/falconet');
  assert.equal(defaultStateDir({ XDG_STATE_HOME: 'relative', HOME: '/home/u' }, 1000), '/home/u/.local/state/falconet');
  assert.equal(defaultStateDir({ HOME: '/home/u' }, 1000), '/home/u/.local/state/falconet');
  assert.throws(() => enrichmentStages({ versions: 'on', 'state_dir': 'rel/dir' }), /state_dir: expected an absolute directory or "none", got "rel\/dir"/);
  const none = enrichmentStages({ versions: 'on', 'state_dir': 'none' });
  const kept = enrichmentStages({ versions: 'on', 'state_dir': '/srv/x' });
  const idx = (s: ReturnType<typeof enrichmentStages>) => (s.find((x) => x.name === 'packages') as unknown as { index: PackageIndex }).index;
  assert.equal(idx(none).cacheFile, null);
  assert.equal(idx(kept).cacheFile, packageIndexCacheFile('/srv/x', { dpkgDir: '/var/lib/dpkg', root: '/', rpm: 'rpm' }));
  for (const s of [...none, ...kept]) void s.close?.();
  const cs = enrichmentStages({ checksums: 'on', state_dir: '/srv/x' }).find((x) => x.name === 'checksums') as unknown as { storeFile: string | null; close(): Promise<void> };
  assert.equal(cs.storeFile, '/srv/x/checksums.txt');
  void cs.close();
});
