// The package index build (-v) in JavaScript against the floor of a native build
// (bench/micro/pkg-index-floor.c), alternated in one run. Each side runs in a process of its own
// and reports the CPU (user + sys) of the build alone: for JavaScript, readPackageDb into a
// PackedPathIndexBuilder on one thread after its modules are loaded (V8's compiler and GC
// threads included, as process.cpuUsage counts them); for C, getrusage at its end. No root.
// Usage: node dist/bench/micro/pkg-index-build.js [rounds=3] [dpkg dir=/var/lib/dpkg]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPackageDb } from '../../src/enrich/package-db.js';
import { PackedPathIndexBuilder } from '../../src/enrich/packed-path-index.js';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--js-child') {
  const c0 = process.cpuUsage();
  const b = new PackedPathIndexBuilder();
  readPackageDb({ dpkgDir: process.argv[3]!, root: '/', rpm: null }, b);
  const c = process.cpuUsage(c0);
  process.stdout.write(`${b.size} ${(c.user + c.system) / 1000}\n`);
} else {
  const rounds = Number(process.argv[2] ?? 3);
  const dpkg = process.argv[3] ?? '/var/lib/dpkg';
  const repo = path.resolve(path.dirname(self), '../../..');
  const dir = mkdtempSync(path.join(tmpdir(), 'pkgidx-'));
  try {
    const floor = path.join(dir, 'pkg-index-floor');
    execFileSync('cc', ['-O2', '-o', floor, path.join(repo, 'bench/micro/pkg-index-floor.c')]);
    const js: number[] = [];
    const c: number[] = [];
    let paths = '';
    for (let i = 0; i < rounds; i++) {
      const [n, ms] = execFileSync(process.execPath, [self, '--js-child', dpkg], { encoding: 'utf8' }).trim().split(' ');
      paths = n!;
      js.push(Number(ms));
      const out = execFileSync(floor, [dpkg], { encoding: 'utf8' });
      const m = /user ([\d.]+) ms, sys ([\d.]+) ms/.exec(out);
      if (!m) throw new Error(`pkg-index-floor: unexpected output: ${out}`);
      c.push(Number(m[1]) + Number(m[2]));
    }
    const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const fmt = (a: number[]): string => a.map((x) => x.toFixed(0)).join(' / ');
    console.log(`package index build, ${rounds} alternated rounds (${dpkg}; ${paths} paths in the JavaScript index)`);
    console.log(`JavaScript (readPackageDb, one process, all threads): ${fmt(js)} ms of CPU, median ${median(js).toFixed(0)}`);
    console.log(`C floor (pkg-index-floor, no exactness work):         ${fmt(c)} ms of CPU, median ${median(c).toFixed(0)}`);
    console.log(`JavaScript / C floor: ${(median(js) / median(c)).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
