// Records of every kind for the ECS and fleet tests (hand-built, known values).
import type { FileRecord, PidExitRecord, ProcHeader } from '../../src/model/records.js';
import type { ProcEventRecord, ProcThrottleRecord } from '../../src/model/process-record.js';
import type { SockDirection, SockRecord } from '../../src/model/socket-record.js';
import type { Envelope, RecordId } from '../../src/pipeline/types.js';
import type { EcsContext } from '../../src/format/ecs/encoder.js';

export const BOOT_TO_REAL = 1_700_000_000_000_000_000n;
export const CTX: EcsContext = {
  host: { hostName: 'web-1', hostIP: '192.0.2.10', system: 'Linux', kernel: '6.1.0-test', version: 'falconet-v0.1.0' },
  bootToRealNs: BOOT_TO_REAL,
  agent: { name: 'web-1', version: '0.1.0' },
};

export function hdr(over: Partial<ProcHeader> = {}): ProcHeader {
  return {
    flags: 0, pid: 4242, tid: 4243, ppid: 1, uid: 1000, gid: 1000,
    tsFirst: 5_000_000_000n, ts: 7_500_000_000n, procStart: 1_000_000_000n,
    comm: 'curl', exe: '/usr/bin/curl', parentExe: '/usr/bin/bash', ...over,
  };
}

function dir(packets: number, bytes: number, flags: [string, number][] = []): SockDirection {
  return { tsFirst: 5_000_000_000n, ts: 7_000_000_000n, packets, dataPackets: packets, bytes, ifindex: 1, flags };
}

export function sock(over: Partial<SockRecord> = {}): SockRecord {
  return {
    type: 'sock', hdr: hdr(), cookie: 4097n, reason: 'close', noOwner: false, perPeer: false,
    family: 'AF_INET', protocol: 'TCP', role: 'CLIENT', state: 'TCP_CLOSE', sockType: 'SOCK_STREAM',
    localIP: '128.232.110.120', localPort: 34855, remoteIP: '66.35.250.204', remotePort: 80, path: '',
    tx: dir(6, 437), rx: dir(5, 1210, [['SYN-ACK', 1], ['FIN-ACK', 1]]),
    retransPackets: 1, retransBytes: 37, dups: 0, bytesAcked: 400, reorder: 0, drops: 0, frags: 0,
    rxTtl: 57, rtoMs: 204, rtoIsJiffies: false, rttNs: 12_345_000n, bytesReceived: 1201, rxQueued: 0, ...over,
  };
}

export function file(over: Partial<FileRecord> = {}): FileRecord {
  const event = new Array<number>(11).fill(0);
  event[0] = 1; event[1] = 1; event[5] = 3; event[6] = 1; // CREATE OPEN MODIFY CLOSE_WRITE
  return {
    type: 'file', hdr: hdr({ comm: 'vim', exe: '/usr/bin/vim' }), events: 6, event, ino: 131077, dev: (8 << 20) | 1,
    mode: 0o100644, nlink: 1, iuid: 1000, igid: 1000, openFlags: 0o101, sizeFirst: 0, size: 2048,
    bytesRead: 0, bytesWritten: 2048, atimeNs: BOOT_TO_REAL + 5n, mtimeNs: BOOT_TO_REAL + 6n, ctimeNs: BOOT_TO_REAL + 7n,
    mtimeFirstNs: BOOT_TO_REAL, dir: '/home/u/', name: 'notes.txt', origin: '', ...over,
  };
}

function proc(event: ProcEventRecord['event'], over: Partial<ProcEventRecord> = {}): ProcEventRecord {
  return {
    type: 'proc', hdr: hdr(), truncated: false, incomplete: false, event, syscall: 59, syscallName: 'execve', ret: 0n,
    parentStart: 500_000_000n, cgroupId: 1n, euid: 1000, egid: 1000, args: [], strs: [], ...over,
  };
}

export const PROC_EVENTS_SAMPLE: ProcEventRecord[] = [
  proc('EXEC', { exec: { exePath: '/usr/bin/curl', filename: '/usr/bin/curl', argv: ['curl', '-s', 'http://x'], argc: 3, oldTid: 4242 } }),
  proc('FORK', { syscall: 0, fork: { childPid: 5000, childTid: 5000, childStart: 9n, thread: false, cloneFlags: 17n, failed: false } }),
  proc('EXIT', { syscall: 0, exit: { code: 1, status: 256, signal: 0, coreDump: false, threadExit: false } }),
  proc('KILL', { syscall: 62, syscallName: 'kill', kill: { target: 77, signal: 9 } }),
  proc('UNLINK', { syscall: 87, syscallName: 'unlink', ret: -2n, file: { path: '/tmp/gone' } }),
  proc('SYMLINK', { syscall: 88, syscallName: 'symlink', file: { path: '/tmp/l', target: '../etc/passwd' } }),
  proc('CHMOD', { syscall: 90, syscallName: 'chmod', file: { path: '/tmp/x', mode: 0o4755 } }),
  proc('RENAME', { syscall: 82, syscallName: 'rename', file: { path: '/tmp/a', newPath: '/tmp/b' } }),
  proc('SETUID', { syscall: 105, syscallName: 'setuid', cred: { kind: 'uid', requested: { real: 0, effective: 0, saved: 0 }, old: { real: 1000, effective: 1000, saved: 1000 }, new: { real: 0, effective: 0, saved: 0 } } }),
  proc('CONNECT', { syscall: 42, syscallName: 'connect', net: { fd: 3, remote: { family: 'AF_INET6', ip: '2001:db8::1', port: 443 }, local: { family: 'AF_INET6', ip: '2001:db8::2', port: 50000 } } }),
  proc('ACCEPT', { syscall: 43, syscallName: 'accept', net: { fd: 4, remote: { family: 'AF_UNIX', path: '@x' } } }),
];

export const THROTTLE: ProcThrottleRecord = {
  type: 'proc', hdr: hdr(), truncated: false, incomplete: false, event: 'THROTTLED', exited: false,
  windowStart: 1n, windowEnd: 2n, suppressedTotal: 10, lostTotal: 2, suppressed: { MMAP: 10 }, lost: { DUP: 2 },
};

export const PID_EXIT: PidExitRecord = { type: 'pid_exit', hdr: hdr(), exitCode: 3 };

export function rid(seq: number | bigint, host = 'web-1', boot = 'b00t'): RecordId {
  return { host, boot, seq: BigInt(seq) };
}

export function env<R>(kind: Envelope['kind'], rec: R, seq: number, enrich?: Record<string, unknown>): Envelope<R> {
  return { kind, rec, id: rid(seq), ...(enrich ? { enrich } : {}) };
}
