// Parity with the real sysprint (sf-apis py3/utils/sysprint, run offline): shared/tools/
// sysprint-compare.sh runs it and `falconet print` on every shared trace (JSON and table) and
// compares them record by record and key by key; then the prototype fixtures are made again
// with that sysprint and must equal the committed ones. Needs a snapshot of
// github:sysflow-telemetry/sf-apis (a bare git dir: SF_APIS_MIRROR, default
// /work/.mirror/sysflow-telemetry+sf-apis/repo); without one the test skips and says why. The
// other print tests need no snapshot: they hold sysprint's output as fixtures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePrototypeFixtures } from './make-prototype-fixtures.js';
import { FIXTURES, REPO, SHARED, TRACES } from './helpers.js';

const DEFAULT_MIRROR = '/work/.mirror/sysflow-telemetry+sf-apis/repo';
const MIRROR = process.env.SF_APIS_MIRROR || DEFAULT_MIRROR;
const SCRIPT = join(SHARED, 'tools/sysprint-compare.sh');

function skipReason(): string | null {
  if (!existsSync(SCRIPT)) return `no ${SCRIPT}`;
  if (!existsSync(join(MIRROR, 'HEAD'))) {
    return process.env.SF_APIS_MIRROR
      ? `SF_APIS_MIRROR=${MIRROR} is not a git snapshot of sf-apis`
      : `no sf-apis snapshot (SF_APIS_MIRROR unset, ${DEFAULT_MIRROR} absent; fetch github:sysflow-telemetry/sf-apis)`;
  }
  return null;
}

/** Avro traces the script compares by default (it picks files by the "Obj\x01" magic). */
function sharedTraceCount(): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (readFileSync(p).subarray(0, 4).toString('latin1') === 'Obj\x01') n++;
    }
  };
  walk(TRACES);
  return n;
}

describe('sysprint parity (real sysprint, offline)', () => {
  const reason = skipReason();
  const sp = reason === null ? mkdtempSync(join(tmpdir(), 'sysprint-')) : '';
  let setupProblem: string | null = null;
  it('sysprint-compare.sh: every shared trace identical in JSON and table', { skip: reason ?? false, timeout: 40 * 60_000 }, (t) => {
    const r = spawnSync('bash', [SCRIPT, '-j', '1'], {
      cwd: REPO,
      env: { ...process.env, SF_APIS_MIRROR: MIRROR, FALCONET: join(REPO, 'bin/falconet'), SYSPRINT_DIR: sp },
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (r.status === 2 && /missing Debian packages/.test(r.stderr)) {
      // Not root and sysprint's Python packages absent: the script cannot set sysprint up here.
      setupProblem = r.stderr.trim();
      t.skip(setupProblem);
      return;
    }
    const n = sharedTraceCount();
    assert.ok(n >= 30, `only ${n} shared traces`);
    assert.equal(r.status, 0, `${r.stdout.split('\n').filter((l) => !/: \d+ records, \d+ identical, 0 differ$|^  types: /.test(l)).join('\n')}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`\\n${n}/${n} traces identical\\n$`));
    assert.match(r.stdout, /\ndifference classes \(records, traces, first example\):\n {2}none\n/);
  });

  it('real prototype traces of the snapshot (P4, P7): identical to sysprint with the prototype patch', { skip: reason ?? false, timeout: 20 * 60_000 }, (t) => {
    if (setupProblem !== null) {
      t.skip(setupProblem);
      return;
    }
    // The 2018/2019 "play" captures in sf-apis pynb/data/objectstore/data/play/ (5 P4, 5 P7).
    const git = (args: string[]) => spawnSync('git', ['--git-dir', MIRROR, ...args], { maxBuffer: 64 << 20 });
    const dir = 'pynb/data/objectstore/data/play';
    const names = git(['ls-tree', '--name-only', `HEAD:${dir}`]).stdout.toString().split('\n').filter((n) => n !== '');
    const play = join(sp, 'play');
    mkdirSync(play, { recursive: true });
    let n = 0;
    for (const name of names) {
      const blob = git(['show', `HEAD:${dir}/${name}`]).stdout;
      if (blob.subarray(0, 4).toString('latin1') !== 'Obj\x01') continue;
      writeFileSync(join(play, name), blob);
      n++;
    }
    if (n === 0) {
      t.skip(`the snapshot has no traces under ${dir}`);
      return;
    }
    const r = spawnSync('bash', [SCRIPT, '-j', '1', '--compat', play], {
      cwd: REPO,
      env: { ...process.env, SF_APIS_MIRROR: MIRROR, FALCONET: join(REPO, 'bin/falconet'), SYSPRINT_DIR: sp, WORK_DIR: join(sp, 'play-out') },
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    // Upstream sysprint crashes on every one of them (exit 1: not identical to it) ...
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`\\n0/${n} traces identical\\n$`));
    // ... and sysprint with the patch that fills in state/opFlags prints exactly what we print.
    assert.match(r.stdout, new RegExp(`on the ${n} traces where sysprint crashed: ${n}/${n} identical\\n`), r.stdout.slice(-3000));
  });

  it('the prototype fixtures are what this sysprint prints', { skip: reason ?? false, timeout: 10 * 60_000 }, (t) => {
    if (setupProblem !== null) {
      rmSync(sp, { recursive: true, force: true });
      t.skip(setupProblem);
      return;
    }
    assert.ok(existsSync(join(sp, 'src/py3/utils/sysprint')), 'sysprint-compare.sh set sysprint up');
    const out = join(sp, 'fixtures');
    try {
      makePrototypeFixtures(sp, out);
      const want = readdirSync(join(FIXTURES, 'prototypes')).sort();
      assert.deepEqual(readdirSync(out).sort(), want);
      for (const f of want) assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(FIXTURES, 'prototypes', f), 'utf8'), f);
    } finally {
      rmSync(sp, { recursive: true, force: true });
    }
  });
});
