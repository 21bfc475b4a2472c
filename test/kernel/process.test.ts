// Kernel e2e for the process monitor: a compiled C program runs a known sequence of process,
// credential, file and network calls; every call must be reported once, in order, with its
// arguments and return value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { captureRecords, skipUnlessBpf, type JsonRecord } from './harness.js';
import { buildC, SEQUENCE_C } from './process-workloads.js';

const skip = skipUnlessBpf();

interface Truth {
  pid: number; a: number; b: number; e: number; c: number; d: number; ptrace: number; port: number; cport: number;
  port6: number; cport6: number; ls6: number; cs6: number; as6: number;
  dup: number; mf: number; nsfd: number; pipe: [number, number]; ls: number; cs: number; as: number; us: number; uc: number;
  sp: [number, number]; anon: string; fmap: string;
}

function runBin(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

/** Event* keys of a record (what the assertions compare). */
function ev(r: JsonRecord): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith('Event')));
}

async function runSequence(extra: string[] = []): Promise<{ t: Truth; recs: JsonRecord[]; dir: string; all: JsonRecord[] }> {
  const bin = buildC('seq', SEQUENCE_C, ['-pthread']);
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'fn-proc-')));
  writeFileSync(path.join(dir, 's.sh'), '#!/bin/sh\nexit 5\n');
  chmodSync(path.join(dir, 's.sh'), 0o755);
  let out = '';
  const cap = await captureRecords(async () => { out = await runBin(bin, [dir]); }, ['-m', 'process', ...extra]);
  const t = JSON.parse(out) as Truth;
  const pids = new Set([t.pid, t.a, t.b, t.e, t.c, t.d]);
  return { t, dir, recs: cap.records.filter((r) => pids.has(r.ProcPID as number)), all: cap.records };
}

test('process sequence: every call reported once, in order, with arguments and return values', { skip }, async () => {
  const { t, recs, dir } = await runSequence();
  const main = recs.filter((r) => r.ProcTID === t.pid);
  const start = main.findIndex((r) => r.EventType === 'KILL' && r.EventTargetPID === t.pid);
  let end = -1;
  main.forEach((r, i) => { if (r.EventType === 'KILL' && r.EventTargetPID === t.pid) end = i; });
  assert.ok(start >= 0 && end > start, `markers not found: ${JSON.stringify(main.map((r) => r.EventType))}`);
  const seq = main.slice(start, end + 1);
  const lo = { EventFamily: 'AF_INET', EventLocalIP: '127.0.0.1' };
  const expected: [string, Record<string, unknown>][] = [
    ['KILL', { EventSyscall: 'kill', EventReturn: 0, EventTargetPID: t.pid, EventSignal: '0' }],
    ['CHDIR', { EventReturn: 0, EventPath: dir }],
    ['FORK', { EventReturn: t.a, EventChildPID: t.a, EventChildTID: t.a, EventThread: false }],
    ['FORK', { EventReturn: t.b, EventChildPID: t.b, EventThread: false }],
    ['FORK', { EventReturn: t.e, EventChildPID: t.e }],
    ['FORK', { EventReturn: t.c, EventChildPID: t.c }],
    ['KILL', { EventReturn: 0, EventTargetPID: t.c, EventSignal: 'SIGTERM' }],
    ['FORK', { EventReturn: t.d, EventChildPID: t.d }],
    ['PTRACE', { EventSyscall: 'ptrace', EventReturn: 0, EventPtraceRequest: 'PTRACE_SEIZE', EventTargetPID: t.d }],
    ['KILL', { EventReturn: 0, EventTargetPID: t.d, EventSignal: 'SIGKILL' }],
    ['PTRACE', { EventReturn: -3, EventError: 'ESRCH', EventPtraceRequest: 'PTRACE_ATTACH', EventTargetPID: 0x3ffffff0 }],
    ['SETRESGID', { EventReturn: 0, EventGIDRequested: { Real: -1, Effective: 65534, Saved: -1 }, EventGIDOld: { Real: 0, Effective: 0, Saved: 0 }, EventGIDNew: { Real: 0, Effective: 65534, Saved: 0 } }],
    ['SETRESGID', { EventReturn: 0, EventGIDOld: { Real: 0, Effective: 65534, Saved: 0 }, EventGIDNew: { Real: 0, Effective: 0, Saved: 0 } }],
    ['SETREGID', { EventReturn: 0, EventGIDRequested: { Real: 0, Effective: 0 } }],
    ['SETGID', { EventReturn: 0, EventGIDRequested: { Real: 0 } }],
    ['SETRESUID', { EventReturn: 0, EventUIDRequested: { Real: -1, Effective: 65534, Saved: -1 }, EventUIDOld: { Real: 0, Effective: 0, Saved: 0 }, EventUIDNew: { Real: 0, Effective: 65534, Saved: 0 } }],
    ['SETRESUID', { EventReturn: 0, EventUIDOld: { Real: 0, Effective: 65534, Saved: 0 }, EventUIDNew: { Real: 0, Effective: 0, Saved: 0 } }],
    ['SETREUID', { EventReturn: 0, EventUIDRequested: { Real: 0, Effective: 0 } }],
    ['SETUID', { EventReturn: 0, EventUIDRequested: { Real: 0 }, EventUIDNew: { Real: 0, Effective: 0, Saved: 0 } }],
    ['MMAP', { EventReturn: Number(BigInt(t.anon)), EventAddress: t.anon, EventLength: 4096, EventProtection: 'r-x', EventAnonymous: true }],
    ['MMAP', { EventReturn: Number(BigInt(t.fmap)), EventProtection: 'r-x', EventFilePath: `${dir}/m.bin`, EventOffset: 0, EventAnonymous: false }],
    ['MPROTECT', { EventReturn: 0, EventAddress: t.anon, EventProtection: 'rwx', EventAnonymous: true }],
    ['MKDIR', { EventSyscall: 'mkdir', EventReturn: 0, EventPath: `${dir}/d`, EventMode: '0750' }],
    ['SYMLINK', { EventReturn: 0, EventTarget: 'target-x', EventNewPath: `${dir}/d/sl` }],
    ['LINK', { EventReturn: 0, EventPath: `${dir}/m.bin`, EventNewPath: `${dir}/d/hl` }],
    ['RENAME', { EventReturn: 0, EventPath: `${dir}/d/hl`, EventNewPath: `${dir}/d/hl2` }],
    ['CHMOD', { EventReturn: 0, EventPath: `${dir}/m.bin`, EventMode: '0640' }],
    ['CHOWN', { EventReturn: 0, EventPath: `${dir}/m.bin`, EventUID: 65534, EventGID: 65534 }],
    ['TRUNCATE', { EventReturn: 0, EventPath: `${dir}/m.bin`, EventLength: 100 }],
    ['UNLINK', { EventReturn: -2, EventError: 'ENOENT', EventPath: `${dir}/no-such-file` }],
    ['UNLINK', { EventReturn: 0, EventPath: `${dir}/d/hl2` }],
    ['UNLINK', { EventReturn: 0, EventPath: `${dir}/d/sl` }],
    ['RMDIR', { EventReturn: 0, EventPath: `${dir}/d` }],
    ['MKDIR', { EventSyscall: 'mkdirat', EventReturn: 0, EventPath: `${dir}/d2`, EventMode: '0700' }],
    ['RENAME', { EventSyscall: 'renameat', EventReturn: 0, EventPath: `${dir}/d2`, EventNewPath: `${dir}/d3` }],
    ['RMDIR', { EventSyscall: 'unlinkat', EventReturn: 0, EventPath: `${dir}/d3`, EventFlags: '0x200' }],
    ['DUP', { EventReturn: t.dup, EventFD: t.mf, EventPath: `${dir}/m.bin` }],
    ['PIPE', { EventReturn: 0, EventFDs: t.pipe }],
    ['BIND', { EventReturn: 0, EventFD: t.ls, ...lo, EventLocalPort: 0 }],
    ['LISTEN', { EventReturn: 0, EventFD: t.ls, ...lo, EventLocalPort: t.port, EventBacklog: 7 }],
    ['CONNECT', { EventReturn: 0, EventFD: t.cs, ...lo, EventRemoteIP: '127.0.0.1', EventRemotePort: t.port, EventLocalPort: t.cport }],
    ['ACCEPT', { EventReturn: t.as, EventFD: t.ls, ...lo, EventRemoteIP: '127.0.0.1', EventRemotePort: t.cport, EventLocalPort: t.port }],
    ['GETPEERNAME', { EventReturn: 0, EventFD: t.as, EventRemotePort: t.cport, EventLocalPort: t.port }],
    ['BIND', { EventReturn: 0, EventFD: t.ls6, EventFamily: 'AF_INET6', EventLocalIP: '::1', EventLocalPort: 0 }],
    ['LISTEN', { EventReturn: 0, EventFD: t.ls6, EventLocalIP: '::1', EventLocalPort: t.port6, EventBacklog: 3 }],
    ['CONNECT', { EventReturn: 0, EventFD: t.cs6, EventFamily: 'AF_INET6', EventRemoteIP: '::1', EventRemotePort: t.port6, EventLocalIP: '::1', EventLocalPort: t.cport6 }],
    ['ACCEPT', { EventSyscall: 'accept4', EventReturn: t.as6, EventFD: t.ls6, EventRemoteIP: '::1', EventRemotePort: t.cport6, EventLocalPort: t.port6 }],
    ['BIND', { EventReturn: 0, EventFD: t.us, EventFamily: 'AF_UNIX', EventLocalPath: `${dir}/u.sock` }],
    ['CONNECT', { EventReturn: 0, EventFD: t.uc, EventFamily: 'AF_UNIX', EventRemotePath: `${dir}/u.sock` }],
    ['SOCKETPAIR', { EventReturn: 0, EventFamily: 'AF_UNIX', EventSocketType: 1, EventFDs: t.sp }],
    ['UNSHARE', { EventSyscall: 'unshare', EventReturn: 0, EventNamespaces: ['CLONE_NEWUTS'] }],
    ['SETNS', { EventReturn: 0, EventFD: t.nsfd, EventNamespaces: ['CLONE_NEWUTS'] }],
    ['CHMOD', { EventSyscall: 'fchmod', EventReturn: 0, EventFD: t.mf, EventPath: `${dir}/m.bin`, EventMode: '0600' }],
    ['EXEC', { EventSyscall: 'execve', EventReturn: -2, EventError: 'ENOENT', EventFilename: '/nonexistent/prog', EventExePath: '/nonexistent/prog' }],
    ['FORK', { EventChildPID: t.pid, EventThread: true }],
    ['KILL', { EventReturn: 0, EventTargetPID: t.pid, EventSignal: '0' }],
  ];
  assert.deepEqual(seq.map((r) => r.EventType), expected.map(([type]) => type), 'main thread event order');
  expected.forEach(([type, want], i) => {
    const got = ev(seq[i]!);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, `#${i} ${type}.${k}: ${JSON.stringify(got)}`);
  });
  assert.match(String(seq.find((r) => r.EventType === 'SETNS')!.EventFilePath), /^uts:\[\d+\]$/);
  for (const r of seq) {
    assert.equal(r.InfoMonitor, 'process');
    assert.equal(r.ProcPID, t.pid);
    assert.equal(r.Proc, 'seq');
  }

  // the thread: created by clone3 with CLONE_THREAD, exits as a thread (not the last one)
  const threadTid = seq.find((r) => r.EventType === 'FORK' && r.EventThread === true)!.EventChildTID as number;
  const thr = recs.filter((r) => r.ProcTID === threadTid);
  assert.deepEqual(thr.map((r) => [r.EventType, r.EventThread]), [['EXIT', true]]);
  assert.equal(thr[0]!.ProcPID, t.pid);

  // children, each exactly its own events
  const of = (pid: number): Record<string, unknown>[] =>
    recs.filter((r) => r.ProcPID === pid && r.EventType !== 'MMAP').map((r) => ({ type: r.EventType, ...ev(r) }));
  const a = of(t.a);
  assert.deepEqual(a.map((r) => r.type), ['EXEC', 'EXIT'], JSON.stringify(a));
  assert.equal(a[0]!.EventExePath, '/usr/bin/true');
  assert.equal(a[0]!.EventFilename, '/bin/true');
  assert.deepEqual(a[0]!.EventArgv, ['true', '--falconet-e2e', 'x y']);
  assert.equal(a[0]!.EventArgc, 3);
  assert.equal(a[0]!.EventReturn, 0);
  assert.equal(a[1]!.EventExitStatus, 0);
  assert.deepEqual(of(t.b).map((r) => [r.type, r.EventExitStatus, r.EventExitSignal, r.EventThread]), [['EXIT', 3, '', false]]);
  // a child's first record comes after its parent's FORK (the fork hook runs before the child can)
  for (const child of [t.a, t.b, t.e, t.c, t.d]) {
    const forkAt = recs.findIndex((r) => r.EventType === 'FORK' && r.EventChildPID === child);
    const firstAt = recs.findIndex((r) => r.ProcPID === child);
    assert.ok(forkAt >= 0 && forkAt < firstAt, `FORK of ${child} at ${forkAt}, its first record at ${firstAt}`);
  }
  // a #! script: the kernel runs the interpreter; filename is the script, argv the interpreter's
  const e = of(t.e);
  assert.deepEqual(e.map((r) => r.type), ['EXEC', 'EXIT'], JSON.stringify(e));
  assert.deepEqual([e[0]!.EventFilename, e[0]!.EventInterpreter, e[0]!.EventArgv, e[1]!.EventExitStatus],
    [`${dir}/s.sh`, '/bin/sh', ['/bin/sh', `${dir}/s.sh`, 'arg1'], 5]);
  assert.equal(e[0]!.EventExePath, realpathSync('/bin/sh'));
  assert.deepEqual(of(t.c).map((r) => [r.type, r.EventExitSignal]), [['EXIT', 'SIGTERM']]);
  assert.deepEqual(of(t.d).map((r) => [r.type, r.EventExitSignal]), [['EXIT', 'SIGKILL']]);
  // the process itself exits last, as its last thread
  const last = main.at(-1)!;
  assert.equal(last.EventType, 'EXIT');
  assert.equal(last.EventThread, false);
  assert.equal(last.EventExitStatus, 0);
});

test('--proc-events keeps only the chosen event types', { skip }, async () => {
  const { t, recs } = await runSequence(['--proc-events', 'exec,exit,file,-unlink']);
  const types = new Set(recs.map((r) => r.EventType));
  for (const ty of types) assert.ok(['EXEC', 'EXIT', 'MKDIR', 'RMDIR', 'LINK', 'SYMLINK', 'RENAME', 'CHMOD', 'CHOWN', 'TRUNCATE', 'DUP', 'CHDIR'].includes(ty as string), `unexpected ${String(ty)}`);
  const main = recs.filter((r) => r.ProcTID === t.pid && r.EventType !== 'EXEC' && r.EventType !== 'EXIT' && r.EventType !== 'DUP');
  assert.deepEqual(main.map((r) => r.EventType), ['CHDIR', 'MKDIR', 'SYMLINK', 'LINK', 'RENAME', 'CHMOD', 'CHOWN', 'TRUNCATE', 'RMDIR', 'MKDIR', 'RENAME', 'RMDIR', 'CHMOD']);
  assert.equal(recs.filter((r) => r.EventType === 'EXIT' && r.EventThread === false).length, 6, 'six process exits');
  assert.equal(recs.filter((r) => r.ProcPID === t.a && r.EventType === 'EXEC').length, 1);
});
