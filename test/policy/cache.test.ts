// Per-process / per-file result caching must never change results: evaluate many predicates
// over views in a scrambled order (records with and without process, file, container; the
// same entity shared by several records) and compare with fresh, isolated evaluations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilterExpression } from '../../src/policy/index.js';
import { EntityTable } from '../../src/sysflow/entities.js';
import type { SfObject } from '../../src/sysflow/types.js';
import type { SfRecordView } from '../../src/sysflow/view.js';
import { Rng } from './fuzz-lib.js';

const EXPRS = [
  'sf.proc.name = bash',
  'sf.proc.name = bash and sf.file.path startswith /etc',
  'fd.name pmatch (/etc, 127.0.0.1)',
  'sf.file.path = /etc/passwd or sf.proc.aname = sshd',
  'not sf.container.id exists and sf.type = FF',
  'sf.opflags = OPEN and sf.proc.exe contains bin and not sf.file.name in (hosts)',
  'sf.proc.aname[1] = sshd or (sf.net.dport = 443 and sf.proc.name = curl)',
  'sf.pproc.name = sshd and fd.typechar = f',
];

function buildViews(): SfRecordView[] {
  const t = new EntityTable();
  const oid = (p: number) => ({ hpid: BigInt(p), createTS: BigInt(p * 10) });
  const proc = (pid: number, exe: string, parent: number | null, cid: string | null): SfObject => ({
    type: 'P',
    rec: { state: 'CREATED', oid: oid(pid), poid: parent === null ? null : oid(parent), ts: 1n, exe, exeArgs: '', uid: 0, userName: 'root', gid: 0, groupName: 'root', tty: false, containerId: cid, entry: false, cwd: '/', env: [] },
  });
  const file = (n: number, path: string): SfObject => ({ type: 'F', rec: { state: 'CREATED', oid: n.toString(16).padStart(40, '0'), ts: 1n, restype: 102, path, containerId: null } });
  const objs: SfObject[] = [
    { type: 'H', rec: { version: 5n, exporter: 'n', ip: '', filename: 'f' } },
    { type: 'C', rec: { id: 'c1', name: 'web', image: 'i', imageid: 'ii', type: 'CT_DOCKER', privileged: false, podId: null } },
    proc(1, '/usr/sbin/sshd', null, null), proc(2, '/bin/bash', 1, null), proc(3, '/usr/bin/curl', 2, 'c1'), proc(4, '/bin/bash', 3, 'c1'),
    file(1, '/etc/passwd'), file(2, '/etc/hosts'), file(3, '/tmp/x'),
  ];
  for (const o of objs) t.push(o);
  const views: SfRecordView[] = [];
  const ff = (pid: number, f: number): SfObject => ({ type: 'FF', rec: { procOID: oid(pid), ts: 5n, tid: BigInt(pid), opFlags: 128 | 1024, openFlags: 1, endTs: 6n, fileOID: f.toString(16).padStart(40, '0'), fd: 3, numRRecvOps: 0n, numWSendOps: 0n, numRRecvBytes: 0n, numWSendBytes: 0n } });
  const pe = (pid: number): SfObject => ({ type: 'PE', rec: { procOID: oid(pid), ts: 5n, tid: BigInt(pid), opFlags: 2, args: [], ret: 0 } });
  const nf = (pid: number): SfObject => ({ type: 'NF', rec: { procOID: oid(pid), ts: 5n, tid: BigInt(pid), opFlags: 64, endTs: 6n, sip: 16777343, sport: 1, dip: 16777343, dport: 443, proto: 6, fd: 4, numRRecvOps: 0n, numWSendOps: 0n, numRRecvBytes: 0n, numWSendBytes: 0n } });
  for (const pid of [2, 3, 4, 99 /* unknown process */]) {
    for (const f of [1, 2, 3, 77 /* unknown file */]) views.push(t.push(ff(pid, f))!);
    views.push(t.push(pe(pid))!, t.push(nf(pid))!);
  }
  return views;
}

test('cached evaluation equals isolated evaluation in any order', () => {
  const views = buildViews();
  const expected = EXPRS.map((e) => views.map((v) => compileFilterExpression(e)(v)));
  const preds = EXPRS.map((e) => compileFilterExpression(e));
  const rng = new Rng(99);
  for (let round = 0; round < 200; round++) {
    const vi = rng.int(views.length);
    const ei = rng.int(EXPRS.length);
    if (rng.int(20) === 0) preds[ei] = compileFilterExpression(EXPRS[ei]!); // new slots mid-stream
    assert.equal(preds[ei]!(views[vi]!), expected[ei]![vi], `${EXPRS[ei]} on view ${vi}`);
  }
  // And a sanity check that the expectations are not trivial.
  assert.ok(expected.every((row) => row.includes(true) && row.includes(false)));
});
