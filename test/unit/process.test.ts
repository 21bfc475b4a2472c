// Process monitor decoder and formatter on synthetic records (no root needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecords } from '../../src/sensor/decode.js';
import {
  PE_MAX, PF, PROC_EVENTS, PROC_RECORD, PROC_RECORD_FIXED, PROC_THROTTLE_RECORD, REC_HDR, RecType,
} from '../../src/sensor/layout.js';
import { kflowdProcessRecord } from '../../src/format/kflowd-process.js';
import { PROCESS_LEGEND } from '../../src/format/legend-process.js';
import { legendText } from '../../src/format/legend.js';
import { toMinJson, type JObject } from '../../src/format/json.js';
import type { KflowdFacts } from '../../src/format/context.js';
import { parseProcEvents, type ProcEventRecord, type ProcRecord, type ProcThrottleRecord } from '../../src/model/process-record.js';
import { FrameError } from '../../src/sensor/frames.js';

const P = PROC_RECORD.fields;
const T = PROC_THROTTLE_RECORD.fields;
const H = REC_HDR.fields;
const off = (f: Record<string, readonly [number, number]>, k: string) => f[k]![0];

interface Spec {
  event: string;
  ret?: bigint;
  syscall?: number;
  flags?: number;
  args?: bigint[];
  strs?: (string | Buffer)[];
  idOld?: number[];
  idNew?: number[];
  addr?: { family: number; port?: number; addr?: number[] };
  addr2?: { family: number; port?: number; addr?: number[] };
}

function header(b: Buffer, size: number, flags = 0): void {
  b.writeUInt16LE(RecType.Proc, 0);
  b.writeUInt16LE(size, 2);
  b.writeUInt32LE(flags, off(H, 'flags'));
  b.writeUInt32LE(4242, off(H, 'pid'));
  b.writeUInt32LE(4243, off(H, 'tid'));
  b.writeUInt32LE(1, off(H, 'ppid'));
  b.writeBigUInt64LE(5_000_000_000n, off(H, 'ts_first'));
  b.writeBigUInt64LE(5_000_000_000n, off(H, 'ts'));
  b.writeBigUInt64LE(4_000_000_000n, off(H, 'proc_start'));
  b.write('work', off(H, 'comm'));
  b.write('work', off(H, 'exe'));
  b.write('bash', off(H, 'parent_exe'));
}

function sockaddr(b: Buffer, at: number, a: { family: number; port?: number; addr?: number[] }): void {
  b.writeUInt16LE(a.family, at);
  b.writeUInt16LE(a.port ?? 0, at + 2);
  Buffer.from(a.addr ?? []).copy(b, at + 8);
}

function record(s: Spec): Buffer {
  const strs = (s.strs ?? []).map((x) => (typeof x === 'string' ? Buffer.from(x) : x));
  const size = PROC_RECORD_FIXED + strs.reduce((n, x) => n + x.length, 0);
  const b = Buffer.alloc((size + 7) & ~7);
  header(b, size, s.flags);
  b.writeUInt16LE(PROC_EVENTS.indexOf(s.event as (typeof PROC_EVENTS)[number]), off(P, 'event'));
  b.writeUInt32LE(s.syscall ?? 0, off(P, 'syscall'));
  b.writeBigInt64LE(s.ret ?? 0n, off(P, 'ret'));
  b.writeBigUInt64LE(3_000_000_000n, off(P, 'parent_start'));
  (s.args ?? []).forEach((v, i) => b.writeBigInt64LE(v, off(P, 'arg') + 8 * i));
  (s.idOld ?? []).forEach((v, i) => b.writeInt32LE(v, off(P, 'id_old') + 4 * i));
  (s.idNew ?? []).forEach((v, i) => b.writeInt32LE(v, off(P, 'id_new') + 4 * i));
  if (s.addr) sockaddr(b, off(P, 'addr'), s.addr);
  if (s.addr2) sockaddr(b, off(P, 'addr2'), s.addr2);
  let p = off(P, 'data');
  strs.forEach((x, i) => {
    b.writeUInt16LE(x.length, off(P, 'str_len') + 2 * i);
    x.copy(b, p);
    p += x.length;
  });
  return b;
}

// formatters read what enrichment attached; no names known here (as with empty /etc files)
const ctx: KflowdFacts = {
  host: { hostName: 'h', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_700_000_000_000_000_000n, startBootNs: 4_500_000_000n },
  users: { user: '', group: '' },
};

function one(buf: Buffer): ProcRecord {
  const recs = decodeRecords(buf);
  assert.equal(recs.length, 1);
  const r = recs[0]!;
  assert.equal(r.type, 'proc');
  return r as ProcRecord;
}

function fmt(r: ProcRecord): Record<string, unknown> {
  return JSON.parse(toMinJson(kflowdProcessRecord(r, 7, ctx))) as Record<string, unknown>;
}

const eventKeys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => k.startsWith('Event'));

test('EXEC: exe, filename, interpreter and argv decode and format in order', () => {
  const r = one(record({
    event: 'EXEC', syscall: 59, args: [4242n, 3n],
    strs: ['/usr/bin/python3.11', './s.py', '/usr/bin/python3', 'python3\0./s.py\0-x'],
  })) as ProcEventRecord;
  assert.deepEqual(r.exec, { exePath: '/usr/bin/python3.11', filename: './s.py', interpreter: '/usr/bin/python3', argv: ['python3', './s.py', '-x'], argc: 3, oldTid: 4242 });
  assert.equal(r.parentStart, 3_000_000_000n);
  const o = fmt(r);
  assert.equal(o.InfoMonitor, 'process');
  assert.equal(o.ProcPID, 4242);
  assert.equal(o.ProcParent, 'bash');
  if (process.arch === 'x64') assert.equal(o.EventSyscall, 'execve');
  assert.deepEqual(eventKeys(o), ['EventType', 'EventSyscall', 'EventReturn', 'EventExePath', 'EventFilename', 'EventInterpreter', 'EventArgc', 'EventArgv', 'EventOldTID']);
  assert.deepEqual(o.EventArgv, ['python3', './s.py', '-x']);
  assert.equal(o.EventOldTID, 4242); // hdr.tid is 4243: a non-leader thread exec'd
});

test('failed calls carry the errno name; non-UTF-8 path bytes survive as surrogate escapes', () => {
  const o = fmt(one(record({ event: 'UNLINK', syscall: 87, ret: -2n, strs: [Buffer.from([0x2f, 0x74, 0xff])] })));
  assert.equal(o.EventReturn, -2);
  assert.equal(o.EventError, 'ENOENT');
  assert.equal(o.EventPath, '/t\udcff');
});

test('FORK and EXIT: child, thread flag, exit status and signal', () => {
  const f = one(record({ event: 'FORK', ret: 99n, flags: PF.THREAD, args: [4242n, 99n, 0x3d0f00n, 123n] })) as ProcEventRecord;
  assert.deepEqual(f.fork, { childPid: 4242, childTid: 99, cloneFlags: 0x3d0f00n, childStart: 123n, thread: true, failed: false });
  const fo = fmt(f);
  assert.equal(fo.EventCloneFlags, '0x3d0f00');
  assert.equal(fo.EventThread, true);
  const e = fmt(one(record({ event: 'EXIT', args: [0x8bn, 1n] })));
  assert.equal(e.EventExitSignal, 'SIGSEGV');
  assert.equal(e.EventCoreDump, true);
  assert.equal(e.EventThread, false);
  const x = fmt(one(record({ event: 'EXIT', args: [3n << 8n, 1n] })));
  assert.equal(x.EventExitStatus, 3);
  assert.equal(x.EventExitSignal, '');
  const failed = fmt(one(record({ event: 'FORK', ret: -11n, syscall: 56, flags: 0 })));
  assert.equal(failed.EventError, 'EAGAIN');
  assert.equal(failed.EventChildPID, undefined);
});

test('credentials: requested, old and new ids', () => {
  const o = fmt(one(record({ event: 'SETRESUID', args: [-1n, 65534n, -1n], idOld: [0, 0, 0], idNew: [0, 65534, 0] })));
  assert.deepEqual(o.EventUIDRequested, { Real: -1, Effective: 65534, Saved: -1 });
  assert.deepEqual(o.EventUIDOld, { Real: 0, Effective: 0, Saved: 0 });
  assert.deepEqual(o.EventUIDNew, { Real: 0, Effective: 65534, Saved: 0 });
  const g = fmt(one(record({ event: 'SETGID', args: [5n, -1n, -1n], idOld: [0, 0, 0], idNew: [5, 5, 5] })));
  assert.deepEqual(g.EventGIDRequested, { Real: 5 });
});

test('network: IPv4, IPv6 (RFC 5952 text) and unix paths (abstract as @)', () => {
  const c = fmt(one(record({
    event: 'CONNECT', args: [3n], ret: -111n,
    addr: { family: 10, port: 443, addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
    addr2: { family: 10, port: 40000, addr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
  })));
  assert.equal(c.EventFamily, 'AF_INET6');
  assert.equal(c.EventRemoteIP, '2001:db8::1');
  assert.equal(c.EventRemotePort, 443);
  assert.equal(c.EventLocalIP, '::1');
  assert.equal(c.EventError, 'ECONNREFUSED');
  const a = fmt(one(record({ event: 'ACCEPT', args: [3n, 0n], ret: 5n, addr: { family: 2, port: 5555, addr: [10, 1, 2, 3] }, addr2: { family: 2, port: 80, addr: [127, 0, 0, 1] } })));
  assert.deepEqual([a.EventRemoteIP, a.EventRemotePort, a.EventLocalIP, a.EventLocalPort], ['10.1.2.3', 5555, '127.0.0.1', 80]);
  const u = fmt(one(record({ event: 'BIND', args: [4n], addr: { family: 1 }, strs: [Buffer.from('\0hidden')] })));
  assert.equal(u.EventLocalPath, '@hidden');
  assert.equal(u.EventFamily, 'AF_UNIX');
});

test('MMAP: file-backed vs anonymous, addresses as hex', () => {
  const m = fmt(one(record({ event: 'MMAP', ret: 0x7f0000001000n, args: [0n, 8192n, 5n, 2n, 3n, 4096n], strs: ['/lib/x.so'] })));
  assert.deepEqual([m.EventAddress, m.EventLength, m.EventProtection, m.EventFilePath, m.EventOffset, m.EventAnonymous], ['0x7f0000001000', 8192, 'r-x', '/lib/x.so', 4096, false]);
  const a = fmt(one(record({ event: 'MPROTECT', flags: PF.ANON, args: [0x1000n, 4096n, 7n] })));
  assert.deepEqual([a.EventProtection, a.EventAnonymous, a.EventFilePath], ['rwx', true, undefined]);
});

test('THROTTLED: per-type suppressed and lost counts', () => {
  const size = PROC_THROTTLE_RECORD.size;
  const b = Buffer.alloc((size + 7) & ~7);
  header(b, size);
  b.writeUInt16LE(PROC_EVENTS.indexOf('THROTTLED'), off(T, 'event'));
  b.writeUInt32LE(1, off(T, 'exited'));
  b.writeBigUInt64LE(5_000_000_000n, off(T, 'window_start'));
  b.writeBigUInt64LE(6_250_000_000n, off(T, 'window_end'));
  b.writeUInt32LE(7, off(T, 'suppressed_total'));
  b.writeUInt32LE(2, off(T, 'lost_total'));
  b.writeUInt32LE(5, off(T, 'suppressed') + 4 * PROC_EVENTS.indexOf('EXEC'));
  b.writeUInt32LE(2, off(T, 'suppressed') + 4 * PROC_EVENTS.indexOf('EXIT'));
  b.writeUInt32LE(2, off(T, 'lost') + 4 * PROC_EVENTS.indexOf('CONNECT'));
  const r = one(b) as ProcThrottleRecord;
  assert.equal(r.event, 'THROTTLED');
  assert.deepEqual(r.suppressed, { EXEC: 5, EXIT: 2 });
  assert.deepEqual(r.lost, { CONNECT: 2 });
  const o = fmt(r);
  assert.deepEqual(eventKeys(o), ['EventType', 'EventSuppressed', 'EventLost', 'EventSuppressedByType', 'EventLostByType', 'EventWindowDuration', 'EventProcessExited']);
  assert.equal(o.EventWindowDuration, 1.25);
  assert.equal(o.EventProcessExited, true);
  assert.equal(PE_MAX, PROC_EVENTS.length);
});

test('records back to back in one frame, padded to 8 bytes; strings past the record are rejected', () => {
  const frame = Buffer.concat([record({ event: 'CHDIR', strs: ['/a'] }), record({ event: 'MKDIR', args: [0o755n], strs: ['/a/bcd'] })]);
  const recs = decodeRecords(frame) as ProcEventRecord[];
  assert.deepEqual(recs.map((r) => [r.event, r.file?.path]), [['CHDIR', '/a'], ['MKDIR', '/a/bcd']]);
  const bad = record({ event: 'CHDIR', strs: ['/abc'] });
  bad.writeUInt16LE(500, off(P, 'str_len'));
  assert.throws(() => decodeRecords(bad), FrameError);
});

test('--proc-events lists: names, groups, removals, errors', () => {
  const bit = (n: string) => 1n << BigInt(PROC_EVENTS.indexOf(n as (typeof PROC_EVENTS)[number]));
  assert.equal(parseProcEvents('exec,EXIT'), bit('EXEC') | bit('EXIT'));
  assert.equal(parseProcEvents('cred'), ['SETUID', 'SETREUID', 'SETRESUID', 'SETGID', 'SETREGID', 'SETRESGID'].reduce((m, n) => m | bit(n), 0n));
  const all = (1n << BigInt(PE_MAX - 1)) - 1n;
  assert.equal(parseProcEvents('-mmap,-dup'), all & ~bit('MMAP') & ~bit('DUP'));
  assert.equal(parseProcEvents('all,-net') & bit('CONNECT'), 0n);
  assert.throws(() => parseProcEvents('exec,bogus'), /unknown process event 'bogus'/);
  assert.throws(() => parseProcEvents('throttled'), /unknown process event/);
  assert.throws(() => parseProcEvents('exec,-exec'), /enables no event/);
});

test('every key the formatter writes is in the legend, and every event type is listed', () => {
  const legend = new Set(PROCESS_LEGEND.map(([k]) => k));
  const samples: ProcRecord[] = [
    one(record({ event: 'EXEC', args: [4243n, 1n], strs: ['/x', '/x', '/i', 'x'] })),
    one(record({ event: 'FORK', ret: 5n, args: [5n, 5n, 0n, 0n] })),
    one(record({ event: 'EXIT', args: [0x86n, 0n] })),
    one(record({ event: 'KILL', args: [5n, 9n, 5n] })),
    one(record({ event: 'PTRACE', args: [16n, 5n, 0n, 0n] })),
    one(record({ event: 'MMAP', ret: 4096n, args: [0n, 1n, 4n, 2n, 3n, 0n], strs: ['/f'] })),
    one(record({ event: 'PIPE', args: [3n, 4n, 0n] })),
    one(record({ event: 'SETNS', args: [3n, 0x40000000n], strs: ['/net:[1]'] })),
    one(record({ event: 'UNSHARE', args: [0x20000n] })),
    one(record({ event: 'SETREGID', args: [1n, 1n, -1n] })),
    one(record({ event: 'LINK', strs: ['/a', '/b'], args: [0x400n] })),
    one(record({ event: 'SYMLINK', strs: ['t', '/b'] })),
    one(record({ event: 'CHMOD', strs: ['/a'], args: [0o600n, 3n] })),
    one(record({ event: 'CHOWN', strs: ['/a'], args: [1n, 1n, 0n, 3n] })),
    one(record({ event: 'TRUNCATE', strs: ['/a'], args: [5n, 3n] })),
    one(record({ event: 'DUP', ret: 9n, strs: ['/a'], args: [3n, 9n, 0n] })),
    one(record({ event: 'LISTEN', args: [3n, 5n], addr: { family: 2, port: 80, addr: [0, 0, 0, 0] } })),
    one(record({ event: 'GETPEERNAME', args: [3n], addr: { family: 1 }, addr2: { family: 1 }, strs: ['/p', '/l'] })),
    one(record({ event: 'SOCKETPAIR', args: [1n, 1n, 0n, 3n, 4n] })),
    one(record({ event: 'RMDIR', ret: -39n, flags: PF.STR_TRUNC | PF.NO_PENDING, strs: ['/d'], args: [0x200n] })),
  ];
  for (const r of samples) {
    const o: JObject = kflowdProcessRecord(r, 1, ctx);
    for (const k of o.keys()) if (k.startsWith('Event')) assert.ok(legend.has(k), `${k} (from ${r.event}) is not in the legend`);
  }
  const types = PROCESS_LEGEND.find(([k]) => k === 'EventType')![2]!.map(([n]) => n);
  assert.deepEqual(types, [...PROC_EVENTS]);
  assert.match(legendText(), /EventSuppressedByType/);
});
