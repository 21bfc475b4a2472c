// The package index build on the list files' bytes (src/enrich/package-db.ts): against an index
// built the old way — each list decoded as UTF-8, split into lines, realpath of each listed
// directory — on a fixture with what the byte path treats apart: non-ASCII and non-UTF-8 names,
// CRLF lines, a list without its last newline, a link to the root, a directory with many listed
// subdirectories (a link, a file and a missing name among them), lists longer than one scan
// (8,192 lines) and than one read (64 KiB), paths listed by two packages. And the dpkg status parser
// (which now keeps only the fields it uses) against the old one on fuzzed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PackageIndex, parseDpkgStatus } from '../../src/enrich/packages.js';
import { Rng } from '../policy/fuzz-lib.js';
import { referenceIndex } from './reference-index.js';

test('byte build = the old build: non-ASCII and non-UTF-8 names, CRLF, no last newline, link to /, many subdirectories, long lists', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-pkg-bytes-'));
  try {
    const root = path.join(dir, 'root');
    const R = (p: string) => path.join(root, p);
    for (const d of ['usr/bin', 'usr/lib/a/b', 'usr/lib/é', 'usr/share/many', 'opt']) mkdirSync(R(d), { recursive: true });
    const bad = Buffer.from('usr/lib/bad\xff', 'latin1');
    mkdirSync(Buffer.concat([Buffer.from(root + '/'), bad]));
    symlinkSync('usr/bin', R('bin'));
    symlinkSync('usr/lib', R('lib'));
    symlinkSync('é', R('usr/lib/elink'));
    symlinkSync(Buffer.from('bad\xff', 'latin1'), Buffer.concat([Buffer.from(root + '/usr/lib/badlink')]));
    symlinkSync('/', R('usr/toroot')); // the machine's root: outside the fixture
    // a directory with many listed subdirectories: one of them a link, one a file, one missing
    for (let i = 0; i < 30; i++) mkdirSync(R(`usr/share/many/d${i}`));
    for (let i = 0; i < 10; i++) mkdirSync(R(`usr/lib/s${i}`)); // /usr/lib with many subdirectories too, one of them not UTF-8

    symlinkSync('d3', R('usr/share/many/link'));
    writeFileSync(R('usr/share/many/file'), 'x');
    const dpkg = path.join(dir, 'dpkg');
    mkdirSync(path.join(dpkg, 'info'), { recursive: true });
    writeFileSync(path.join(dpkg, 'status'), [
      'Package: p', 'Status: install ok installed', 'Architecture: amd64', 'Version: 1', '',
      'Package: q', 'Status: install ok installed', 'Architecture: all', 'Version: 2:3', '',
      'Package: r', 'Status: install ok installed', 'Architecture: amd64', 'Multi-Arch: same', 'Version: 0~1', '',
      'Package: big', 'Status: install ok installed', 'Architecture: all', 'Version: 9', '',
    ].join('\n'));
    const p = Buffer.concat([Buffer.from([
      '/.', '/bin', '/bin/x', ...Array.from({ length: 10 }, (_, i) => `/usr/lib/s${i}/f`), '/lib/a/y', '/lib/a/b/z', '/usr/lib/elink/k', '/lib/é/k2', '/usr/toroot/etc', '/usr/toroot/bin/y',
      '/bin/crlf\r', '/bin/日本', '/usr/share/many/link/w', '/usr/share/many/file/w', '/usr/share/many/missing/w',
      ...Array.from({ length: 30 }, (_, i) => `/usr/share/many/d${i}/f`), '/lib/a/../a/dots', '/bin/.hidden', '//bin//x2', '/usr/bin/',
    ].join('\n') + '\n'), Buffer.from('/lib/bad\xff/k3\n/usr/lib/badlink/k4\n/usr/lib/bad\xff/k5\n', 'latin1'), Buffer.from('/bin/x')]); // no last newline
    writeFileSync(path.join(dpkg, 'info/p.list'), p);
    writeFileSync(path.join(dpkg, 'info/q.list'), '/usr/bin/x\n/usr/lib/a/y\n/bin/crlf\r\n/usr/share/many/d3/f\n/lib/a/b/z2');
    writeFileSync(path.join(dpkg, 'info/r:amd64.list'), '/lib/a/b/r1\n/usr/lib/a/b/r1\n\n\nnot a path\n/\n');
    // > 8,192 lines and > 64 KiB: several scans and reads, and links among them
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(i % 7 === 0 ? `/lib/a/b/long-${i}` : `/usr/share/many/d${i % 30}/some-longer-file-name-${i}.txt`);
    writeFileSync(path.join(dpkg, 'info/big.list'), lines.join('\n') + '\n');
    const idx = new PackageIndex({ dpkgDir: dpkg, root, rpm: null });
    await idx.start();
    const got = new Map([...idx.entries()].map(([k, v]) => [k, `${v.pkg}\t${v.version}`]));
    const want = referenceIndex(dpkg, root);
    assert.deepEqual(got, want);
    assert.equal(idx.stats.paths, want.size);
    // and the cases meant
    assert.equal(want.get('/usr/lib/é/k'), 'p\t1'); // through a link to a non-ASCII name
    assert.equal(want.get('/usr/share/many/d3/w'), 'p\t1'); // a link among many directories
    assert.equal(want.get('/usr/share/many/d3/f'), 'p\t1'); // the listed path of another package loses
    assert.equal(want.get('/usr/toroot/etc'), 'p\t1'); // through a link to the root (outside the fixture): the listed form too
    assert.equal(want.get('/usr/bin/crlf\r'), 'p\t1');
    assert.equal(want.get('/usr/lib/a/b/long-7'), 'big\t9');
    assert.equal(want.get('/usr/bin/x'), 'p\t1');
    assert.ok(want.size > 20_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The status parser before it kept only its four fields. */
function oldParseDpkgStatus(text: string, onError?: (msg: string) => void): Array<{ name: string; version: string; arch: string }> {
  const out: Array<{ name: string; version: string; arch: string }> = [];
  let cur: Record<string, string> = {};
  let lineNo = 0;
  let reported = false;
  const finish = () => {
    const name = cur['package'];
    const status = cur['status'] ?? '';
    if (name && cur['version'] !== undefined && /\binstalled$/.test(status.trim()) && !/config-files|half-installed|not-installed/.test(status)) {
      out.push({ name, version: cur['version'], arch: cur['architecture'] ?? '' });
    }
    cur = {};
  };
  for (const line of text.split('\n')) {
    lineNo++;
    if (line === '' || line === '\r') { finish(); continue; }
    if (line[0] === ' ' || line[0] === '\t') continue;
    const c = line.indexOf(':');
    if (c <= 0) {
      if (!reported && onError) { onError(`dpkg status line ${lineNo}: expected "Field: value"`); reported = true; }
      continue;
    }
    cur[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
  }
  finish();
  return out;
}

test('fuzz: the dpkg status parser returns what the old one did, with the same error', () => {
  const rng = new Rng(1515);
  const pieces = ['Package: a', 'package: b', 'PACKAGE:c', 'Pac\u212Aage: kelvin', 'Status: install ok installed', 'status:  install ok installed ', 'Status: deinstall ok config-files',
    'Status: install ok half-installed', 'Version: 1:2-3', 'VERSION:', 'Version: x\r', 'Architecture: amd64', 'architecture:all', 'Architectures: x', 'Packages: y',
    'Description: d', ' continued', '\tcontinued', ':', 'x', 'Status', '\r', '', 'Source: s', 'Depends: a, b'];
  for (let i = 0; i < 20_000; i++) {
    const lines: string[] = [];
    const n = rng.int(30);
    for (let j = 0; j < n; j++) lines.push(rng.pick(pieces));
    const text = lines.join(rng.int(5) === 0 ? '\r\n' : '\n');
    const e1: string[] = [];
    const e2: string[] = [];
    assert.deepEqual(parseDpkgStatus(text, (m) => e1.push(m)), oldParseDpkgStatus(text, (m) => e2.push(m)), `case ${i}: ${JSON.stringify(text)}`);
    assert.deepEqual(e1, e2, `case ${i}`);
  }
  // and the machine's own status file, when there is one
  let status: string | undefined;
  try { status = readFileSync('/var/lib/dpkg/status', 'utf8'); } catch { /* no dpkg */ }
  if (status !== undefined) assert.deepEqual(parseDpkgStatus(status), oldParseDpkgStatus(status));
});
