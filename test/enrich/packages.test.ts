// Package index (-v): real dpkg database against dpkg-query, a fixture database (usr-merge,
// Multi-Arch list names, removed packages, refresh on status replacement), rpm through a stand-in
// rpm binary (no rpm database on Debian), and a fuzzed status parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PackageIndex, PackageStage, parseDpkgStatus, type PackageEnrichment } from '../../src/enrich/packages.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { Rng } from '../policy/fuzz-lib.js';
import { referenceIndex } from './reference-index.js';

const hasDpkg = existsSync('/var/lib/dpkg/status') && spawnSync('dpkg-query', ['--version']).status === 0;

function dpkgVersion(pkg: string): string {
  return execFileSync('dpkg-query', ['-W', `-f=\${Version}`, pkg], { encoding: 'utf8' });
}

/** `dpkg-query -S` owners of each path; multi-owner and diverted paths are left out. */
function dpkgOwners(paths: string[]): Map<string, string> {
  const r = spawnSync('dpkg-query', ['-S', ...paths], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([^\s,:]+)(?::[a-z0-9]+)?: (\/.*)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

test('dpkg: curl, ls, bash and more have the versions dpkg-query reports, by canonical path', { skip: !hasDpkg && 'no dpkg' }, async () => {
  const idx = new PackageIndex({ rpm: null });
  await idx.start();
  assert.ok(idx.stats.packages > 10 && idx.stats.paths > 1000);
  // /usr/bin/ls and /usr/bin/bash are listed as /bin/ls and /bin/bash (usr-merge)
  for (const [p, pkg] of [['/usr/bin/curl', 'curl'], ['/usr/bin/ls', 'coreutils'], ['/usr/bin/bash', 'bash'], ['/usr/bin/dpkg-query', 'dpkg'], ['/usr/bin/md5sum', 'coreutils']] as const) {
    const o = idx.lookup(p);
    assert.ok(o, `${p} not indexed`);
    assert.equal(o.pkg, pkg, p);
    assert.equal(o.version, dpkgVersion(pkg), p);
  }
  // every regular file in /usr/bin that dpkg-query -S attributes to one package (under its
  // canonical or its /bin name) has that package's version
  const names = readdirSync('/usr/bin').sort();
  const canon = dpkgOwners(names.map((n) => `/usr/bin/${n}`));
  const merged = dpkgOwners(names.map((n) => `/bin/${n}`));
  let checked = 0;
  const versions = new Map<string, string>();
  for (const n of names) {
    const owner = canon.get(`/usr/bin/${n}`) ?? merged.get(`/bin/${n}`);
    if (!owner) continue;
    const o = idx.lookup(`/usr/bin/${n}`);
    assert.ok(o, `/usr/bin/${n} (${owner}) not indexed`);
    assert.equal(o.pkg, owner, `/usr/bin/${n}`);
    if (!versions.has(owner)) versions.set(owner, dpkgVersion(owner));
    assert.equal(o.version, versions.get(owner), `/usr/bin/${n}`);
    checked++;
  }
  assert.ok(checked > 50, `only ${checked} files compared`);
  // a path no package owns
  assert.equal(idx.lookup('/usr/bin/definitely-not-packaged-xyz'), undefined);
});

function fixture(): { dir: string; dpkg: string; root: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-pkg-'));
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  mkdirSync(path.join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
  symlinkSync('usr/bin', path.join(root, 'bin'));
  const dpkg = path.join(dir, 'dpkg');
  mkdirSync(path.join(dpkg, 'info'), { recursive: true });
  writeFileSync(path.join(dpkg, 'status'), [
    'Package: alpha', 'Status: install ok installed', 'Architecture: amd64', 'Version: 1:2.3-4+deb12u1', 'Description: a', ' long text', '',
    'Package: libbeta', 'Status: install ok installed', 'Architecture: amd64', 'Multi-Arch: same', 'Version: 0.9~rc1-2', '',
    'Package: gone', 'Status: deinstall ok config-files', 'Architecture: amd64', 'Version: 5', '',
  ].join('\n'));
  writeFileSync(path.join(dpkg, 'info/alpha.list'), '/.\n/bin\n/bin/alpha\n/usr/bin/alpha-helper\n');
  writeFileSync(path.join(dpkg, 'info/libbeta:amd64.list'), '/.\n/usr/lib/x86_64-linux-gnu/libbeta.so.1\n');
  writeFileSync(path.join(dpkg, 'info/gone.list'), '/usr/bin/gone\n');
  return { dir, dpkg, root };
}

test('fixture: usr-merge canonical paths, Multi-Arch list names, removed packages ignored', async () => {
  const f = fixture();
  try {
    const idx = new PackageIndex({ dpkgDir: f.dpkg, root: f.root, rpm: null });
    await idx.start();
    assert.deepEqual(idx.lookup('/usr/bin/alpha'), { pkg: 'alpha', version: '1:2.3-4+deb12u1', arch: 'amd64', source: 'dpkg' });
    assert.equal(idx.lookup('/bin/alpha')?.pkg, 'alpha'); // the listed form is kept too
    assert.equal(idx.lookup('/usr/bin/alpha-helper')?.version, '1:2.3-4+deb12u1');
    assert.equal(idx.lookup('/usr/lib/x86_64-linux-gnu/libbeta.so.1')?.version, '0.9~rc1-2');
    assert.equal(idx.lookup('/usr/bin/gone'), undefined);
    assert.equal(idx.stats.packages, 2);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('fixture: replacing the status file (as dpkg does, by rename) rebuilds the index', async () => {
  const f = fixture();
  const idx = new PackageIndex({ dpkgDir: f.dpkg, root: f.root, rpm: null, debounceMs: 50 });
  try {
    await idx.start();
    idx.watch();
    assert.equal(idx.lookup('/usr/bin/alpha')?.version, '1:2.3-4+deb12u1');
    const tmp = path.join(f.dpkg, 'status-new');
    writeFileSync(tmp, 'Package: alpha\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.4-1\n');
    renameSync(tmp, path.join(f.dpkg, 'status'));
    const deadline = Date.now() + 20000;
    while (idx.lookup('/usr/bin/alpha')?.version !== '1:2.4-1' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(idx.lookup('/usr/bin/alpha')?.version, '1:2.4-1');
    assert.equal(idx.lookup('/usr/lib/x86_64-linux-gnu/libbeta.so.1'), undefined); // libbeta is gone from status
    assert.ok(idx.stats.builds >= 2);
  } finally {
    idx.close();
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('rpm: files from `rpm -qa --qf` (stand-in rpm binary printing the query format)', async () => {
  const f = fixture();
  try {
    const rpm = path.join(f.dir, 'rpm');
    // the stand-in checks it got the query we send, then prints what rpm would
    writeFileSync(rpm, `#!/bin/sh\n[ "$1" = -qa ] && [ "$2" = --qf ] || exit 3\nprintf 'gamma\\t2:1.0-3.el9\\tx86_64\\t/bin/gamma\\ngamma\\t2:1.0-3.el9\\tx86_64\\t/usr/share/doc/gamma\\n'\n`);
    chmodSync(rpm, 0o755);
    const idx = new PackageIndex({ dpkgDir: path.join(f.dir, 'none'), root: f.root, rpm });
    await idx.start();
    assert.deepEqual(idx.lookup('/usr/bin/gamma'), { pkg: 'gamma', version: '2:1.0-3.el9', arch: 'x86_64', source: 'rpm' });
    assert.equal(idx.stats.rpmNote, '');
    const none = new PackageIndex({ dpkgDir: path.join(f.dir, 'none'), root: f.root, rpm: path.join(f.dir, 'no-such-rpm') });
    await none.start();
    assert.match(none.stats.rpmNote, /no rpm database/);
    assert.equal(none.stats.paths, 0);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('stage: ProcVersion from the process exe, FileVersion only for executable files, pending before the index', async () => {
  const f = fixture();
  try {
    const idx = new PackageIndex({ dpkgDir: f.dpkg, root: f.root, rpm: null });
    const stage = new PackageStage(idx, { watch: false, readyWaitMs: 10000 });
    const mk = (exe: string, mode: number, dir: string, name: string): Envelope => ({
      kind: 'file',
      rec: { type: 'file', hdr: { flags: 0 }, mode, dir, name },
      enrich: { process: { exe } },
    });
    const out = await stage.process([
      mk('/usr/bin/alpha', 0o100755, '/usr/lib/x86_64-linux-gnu/', 'libbeta.so.1'),
      mk('/usr/bin/other', 0o100644, '/usr/lib/x86_64-linux-gnu/', 'libbeta.so.1'),
    ]);
    assert.deepEqual(out[0]!.enrich!['packages'], { procVersion: '1:2.3-4+deb12u1', fileVersion: '0.9~rc1-2' } satisfies PackageEnrichment);
    assert.deepEqual(out[1]!.enrich!['packages'], {}); // not executable, exe not packaged
    // per-exe answers are shared between records, and a rebuild with a new version replaces them
    const again = await stage.process([mk('/usr/bin/alpha', 0o100644, '/', 'x'), mk('/usr/bin/alpha', 0o100644, '/', 'y')]);
    assert.deepEqual(again[0]!.enrich!['packages'], { procVersion: '1:2.3-4+deb12u1' });
    assert.equal(again[1]!.enrich!['packages'], again[0]!.enrich!['packages']);
    writeFileSync(path.join(f.dpkg, 'status'), 'Package: alpha\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.4-1\n');
    await idx.rebuild();
    const [upgraded] = await stage.process([mk('/usr/bin/alpha', 0o100644, '/', 'x')]);
    assert.deepEqual(upgraded!.enrich!['packages'], { procVersion: '1:2.4-1' });
    // a stage whose index cannot finish within the wait passes records on, marked
    const slow = new PackageStage(new PackageIndex({ rpm: null }), { watch: false, readyWaitMs: 0 });
    const [e] = await slow.process([mk('/usr/bin/alpha', 0o100755, '/', 'x')]);
    assert.deepEqual(e!.enrich!['packages'], { indexPending: true });
    assert.equal(slow.recordsBeforeReady, 1);
    await slow.index.start();
    const [e2] = await slow.process([mk('/usr/bin/curl', 0o100644, '/', 'x')]);
    if (hasDpkg) assert.equal((e2!.enrich!['packages'] as PackageEnrichment).procVersion, dpkgVersion('curl'));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('stage: the per-inode answer for executable files follows the record (same inode, other dev, directory or name; other exe)', async () => {
  const f = fixture();
  try {
    const idx = new PackageIndex({ dpkgDir: f.dpkg, root: f.root, rpm: null });
    const stage = new PackageStage(idx, { watch: false, readyWaitMs: 10000 });
    const mk = (exe: string, ino: number, dev: number, dir: string, name: string): Envelope => ({
      kind: 'file',
      rec: { type: 'file', hdr: { flags: 0 }, mode: 0o100755, ino, dev, dir, name },
      enrich: { process: { exe } },
    });
    const pk = (e: Envelope) => e.enrich!['packages'] as PackageEnrichment;
    const out = await stage.process([
      mk('/usr/bin/alpha', 7, 1, '/usr/lib/x86_64-linux-gnu/', 'libbeta.so.1'),
      mk('/usr/bin/alpha', 7, 1, '/usr/lib/x86_64-linux-gnu/', 'libbeta.so.1'), // the cached answer
      mk('/usr/bin/alpha', 7, 1, '/usr/bin/', 'alpha-helper'), // same inode, other name
      mk('/usr/bin/alpha', 7, 2, '/usr/bin/', 'alpha-helper'), // other device
      mk('/usr/bin/alpha', 7, 2, '/usr/bin/', 'unowned'),
      mk('/usr/bin/unowned', 7, 2, '/usr/bin/', 'unowned'), // other exe, same file
      mk('/usr/bin/unowned', 8, 2, '/usr/lib/x86_64-linux-gnu/', 'libbeta.so.1'),
    ]);
    assert.deepEqual(out.map(pk), [
      { procVersion: '1:2.3-4+deb12u1', fileVersion: '0.9~rc1-2' },
      { procVersion: '1:2.3-4+deb12u1', fileVersion: '0.9~rc1-2' },
      { procVersion: '1:2.3-4+deb12u1', fileVersion: '1:2.3-4+deb12u1' },
      { procVersion: '1:2.3-4+deb12u1', fileVersion: '1:2.3-4+deb12u1' },
      { procVersion: '1:2.3-4+deb12u1' },
      {},
      { fileVersion: '0.9~rc1-2' },
    ] satisfies PackageEnrichment[]);
    assert.equal(pk(out[0]!), pk(out[1]!)); // one frozen answer for the repeated file
    assert.ok(Object.isFrozen(pk(out[2]!)));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('rpm: a binary that does not exist is not spawned (the note says so)', async () => {
  const f = fixture();
  try {
    const idx = new PackageIndex({ dpkgDir: f.dpkg, root: f.root, rpm: 'falconet-no-such-rpm-binary' });
    await idx.start();
    assert.equal(idx.stats.rpmNote, 'no rpm database (falconet-no-such-rpm-binary not found)');
    assert.equal(idx.lookup('/usr/bin/alpha')?.pkg, 'alpha');
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('fuzz: the dpkg status parser never throws and only returns complete installed stanzas', () => {
  const rng = new Rng(15);
  const pieces = ['Package: a', 'Status: install ok installed', 'Version: 1', 'Architecture: all', '\n', '\n\n', ' cont', ':', 'x', '\u0000', 'Status: deinstall ok config-files', '\r\n', 'Version:', 'Package:'];
  for (let i = 0; i < 5000; i++) {
    let s = '';
    const n = rng.int(20);
    for (let j = 0; j < n; j++) s += rng.pick(pieces) + (rng.int(2) ? '\n' : '');
    let errors = 0;
    const pkgs = parseDpkgStatus(s, () => errors++);
    for (const p of pkgs) {
      assert.ok(p.name.length > 0, `case ${i}`);
      assert.equal(typeof p.version, 'string');
    }
    assert.ok(errors <= 1);
  }
});

function indexOf(idx: PackageIndex): Map<string, string> {
  return new Map([...idx.entries()].map(([k, v]) => [k, `${v.pkg}\t${v.version}`]));
}

test('fixture: canonical paths equal realpath\'s (symlink chains, links to files, dangling links, loops, files as directories, dot names, doubled slashes)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-pkg-canon-'));
  try {
    const root = path.join(dir, 'root');
    for (const d of ['usr/bin', 'usr/lib/a/b', 'usr/share/.hid', 'opt']) mkdirSync(path.join(root, d), { recursive: true });
    symlinkSync('usr/bin', path.join(root, 'bin'));
    symlinkSync('usr/lib', path.join(root, 'lib'));
    symlinkSync('a', path.join(root, 'usr/lib/alias'));
    symlinkSync('../../lib/alias/b', path.join(root, 'usr/lib/chain')); // through the /lib link
    symlinkSync(path.join(root, 'usr/bin'), path.join(root, 'opt/abs')); // absolute, inside the root
    symlinkSync('nowhere', path.join(root, 'dangling'));
    symlinkSync('loop2', path.join(root, 'loop1'));
    symlinkSync('loop1', path.join(root, 'loop2'));
    writeFileSync(path.join(root, 'usr/bin/file'), 'x');
    symlinkSync('usr/bin/file', path.join(root, 'flink'));
    const dpkg = path.join(dir, 'dpkg');
    mkdirSync(path.join(dpkg, 'info'), { recursive: true });
    writeFileSync(path.join(dpkg, 'status'), 'Package: p\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\nPackage: q\nStatus: install ok installed\nArchitecture: all\nVersion: 2\n');
    const lines = ['/.', '/bin', '/bin/x', '/lib/alias/y', '/lib/alias/b/z', '/usr/lib/chain/w', '/opt/abs/v', '/dangling/q', '/dangling/d/q',
      '/loop1/w', '/usr/bin/file/w', '/usr/bin/file/sub/w', '/flink/w', '/flink/sub/w', '/missing/dir/w', '/bin/missing/w',
      '//bin//x2', '/bin/./x3', '/lib/alias/../alias/x4', '/usr/share/.hid/x5', '/bin/.x6', '/usr/bin/', '/lib/alias/b/'];
    writeFileSync(path.join(dpkg, 'info/p.list'), lines.join('\n') + '\n');
    writeFileSync(path.join(dpkg, 'info/q.list'), '/usr/bin/x\n/usr/lib/a/y\n/usr/lib/a/b/z2\n');
    const idx = new PackageIndex({ dpkgDir: dpkg, root, rpm: null });
    await idx.start();
    const want = referenceIndex(dpkg, root);
    assert.deepEqual(indexOf(idx), want);
    // and the cases meant: a chain resolved, a file accepted as the last directory only
    assert.equal(want.get('/usr/lib/a/b/w'), 'p\t1');
    assert.equal(want.get('/usr/bin/file/w'), 'p\t1');
    assert.equal(want.get('/flink/sub/w'), 'p\t1');
    assert.equal(want.has('/usr/bin/file/sub/w'), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dpkg: the index equals one built with realpath on every listed directory', { skip: !hasDpkg && 'no dpkg' }, async (t) => {
  const idx = new PackageIndex({ rpm: null });
  await idx.start();
  const want = referenceIndex('/var/lib/dpkg', '/');
  if (idx.stats.packages !== new Set([...want.values()]).size) { t.skip('dpkg changed the database in between'); return; }
  assert.deepEqual(indexOf(idx), want);
  assert.ok(want.size > 1000);
});
