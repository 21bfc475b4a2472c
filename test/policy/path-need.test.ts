// Needs the compiler derives (path-need.ts, opsNeedOf): a condition true on a record must meet its
// path need and its opflags need, or the live prefilter would drop a record that alerts. Random
// conditions over path, directory, name, new path, opflags and process fields, in both dialects,
// are checked against random FF/FE/PE records; a few fixed cases pin what the needs are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilterExpression } from '../../src/policy/index.js';
import { opsNeedOf, pathNeedOf } from '../../src/policy/compiler.js';
import { PathNeedMatcher } from '../../src/policy/path-need.js';
import type { SfRecordView } from '../../src/sysflow/view.js';
import { Rng } from './fuzz-lib.js';
import { makeView } from './helpers.js';

const PATHS = ['/etc/shadow', '/etc/passwd', '/root/.bashrc', '/root', '/', '/x', '/var/lib/dpkg/status', '/dev/evil', '/dev', '/usr/bin/ls',
  '/home/a/.ssh/authorized_keys', '/tmp/a b', ' /etc/pad ', '/etc/cron.d/job', 'relative/name', 'name', '', '/a/b/c/d.e', '/etc//x', '/étc/ü'];
const FRAGS = ['/etc', '/etc/', 'shadow', '/', '', '.bashrc', '/root', 'x', '/dev', 'dev', '/usr/bin', 'keys', 'a b', 'pad', '/etc/cron.d', 'name', 'é', '/a/b/c'];
const FIELDS = ['sf.file.path', 'sf.file.directory', 'sf.file.name', 'sf.file.newpath', 'fd.directory', 'fd.filename', 'fd.name', 'sf.proc.name'];
const OPS = ['=', '!=', 'in', 'startswith', 'endswith', 'contains', 'pmatch', 'icontains', 'glob'];
const OPFLAGS = ['EXEC', 'OPEN', 'WRITE_SEND', 'READ_RECV', 'CLOSE', 'SETNS', 'RENAME', 'UNLINK', 'MKDIR'];

const quote = (s: string) => `'${s}'`;

function leaf(r: Rng): string {
  if (r.int(4) === 0) {
    const op = r.pick(['=', 'in', 'intersects', '!=']);
    const vals = [r.pick(OPFLAGS), r.pick(OPFLAGS)];
    return op === 'in' || op === 'intersects' ? `${r.pick(['sf.opflags', 'evt.type'])} ${op} (${vals.join(', ')})` : `sf.opflags ${op} ${vals[0]}`;
  }
  const op = r.pick(OPS);
  const f = r.pick(FIELDS);
  if (op === 'in' || op === 'pmatch') return `${f} ${op} (${[r.pick(FRAGS), r.pick(FRAGS), r.pick(PATHS)].map(quote).join(', ')})`;
  return `${f} ${op} ${quote(r.int(2) ? r.pick(FRAGS) : r.pick(PATHS))}`;
}

function cond(r: Rng, depth: number): string {
  const k = depth > 3 ? 0 : r.int(5);
  if (k <= 1) return leaf(r);
  if (k === 2) return `not (${cond(r, depth + 1)})`;
  return `(${cond(r, depth + 1)}) ${k === 3 ? 'and' : 'or'} (${cond(r, depth + 1)})`;
}

function record(r: Rng): { v: SfRecordView; path: string | null; newPath: string | null; ops: number } {
  const type = r.pick(['FF', 'FE', 'PE'] as const);
  const path = type === 'PE' ? null : r.pick(PATHS);
  const newPath = type === 'FE' && r.int(2) ? r.pick(PATHS) : null;
  const ops = 1 << r.int(20);
  const v = makeView({ type, opFlags: ops, procs: [{ pid: 10, exe: r.pick(['/bin/bash', '/usr/sbin/nginx', '/etc/shadow']) }], ...(path !== null ? { file: { path } } : {}), ...(newPath !== null ? { newFile: { path: newPath } } : {}) });
  return { v, path, newPath, ops };
}

test('path and opflags needs are implied by the conditions they come from (random conditions and records)', () => {
  let checked = 0;
  let pruned = 0;
  for (const dialect of ['sysflow', 'falco'] as const) {
    const r = new Rng(dialect === 'sysflow' ? 11 : 12);
    for (let i = 0; i < 1500; i++) {
      const c = cond(r, 0);
      const p = compileFilterExpression(c, { dialect, lenient: true });
      const need = pathNeedOf(p);
      const ops = opsNeedOf(p);
      const m = need === null ? null : new PathNeedMatcher(need);
      for (let j = 0; j < 12; j++) {
        const rec = record(r);
        const meetsPath = m === null || m.matches(rec.path, rec.newPath);
        const meetsOps = ops === null || (rec.ops & ops) !== 0;
        if (!meetsPath || !meetsOps) pruned++;
        if (p(rec.v)) {
          checked++;
          assert.ok(meetsPath, `${dialect} #${i}: '${c}' is true for path ${JSON.stringify(rec.path)} / new ${JSON.stringify(rec.newPath)} but its need ${JSON.stringify(need)} is not met`);
          assert.ok(meetsOps, `${dialect} #${i}: '${c}' is true with opflags ${rec.ops} but needs mask ${ops}`);
        }
      }
    }
  }
  // the property is exercised both ways: many records match, many are pruned by a need
  assert.ok(checked > 2000, `true cases: ${checked}`);
  assert.ok(pruned > 5000, `pruned cases: ${pruned}`);
});

test('needs of typical rule shapes', () => {
  const need = (c: string, dialect: 'sysflow' | 'falco' = 'sysflow') => pathNeedOf(compileFilterExpression(c, { dialect }));
  assert.deepEqual(need("sf.file.path pmatch ('/etc/shadow', '/etc/passwd') and sf.opflags = WRITE_SEND"), [{ part: 'path', test: 'sub', values: ['/etc/shadow', '/etc/passwd'] }]);
  assert.deepEqual(need("sf.file.path pmatch ('/etc')", 'falco'), [{ part: 'path', test: 'prefix', values: ['/etc'] }]);
  assert.deepEqual(need("sf.file.directory = /dev or sf.file.name endswith keys"), [{ part: 'directory', test: 'eq', values: ['/dev'] }, { part: 'name', test: 'suffix', values: ['keys'] }]);
  assert.equal(need("not sf.file.path startswith /etc"), null, 'a negation needs nothing');
  assert.equal(need("sf.file.path startswith /etc or sf.proc.name = bash"), null, 'an or with a branch that needs nothing');
  assert.equal(need("sf.file.path icontains etc"), null, 'case-insensitive operators need nothing');
  assert.equal(opsNeedOf(compileFilterExpression('sf.opflags = SETNS and sf.proc.name = x')), 1 << 4);
  assert.equal(opsNeedOf(compileFilterExpression('sf.opflags != SETNS')), null);
  const m = new PathNeedMatcher([{ part: 'path', test: 'sub', values: ['a.b', 'x+y'] }, { part: 'directory', test: 'eq', values: ['/'] }]);
  assert.equal(m.matches('/q/a.b', null), true);
  assert.equal(m.matches('/q/axb', null), false, 'values are literal text, not patterns');
  assert.equal(m.matches('/top', null), true, 'the directory of /top is /');
  assert.equal(m.matches(null, null), false);
});
