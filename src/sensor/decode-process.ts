// Decoder for process/credential/extended event records (bpf/records_process.h): fixed offsets
// from layout.ts, strings back to back in data[] (lengths in str_len[]).
import type { IdTriple, ProcEventRecord, ProcRecord, ProcThrottleRecord, SockAddr } from '../model/process-record.js';
import type { ProcHeader } from '../model/records.js';
import { decodeBytes } from '../util/bytes.js';
import { FrameError } from './frames.js';
import {
  FN_SOCKADDR, PE_MAX, PF, PROC_EVENTS, PROC_RECORD, PROC_RECORD_FIXED, PROC_STRS, PROC_THROTTLE_RECORD,
  type ProcEventName,
} from './layout.js';

const o = (f: Record<string, readonly [number, number]>, k: string): number => f[k]![0];
// offsets resolved once (the decoder runs per record)
const P = Object.fromEntries(Object.keys(PROC_RECORD.fields).map((k) => [k, o(PROC_RECORD.fields, k)])) as Record<string, number>;
const T = Object.fromEntries(Object.keys(PROC_THROTTLE_RECORD.fields).map((k) => [k, o(PROC_THROTTLE_RECORD.fields, k)])) as Record<string, number>;
const SA_FAMILY = o(FN_SOCKADDR.fields, 'family'), SA_PORT = o(FN_SOCKADDR.fields, 'port'), SA_ADDR = o(FN_SOCKADDR.fields, 'addr');

/** x86_64 numbers of the syscalls the process monitor hooks (other architectures: number only). */
const X86_64_SYSCALLS: Record<number, string> = {
  56: 'clone', 435: 'clone3', 57: 'fork', 58: 'vfork', 59: 'execve', 322: 'execveat', 62: 'kill', 200: 'tkill',
  234: 'tgkill', 101: 'ptrace', 9: 'mmap', 10: 'mprotect', 22: 'pipe', 293: 'pipe2', 308: 'setns', 272: 'unshare',
  105: 'setuid', 113: 'setreuid', 117: 'setresuid', 106: 'setgid', 114: 'setregid', 119: 'setresgid',
  83: 'mkdir', 258: 'mkdirat', 84: 'rmdir', 86: 'link', 265: 'linkat', 88: 'symlink', 266: 'symlinkat',
  82: 'rename', 264: 'renameat', 316: 'renameat2', 87: 'unlink', 263: 'unlinkat', 90: 'chmod', 91: 'fchmod',
  268: 'fchmodat', 452: 'fchmodat2', 92: 'chown', 94: 'lchown', 93: 'fchown', 260: 'fchownat', 76: 'truncate',
  77: 'ftruncate', 32: 'dup', 33: 'dup2', 292: 'dup3', 80: 'chdir', 81: 'fchdir', 42: 'connect', 43: 'accept',
  288: 'accept4', 49: 'bind', 50: 'listen', 52: 'getpeername', 53: 'socketpair',
};

export function syscallName(nr: number): string | undefined {
  return process.arch === 'x64' ? X86_64_SYSCALLS[nr] : undefined;
}

const FAMILIES: Record<number, string> = { 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6' };

function ipv6(b: Buffer, p: number): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(b.readUInt16BE(p + i).toString(16));
  // RFC 5952: compress the longest run (>= 2) of zero groups
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return w.join(':');
  return `${w.slice(0, best).join(':')}::${w.slice(best + bestLen).join(':')}`;
}

function sockAddr(b: Buffer, p: number, unixPath: string): SockAddr | undefined {
  const fam = b.readUInt16LE(p + SA_FAMILY);
  if (!fam) return undefined;
  const family = FAMILIES[fam] ?? `AF_${fam}`;
  const port = b.readUInt16LE(p + SA_PORT);
  const a = p + SA_ADDR;
  if (fam === 2) return { family, ip: `${b[a]}.${b[a + 1]}.${b[a + 2]}.${b[a + 3]}`, port };
  if (fam === 10) return { family, ip: ipv6(b, a), port };
  if (fam === 1) return { family, path: unixPath.startsWith('\0') ? '@' + unixPath.slice(1) : unixPath };
  return { family };
}

const i32 = (v: bigint): number => Number(BigInt.asIntN(32, v));
const u32 = (v: bigint): number => Number(BigInt.asUintN(32, v));

function ids(b: Buffer, p: number): IdTriple {
  const r = (i: number) => b.readInt32LE(p + 4 * i);
  return { real: r(0), effective: r(1), saved: r(2) };
}

function throttle(b: Buffer, p: number, hdr: ProcHeader): ProcThrottleRecord {
  const suppressed: Partial<Record<ProcEventName, number>> = {};
  const lost: Partial<Record<ProcEventName, number>> = {};
  for (let i = 0; i < PE_MAX; i++) {
    const s = b.readUInt32LE(p + T.suppressed! + 4 * i);
    const l = b.readUInt32LE(p + T.lost! + 4 * i);
    if (s) suppressed[PROC_EVENTS[i]!] = s;
    if (l) lost[PROC_EVENTS[i]!] = l;
  }
  return {
    type: 'proc', hdr, event: 'THROTTLED', truncated: false, incomplete: false,
    exited: b.readUInt32LE(p + T.exited!) !== 0,
    windowStart: b.readBigUInt64LE(p + T.window_start!),
    windowEnd: b.readBigUInt64LE(p + T.window_end!),
    suppressedTotal: b.readUInt32LE(p + T.suppressed_total!),
    lostTotal: b.readUInt32LE(p + T.lost_total!),
    suppressed, lost,
  };
}

/** One event's fields from its arguments (a), strings and fixed part (b at p). One small function
 * per event rather than one switch: V8 optimises each on its own, so an event type met for the
 * first time no longer deoptimises the decoder of all the others (the switch was recompiled
 * once more in every replay of a process storm, ~95 ms of compiler thread each time here; the
 * decoder is now compiled once, ~20 ms). */
type EventDecoder = (r: ProcEventRecord, a: readonly bigint[], strs: readonly string[], b: Buffer, p: number) => void;

const decodeCred: EventDecoder = (r, a, _s, b, p) => {
  r.cred = {
    kind: r.event.endsWith('GID') ? 'gid' : 'uid',
    requested: { real: i32(a[0]!), effective: i32(a[1]!), saved: i32(a[2]!) },
    old: ids(b, p + P.id_old!), new: ids(b, p + P.id_new!),
  };
};
const decodeRemoval: EventDecoder = (r, a, s) => { r.file = { path: s[0], flags: i32(a[0]!) }; };
const decodeTwoPaths: EventDecoder = (r, a, s) => { r.file = { path: s[0], newPath: s[1], flags: i32(a[0]!) }; };
const decodePeer: EventDecoder = (r, a, s, b, p) => {
  const remote = sockAddr(b, p + P.addr!, s[0]!);
  const local = sockAddr(b, p + P.addr2!, s[1]!);
  r.net = { fd: i32(a[0]!), remote, local };
  if (r.event === 'ACCEPT') r.net.flags = i32(a[1]!);
};
const decodeLocal: EventDecoder = (r, a, s, b, p) => {
  r.net = { fd: i32(a[0]!), local: sockAddr(b, p + P.addr!, s[0]!) };
  if (r.event === 'LISTEN') r.net.backlog = i32(a[1]!);
};

const EVENT_DECODERS: Partial<Record<ProcEventName, EventDecoder>> = {
  FORK: (r, a) => {
    r.fork = { childPid: u32(a[0]!), childTid: u32(a[1]!), cloneFlags: a[2]!, childStart: a[3]!, thread: (r.hdr.flags & PF.THREAD) !== 0, failed: r.ret < 0n };
  },
  EXEC: (r, a, s) => {
    const argv = s[3] ? s[3].split('\0') : [];
    const failed = r.ret < 0n;
    r.exec = { exePath: s[0]!, filename: s[1]!, argv, argc: failed ? argv.length : i32(a[1]!), oldTid: failed ? r.hdr.tid : u32(a[0]!) };
    if (s[2]) r.exec.interpreter = s[2];
  },
  EXIT: (r, a) => {
    const code = u32(a[0]!);
    r.exit = { code, status: (code >> 8) & 0xff, signal: code & 0x7f, coreDump: (code & 0x80) !== 0, threadExit: a[1] === 0n };
  },
  KILL: (r, a) => {
    r.kill = { target: i32(a[0]!), signal: i32(a[1]!) };
    if (a[2]) r.kill.tgid = i32(a[2]);
  },
  PTRACE: (r, a) => {
    r.ptrace = { request: i32(a[0]!), target: i32(a[1]!), addr: BigInt.asUintN(64, a[2]!), data: BigInt.asUintN(64, a[3]!) };
  },
  MMAP: (r, a, s) => {
    const anonymous = (r.hdr.flags & PF.ANON) !== 0;
    r.mmap = { addr: BigInt.asUintN(64, r.ret >= 0n ? r.ret : a[0]!), length: BigInt.asUintN(64, a[1]!), prot: i32(a[2]!), flags: i32(a[3]!), fd: i32(a[4]!), offset: a[5]!, anonymous };
    if (!anonymous && s[0]) r.mmap.path = s[0];
  },
  MPROTECT: (r, a, s) => {
    const anonymous = (r.hdr.flags & PF.ANON) !== 0;
    r.mmap = { addr: BigInt.asUintN(64, a[0]!), length: BigInt.asUintN(64, a[1]!), prot: i32(a[2]!), anonymous };
    if (!anonymous && s[0]) r.mmap.path = s[0];
  },
  PIPE: (r, a) => { r.pipe = { fds: [i32(a[0]!), i32(a[1]!)], flags: i32(a[2]!) }; },
  // an nsfs fd: str0 is the namespace type and arg[2] its inode, shown like /proc/PID/ns links
  SETNS: (r, a, s) => { r.ns = { fd: i32(a[0]!), nstype: i32(a[1]!), path: a[2] ? `${s[0]}:[${a[2]}]` : s[0] }; },
  UNSHARE: (r, a) => { r.ns = { flags: i32(a[0]!) }; },
  SETUID: decodeCred, SETREUID: decodeCred, SETRESUID: decodeCred, SETGID: decodeCred, SETREGID: decodeCred, SETRESGID: decodeCred,
  MKDIR: (r, a, s) => { r.file = { path: s[0], mode: i32(a[0]!) }; },
  RMDIR: decodeRemoval, UNLINK: decodeRemoval,
  LINK: decodeTwoPaths, RENAME: decodeTwoPaths,
  SYMLINK: (r, _a, s) => { r.file = { target: s[0], path: s[1] }; },
  CHMOD: (r, a, s) => { r.file = { path: s[0], mode: i32(a[0]!), fd: i32(a[1]!), flags: i32(a[2]!) }; },
  CHOWN: (r, a, s) => { r.file = { path: s[0], uid: i32(a[0]!), gid: i32(a[1]!), flags: i32(a[2]!), fd: i32(a[3]!) }; },
  TRUNCATE: (r, a, s) => { r.file = { path: s[0], length: a[0]!, fd: i32(a[1]!) }; },
  DUP: (r, a, s) => { r.file = { path: s[0], fd: i32(a[0]!), newFd: i32(a[1]!), flags: i32(a[2]!) }; },
  CHDIR: (r, a, s) => { r.file = { path: s[0], fd: i32(a[0]!) }; },
  CONNECT: decodePeer, GETPEERNAME: decodePeer, ACCEPT: decodePeer,
  BIND: decodeLocal, LISTEN: decodeLocal,
  SOCKETPAIR: (r, a) => { r.net = { fd: -1, domain: i32(a[0]!), sockType: i32(a[1]!), protocol: i32(a[2]!), fds: [i32(a[3]!), i32(a[4]!)] }; },
};

export function decodeProcRecord(b: Buffer, p: number, size: number, hdr: ProcHeader, frameOffset: number): ProcRecord | undefined {
  if (size < PROC_RECORD_FIXED && size < PROC_THROTTLE_RECORD.size) throw new FrameError(`process record too short (${size})`, frameOffset + p);
  const ev = b.readUInt16LE(p + P.event!);
  const name = PROC_EVENTS[ev];
  if (name === undefined) return undefined; // a newer sensor's event type
  if (name === 'THROTTLED') {
    if (size < PROC_THROTTLE_RECORD.size) throw new FrameError(`THROTTLED record too short (${size})`, frameOffset + p);
    return throttle(b, p, hdr);
  }
  if (size < PROC_RECORD_FIXED) throw new FrameError(`process record too short (${size})`, frameOffset + p);

  const strs: string[] = [];
  let s = p + PROC_RECORD_FIXED;
  for (let i = 0; i < PROC_STRS; i++) {
    const len = b.readUInt16LE(p + P.str_len! + 2 * i);
    if (s + len > p + size) throw new FrameError(`process record strings (${len} bytes) exceed record size ${size}`, frameOffset + p);
    strs.push(decodeBytes(b, s, s + len));
    s += len;
  }
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(b.readBigInt64LE(p + P.arg! + 8 * i));
  const syscall = b.readUInt32LE(p + P.syscall!);
  const r: ProcEventRecord = {
    type: 'proc', hdr, event: name,
    truncated: (hdr.flags & (PF.STR_TRUNC | 0x4)) !== 0, // 0x4: FF_PATH_TRUNC from walk_path
    incomplete: (hdr.flags & PF.NO_PENDING) !== 0,
    syscall, syscallName: syscall ? syscallName(syscall) : undefined,
    ret: b.readBigInt64LE(p + P.ret!),
    parentStart: b.readBigUInt64LE(p + P.parent_start!),
    cgroupId: b.readBigUInt64LE(p + P.cgroup_id!),
    euid: b.readUInt32LE(p + P.euid!),
    egid: b.readUInt32LE(p + P.egid!),
    args, strs,
  };
  EVENT_DECODERS[name]?.(r, args, strs, b, p);
  return r;
}
