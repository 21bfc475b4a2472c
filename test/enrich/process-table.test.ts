// Process table from synthetic records and a fixture /proc: seeding, fork inheritance, exec,
// chdir, exit grace period, pid reuse, ancestry bound, and no /proc read after the seed
// (counted by the table's ProcFs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessStage, ProcessTable, ProcFs, parseProcStat, processDetailsFrom, type ProcessEnrichment } from '../../src/enrich/process-table.js';
import type { ProcEventRecord } from '../../src/model/process-record.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { Rng } from '../policy/fuzz-lib.js';

function fakeProc(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'falconet-proc-'));
  const mk = (pid: number, ppid: number, exe: string, argv: string[], cwd: string, tty: number, session: number, loginuid: number) => {
    const d = path.join(root, String(pid));
    mkdirSync(d);
    // comm with spaces and parentheses: the parser must use the LAST ')'
    writeFileSync(path.join(d, 'stat'), `${pid} (we ird) (x)) S ${ppid} ${pid} ${session} ${tty} -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid} 1 2 3\n`);
    writeFileSync(path.join(d, 'status'), `Name:\tx\nUid:\t1000\t1001\t1001\t1001\nGid:\t2000\t2001\t2001\t2001\n`);
    writeFileSync(path.join(d, 'cmdline'), argv.join('\0') + '\0');
    writeFileSync(path.join(d, 'loginuid'), String(loginuid));
    writeFileSync(path.join(d, 'cgroup'), '0::/system.slice/x.service\n');
    symlinkSync(exe, path.join(d, 'exe'));
    symlinkSync(cwd, path.join(d, 'cwd'));
  };
  mk(1, 0, '/sbin/init', ['/sbin/init'], '/', 0, 1, 4294967295);
  mk(100, 1, '/usr/bin/bash', ['-bash'], '/home/u', 34816, 100, 1000);
  // a kernel thread (PF_KTHREAD in flags): only stat exists here, so any other read would fail
  mkdirSync(path.join(root, '2'));
  writeFileSync(path.join(root, '2', 'stat'), `2 (kthreadd) S 0 0 0 0 -1 ${0x208040} 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0 3\n`);
  mkdirSync(path.join(root, 'self')); // non-numeric entries are ignored
  return root;
}

let clock = 0;
function rec(event: ProcEventRecord['event'], pid: number, ppid: number, extra: Partial<ProcEventRecord> = {}, procStart = 0n): Envelope {
  const r = {
    type: 'proc', event, hdr: { flags: 0, pid, tid: pid, ppid, uid: 1000, gid: 1000, tsFirst: 0n, ts: BigInt(++clock), procStart, comm: 'x', exe: 'x', parentExe: 'y' },
    truncated: false, incomplete: false, syscall: 0, ret: 0n, parentStart: 0n, cgroupId: 0n, euid: 1000, egid: 1000, args: [], strs: [], ...extra,
  } as ProcEventRecord;
  return { kind: 'process', rec: r };
}
const fork = (parent: number, pp: number, child: number, start: bigint) => rec('FORK', parent, pp, { fork: { childPid: child, childTid: child, childStart: start, thread: false, cloneFlags: 0n, failed: false } });
const exec = (pid: number, ppid: number, exe: string, argv: string[], start: bigint) => rec('EXEC', pid, ppid, { exec: { exePath: exe, filename: exe, argv, argc: argv.length, oldTid: pid } }, start);
const chdir = (pid: number, ppid: number, dir: string) => rec('CHDIR', pid, ppid, { file: { path: dir, fd: -100 } });
const exit = (pid: number, ppid: number) => rec('EXIT', pid, ppid, { exit: { code: 0, status: 0, signal: 0, coreDump: false, threadExit: false } });

test('seed from /proc, then a 3-level tree of short-lived processes from records only', async () => {
  const root = fakeProc();
  try {
    let now = 0;
    const procfs = new ProcFs(root);
    const stage = new ProcessStage({ procfs, graceMs: 1000, now: () => now });
    await stage.start();
    assert.equal(stage.table.stats.seeded, 3);
    // a kernel thread is described by its stat alone: root's ids, no exe, the root cgroup
    const kt = stage.table.get(2)!;
    assert.deepEqual({ exe: kt.exe, argv: kt.argv, cwd: kt.cwd, uid: kt.uid, loginUid: kt.loginUid, cgroup: kt.cgroup, ppid: kt.ppid, startNs: kt.startNs },
      { exe: '', argv: [], cwd: '/', uid: 0, loginUid: 4294967295, cgroup: '0::/\n', ppid: 0, startNs: 70_000_000n });
    // 1 directory listing + 7 reads per process (stat, status, exe, cmdline, cwd, loginuid,
    // cgroup) + 1 for the kernel thread
    assert.equal(procfs.reads, 1 + 2 * 7 + 1);
    const bash = stage.table.get(100)!;
    assert.deepEqual({ exe: bash.exe, argv: bash.argv, cwd: bash.cwd, tty: bash.tty, loginUid: bash.loginUid, sessionId: bash.sessionId, uid: bash.uid, gid: bash.gid, ppid: bash.ppid, startNs: bash.startNs },
      { exe: '/usr/bin/bash', argv: ['-bash'], cwd: '/home/u', tty: 34816, loginUid: 1000, sessionId: 100, uid: 1001, gid: 2001, ppid: 1, startNs: 11_000_000_000n });
    const readsAfterSeed = procfs.reads;

    // bash → sh (cd /t/a) → sh (cd b) → echo, all gone before anyone could read /proc
    const batch = [
      fork(100, 1, 200, 5n), exec(200, 100, '/usr/bin/dash', ['sh', '-c', 'level1'], 5n), chdir(200, 100, '/t/a'),
      fork(200, 100, 201, 6n), exec(201, 200, '/usr/bin/dash', ['sh', '-c', 'level2'], 6n), chdir(201, 200, '/t/a/b'),
      fork(201, 200, 202, 7n), exec(202, 201, '/usr/bin/echo', ['echo', 'hi', 'there'], 7n),
      { kind: 'file', rec: { type: 'file', hdr: { pid: 202, ppid: 201 } } } as Envelope,
      exit(202, 201), exit(201, 200), exit(200, 100),
      { kind: 'socket', rec: { type: 'sock', hdr: { pid: 202, ppid: 201 } } } as Envelope, // after its exit
    ];
    await stage.process(batch);
    const p = (i: number) => batch[i]!.enrich!['process'] as ProcessEnrichment;
    // the EXEC record carries the new image; the fork record's subject is the parent
    assert.equal(p(0).pid, 100);
    assert.deepEqual([p(1).exe, p(1).argv, p(1).cwd], ['/usr/bin/dash', ['sh', '-c', 'level1'], '/home/u']);
    assert.equal(p(2).cwd, '/t/a');
    const leaf = p(8);
    assert.deepEqual([leaf.pid, leaf.exe, leaf.argv, leaf.cwd, leaf.tty, leaf.loginUid, leaf.sessionId, leaf.startNs], [202, '/usr/bin/echo', ['echo', 'hi', 'there'], '/t/a/b', 34816, 1000, 100, 7n]);
    assert.deepEqual(leaf.ancestors.map((a) => [a.pid, a.exe, a.argv.join(' '), a.cwd]), [
      [201, '/usr/bin/dash', 'sh -c level2', '/t/a/b'], [200, '/usr/bin/dash', 'sh -c level1', '/t/a'], [100, '/usr/bin/bash', '-bash', '/home/u'], [1, '/sbin/init', '/sbin/init', '/'],
    ]);
    // records after the exit still see the process (grace period), marked exited
    assert.equal(p(12).exe, '/usr/bin/echo');
    assert.equal(p(12).exited, true);
    // the SysFlow provider reads the table
    assert.deepEqual(processDetailsFrom(stage.table)(202), { exe: '/usr/bin/echo', args: ['hi', 'there'], cwd: '/t/a/b', tty: true });
    assert.equal(procfs.reads, readsAfterSeed, 'the record path read /proc');
    // after the grace period the exited processes are gone, the seeded ones stay
    now = 1001;
    await stage.process([]);
    assert.deepEqual([200, 201, 202, 100, 1].map((x) => stage.table.get(x) !== undefined), [false, false, false, true, true]);
    assert.equal(procfs.reads, readsAfterSeed);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('pid reuse within the grace period, unknown pids, ancestry bound, entry bound', () => {
  let now = 0;
  const t = new ProcessTable({ procfs: new ProcFs('/nonexistent'), graceMs: 1000, now: () => now, ancestryBound: 3, maxEntries: 50 });
  t.apply(exec(10, 1, '/bin/a', ['a'], 1n).rec as ProcEventRecord);
  t.apply(exit(10, 1).rec as ProcEventRecord);
  // pid 10 reused by a new process before the old one's grace ended
  t.apply(fork(1, 0, 10, 9n).rec as ProcEventRecord);
  t.apply(exec(10, 1, '/bin/b', ['b'], 9n).rec as ProcEventRecord);
  now = 2000;
  t.sweep();
  assert.equal(t.get(10)?.exe, '/bin/b', 'the sweep removed the reused pid');
  // a chain of 6: the bound cuts the ancestry at 3
  for (let i = 20; i < 26; i++) t.apply(fork(i, i - 1, i + 1, BigInt(i)).rec as ProcEventRecord);
  assert.deepEqual(t.ancestors(26).map((e) => e.pid), [25, 24, 23]);
  for (let i = 100; i < 200; i++) t.apply(exec(i, 1, '/bin/x', ['x'], BigInt(i)).rec as ProcEventRecord);
  assert.ok(t.size <= 50);
});

test('fuzz: /proc stat parser and record application never throw', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 3000; i++) {
    let s = '';
    for (let j = rng.int(40); j > 0; j--) s += rng.pick(['1', ' ', '(', ')', 'S', '-1', 'x', '99999999999999999999', '\n']);
    const r = parseProcStat(s);
    if (r) assert.equal(typeof r.startTicks, 'bigint');
  }
  const t = new ProcessTable({ procfs: new ProcFs('/nonexistent') });
  const events: ProcEventRecord['event'][] = ['FORK', 'EXEC', 'EXIT', 'CHDIR', 'KILL', 'MMAP'];
  for (let i = 0; i < 3000; i++) {
    const pid = rng.int(20);
    const r = rec(rng.pick(events), pid, rng.int(20), {}).rec as ProcEventRecord; // views missing
    t.apply(r);
    t.ancestors(pid);
  }
});

test('fuzz: a cached enrichment equals the entry and its ancestors as they are now, after any change to the table', () => {
  const rng = new Rng(2615);
  let now = 0;
  const table = new ProcessTable({ procfs: new ProcFs('/nonexistent'), graceMs: 50, now: () => now, ancestryBound: 4 });
  const pids = Array.from({ length: 12 }, (_, i) => 10 + i);
  let reused = 0;
  let checks = 0;
  const last = new Map<number, ProcessEnrichment>();
  for (let step = 0; step < 20_000; step++) {
    now += rng.int(3);
    const pid = rng.pick(pids);
    const ppid = rng.int(8) === 0 ? rng.pick([0, 1, pid]) : rng.pick(pids); // roots, self-parents and cycles too
    const k = rng.int(6);
    const env = k === 0 ? fork(pid, ppid, rng.pick(pids), BigInt(rng.int(100)))
      : k === 1 ? exec(pid, ppid, `/bin/e${rng.int(4)}`, ['e'], BigInt(rng.int(100)))
        : k === 2 ? chdir(pid, ppid, `/d${rng.int(4)}`)
          : k === 3 ? exit(pid, ppid)
            : rec('CHDIR', pid, ppid, { ret: -2n }); // a failed chdir: only the header (ppid, uid) counts
    table.apply(env.rec as ProcEventRecord);
    if (rng.int(10) === 0) table.sweep();
    for (let j = 0; j < 3; j++) {
      const q = rng.pick(pids);
      const before = table.enrichment(q);
      const e = table.get(q);
      if (!e) { assert.equal(before, undefined); continue; }
      assert.deepEqual(before, { ...e, ancestors: table.ancestors(q) }, `step ${step} pid ${q}`);
      // the same object as last time for this pid, although the table changed in between
      if (last.get(q) === before) reused++;
      last.set(q, before!);
      checks++;
    }
  }
  // other processes' changes leave a cached enrichment in use
  assert.ok(checks > 30_000 && reused > 3000, `${checks} checks, ${reused} served from cache across changes`);
});
