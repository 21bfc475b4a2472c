// Process monitor records in kflowd's family style: Info* (InfoMonitor "process"), Proc*, then
// an Event* block (EventType, EventSyscall, EventReturn, per-type keys). Keys are listed with
// descriptions in legend-process.ts; the order below is the output order.
import type { ProcEventRecord, ProcRecord, ProcThrottleRecord, SockAddr } from '../model/process-record.js';
import type { KflowdFacts } from './context.js';
import type { JObject, JValue } from './json.js';
import { infoKeys, procKeys } from './proc-keys.js';
import { seconds } from './time.js';

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF', 10: 'ECHILD',
  11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV', 20: 'ENOTDIR',
  21: 'EISDIR', 22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE', 26: 'ETXTBSY', 27: 'EFBIG', 28: 'ENOSPC', 30: 'EROFS',
  31: 'EMLINK', 36: 'ENAMETOOLONG', 38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP', 88: 'ENOTSOCK', 95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 103: 'ECONNABORTED',
  104: 'ECONNRESET', 106: 'EISCONN', 107: 'ENOTCONN', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED', 113: 'EHOSTUNREACH',
  114: 'EALREADY', 115: 'EINPROGRESS',
};

const SIGNALS = ['', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO',
  'SIGPWR', 'SIGSYS'];

const PTRACE: Record<number, string> = {
  0: 'PTRACE_TRACEME', 1: 'PTRACE_PEEKTEXT', 2: 'PTRACE_PEEKDATA', 3: 'PTRACE_PEEKUSER', 4: 'PTRACE_POKETEXT',
  5: 'PTRACE_POKEDATA', 6: 'PTRACE_POKEUSER', 7: 'PTRACE_CONT', 8: 'PTRACE_KILL', 9: 'PTRACE_SINGLESTEP',
  12: 'PTRACE_GETREGS', 13: 'PTRACE_SETREGS', 16: 'PTRACE_ATTACH', 17: 'PTRACE_DETACH', 24: 'PTRACE_SYSCALL',
  0x4200: 'PTRACE_SETOPTIONS', 0x4201: 'PTRACE_GETEVENTMSG', 0x4206: 'PTRACE_SEIZE', 0x4207: 'PTRACE_INTERRUPT',
};

/** EventPtraceRequest: the request's name, else its number */
export const ptraceName = (req: number): string => PTRACE[req] ?? String(req);

const NS_FLAGS: [number, string][] = [
  [0x00020000, 'CLONE_NEWNS'], [0x02000000, 'CLONE_NEWCGROUP'], [0x04000000, 'CLONE_NEWUTS'],
  [0x08000000, 'CLONE_NEWIPC'], [0x10000000, 'CLONE_NEWUSER'], [0x20000000, 'CLONE_NEWPID'],
  [0x40000000, 'CLONE_NEWNET'], [0x00000080, 'CLONE_NEWTIME'], [0x00000200, 'CLONE_FS'], [0x00000400, 'CLONE_FILES'],
  [0x00040000, 'CLONE_SYSVSEM'],
];

export function errnoName(ret: bigint): string | undefined {
  if (ret >= 0n || ret < -4095n) return undefined;
  const e = Number(-ret);
  return ERRNO[e] ?? `E${e}`;
}

export function signalName(sig: number): string {
  return SIGNALS[sig] || (sig >= 34 && sig <= 64 ? `SIGRTMIN+${sig - 34}` : String(sig));
}

export function protString(prot: number): string {
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}`;
}

export function nsFlags(flags: number): string[] {
  const out: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of NS_FLAGS) if (rest & bit) { out.push(name); rest &= ~bit; }
  if (rest) out.push(`0x${(rest >>> 0).toString(16)}`);
  return out;
}

export const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const octal = (m: number): string => (m & 0o7777).toString(8).padStart(4, '0');
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Numbers that fit a JSON number exactly stay numbers; larger ones are strings. */
const num = (v: bigint): JValue => (v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v.toString());
/** EventSyscall: the name, else the number, else empty (sched tracepoint events) */
export const syscallText = (r: ProcEventRecord): string => r.syscallName ?? (r.syscall ? String(r.syscall) : '');

function addr(o: JObject, side: 'Remote' | 'Local', a: SockAddr | undefined): void {
  if (!a) return;
  if (a.path !== undefined) o.set(`Event${side}Path`, a.path);
  if (a.ip !== undefined) {
    o.set(`Event${side}IP`, a.ip);
    o.set(`Event${side}Port`, a.port ?? 0);
  }
}

function eventKeys(o: JObject, r: ProcEventRecord): void {
  const f = r.file;
  switch (r.event) {
    case 'FORK': {
      const k = r.fork!;
      if (!k.failed) {
        o.set('EventChildPID', k.childPid);
        o.set('EventChildTID', k.childTid);
      }
      o.set('EventThread', k.thread);
      o.set('EventCloneFlags', hex(k.cloneFlags));
      break;
    }
    case 'EXEC': {
      const e = r.exec!;
      if (e.exePath) o.set('EventExePath', e.exePath);
      o.set('EventFilename', e.filename);
      if (e.interpreter !== undefined) o.set('EventInterpreter', e.interpreter);
      o.set('EventArgc', e.argc);
      o.set('EventArgv', e.argv);
      if (e.oldTid !== r.hdr.tid) o.set('EventOldTID', e.oldTid);
      break;
    }
    case 'EXIT': {
      const x = r.exit!;
      o.set('EventExitStatus', x.status);
      o.set('EventExitSignal', x.signal ? signalName(x.signal) : '');
      if (x.coreDump) o.set('EventCoreDump', true);
      o.set('EventThread', x.threadExit);
      break;
    }
    case 'KILL': {
      const k = r.kill!;
      o.set('EventTargetPID', k.target);
      if (k.tgid !== undefined) o.set('EventTargetTGID', k.tgid);
      o.set('EventSignal', k.signal ? signalName(k.signal) : '0');
      break;
    }
    case 'PTRACE': {
      const t = r.ptrace!;
      o.set('EventPtraceRequest', ptraceName(t.request));
      o.set('EventTargetPID', t.target);
      o.set('EventAddress', hex(t.addr));
      o.set('EventData', hex(t.data));
      break;
    }
    case 'MMAP': case 'MPROTECT': {
      const m = r.mmap!;
      o.set('EventAddress', hex(m.addr));
      o.set('EventLength', num(m.length));
      o.set('EventProtection', protString(m.prot));
      if (m.flags !== undefined) o.set('EventMapFlags', hex(m.flags));
      if (m.path !== undefined) {
        o.set('EventFilePath', m.path);
        if (m.offset !== undefined) o.set('EventOffset', num(m.offset));
      }
      o.set('EventAnonymous', m.anonymous);
      break;
    }
    case 'PIPE':
      o.set('EventFDs', r.pipe!.fds);
      o.set('EventFlags', hex(r.pipe!.flags));
      break;
    case 'SETNS':
      o.set('EventFD', r.ns!.fd ?? -1);
      o.set('EventNamespaces', nsFlags(r.ns!.nstype ?? 0));
      if (r.ns!.path) o.set('EventFilePath', r.ns!.path);
      break;
    case 'UNSHARE':
      o.set('EventNamespaces', nsFlags(r.ns!.flags ?? 0));
      break;
    case 'SETUID': case 'SETREUID': case 'SETRESUID': case 'SETGID': case 'SETREGID': case 'SETRESGID': {
      const c = r.cred!;
      const K = c.kind.toUpperCase();
      const triple = (t: { real: number; effective: number; saved: number }): JObject =>
        new Map<string, JValue>([['Real', t.real], ['Effective', t.effective], ['Saved', t.saved]]);
      const req = new Map<string, JValue>();
      // setuid/setgid take one id; setre* two; setres* three (-1 = leave unchanged)
      req.set('Real', c.requested.real);
      if (r.event.startsWith('SETRE')) req.set('Effective', c.requested.effective);
      if (r.event.startsWith('SETRES')) req.set('Saved', c.requested.saved);
      o.set(`Event${K}Requested`, req);
      o.set(`Event${K}Old`, triple(c.old));
      o.set(`Event${K}New`, triple(c.new));
      break;
    }
    case 'MKDIR':
      o.set('EventPath', f!.path ?? '');
      o.set('EventMode', octal(f!.mode ?? 0));
      break;
    case 'RMDIR': case 'UNLINK':
      o.set('EventPath', f!.path ?? '');
      if (f!.flags) o.set('EventFlags', hex(f!.flags));
      break;
    case 'LINK': case 'RENAME':
      o.set('EventPath', f!.path ?? '');
      o.set('EventNewPath', f!.newPath ?? '');
      if (f!.flags) o.set('EventFlags', hex(f!.flags));
      break;
    case 'SYMLINK':
      o.set('EventTarget', f!.target ?? '');
      o.set('EventNewPath', f!.path ?? '');
      break;
    case 'CHMOD':
      o.set('EventPath', f!.path ?? '');
      if ((f!.fd ?? -1) >= 0) o.set('EventFD', f!.fd!);
      o.set('EventMode', octal(f!.mode ?? 0));
      break;
    case 'CHOWN':
      o.set('EventPath', f!.path ?? '');
      if ((f!.fd ?? -1) >= 0) o.set('EventFD', f!.fd!);
      o.set('EventUID', f!.uid ?? -1);
      o.set('EventGID', f!.gid ?? -1);
      break;
    case 'TRUNCATE':
      o.set('EventPath', f!.path ?? '');
      if ((f!.fd ?? -1) >= 0) o.set('EventFD', f!.fd!);
      o.set('EventLength', num(f!.length ?? 0n));
      break;
    case 'DUP':
      o.set('EventPath', f!.path ?? '');
      o.set('EventFD', f!.fd ?? -1);
      if ((f!.newFd ?? -1) >= 0) o.set('EventNewFD', f!.newFd!);
      break;
    case 'CHDIR':
      o.set('EventPath', f!.path ?? '');
      if ((f!.fd ?? -1) >= 0) o.set('EventFD', f!.fd!);
      break;
    case 'CONNECT': case 'ACCEPT': case 'GETPEERNAME': case 'BIND': case 'LISTEN': {
      const n = r.net!;
      o.set('EventFD', n.fd);
      const fam = n.remote?.family ?? n.local?.family;
      if (fam) o.set('EventFamily', fam);
      addr(o, 'Remote', n.remote);
      addr(o, 'Local', n.local);
      if (n.backlog !== undefined) o.set('EventBacklog', n.backlog);
      break;
    }
    case 'SOCKETPAIR': {
      const n = r.net!;
      o.set('EventFamily', n.domain === 1 ? 'AF_UNIX' : `AF_${n.domain}`);
      o.set('EventSocketType', n.sockType ?? 0);
      o.set('EventFDs', n.fds ?? [-1, -1]);
      break;
    }
  }
}

function throttleKeys(o: JObject, r: ProcThrottleRecord): void {
  o.set('EventSuppressed', r.suppressedTotal);
  o.set('EventLost', r.lostTotal);
  o.set('EventSuppressedByType', new Map(Object.entries(r.suppressed)) as JObject);
  o.set('EventLostByType', new Map(Object.entries(r.lost)) as JObject);
  o.set('EventWindowDuration', seconds(r.windowEnd - r.windowStart));
  o.set('EventProcessExited', r.exited);
}

export function kflowdProcessRecord(r: ProcRecord, seq: number, f: KflowdFacts): JObject {
  const o: JObject = new Map();
  infoKeys(o, seq, 'process', r.hdr.ts, f.host);
  procKeys(o, r.hdr, f.users);
  processKeys(o, r);
  return o;
}

/** The Event* keys that follow the Info* and Proc* keys. */
export function processKeys(o: JObject, r: ProcRecord): void {
  o.set('EventType', r.event);
  if (r.event === 'THROTTLED') {
    throttleKeys(o, r);
    return;
  }
  o.set('EventSyscall', syscallText(r));
  o.set('EventReturn', num(r.ret));
  const err = errnoName(r.ret);
  if (err) o.set('EventError', err);
  eventKeys(o, r);
  if (r.truncated) o.set('EventTruncated', true);
  if (r.incomplete) o.set('EventIncomplete', true);
}

const qs = JSON.stringify;
/** num() as JSON text */
const numText = (v: bigint): string => {
  const n = num(v);
  return typeof n === 'number' ? String(n) : qs(n);
};

/** processKeys() written without the Map for the events a process storm is made of
 * (FORK, EXEC, MMAP, MPROTECT, EXIT): `, "Key": value` parts, byte-identical
 * (test/unit/kflowd-min.test.ts). false: another event, for the Map path. */
export function processTailParts(r: ProcRecord, p: (string | number)[]): boolean {
  if (r.event !== 'FORK' && r.event !== 'EXEC' && r.event !== 'EXIT' && r.event !== 'MMAP' && r.event !== 'MPROTECT') return false;
  p.push(', "EventType": "', r.event, '", "EventSyscall": ', qs(syscallText(r)),
    ', "EventReturn": ', numText(r.ret));
  const err = errnoName(r.ret);
  if (err) p.push(', "EventError": ', qs(err));
  switch (r.event) {
    case 'FORK': {
      const k = r.fork!;
      if (!k.failed) p.push(', "EventChildPID": ', k.childPid, ', "EventChildTID": ', k.childTid);
      p.push(', "EventThread": ', k.thread ? 'true' : 'false', ', "EventCloneFlags": "', hex(k.cloneFlags), '"');
      break;
    }
    case 'EXEC': {
      const e = r.exec!;
      if (e.exePath) p.push(', "EventExePath": ', qs(e.exePath));
      p.push(', "EventFilename": ', qs(e.filename));
      if (e.interpreter !== undefined) p.push(', "EventInterpreter": ', qs(e.interpreter));
      p.push(', "EventArgc": ', e.argc, ', "EventArgv": [');
      for (let i = 0; i < e.argv.length; i++) p.push(i ? ', ' : '', qs(e.argv[i]!));
      p.push(']');
      if (e.oldTid !== r.hdr.tid) p.push(', "EventOldTID": ', e.oldTid);
      break;
    }
    case 'EXIT': {
      const x = r.exit!;
      p.push(', "EventExitStatus": ', x.status, ', "EventExitSignal": ', x.signal ? qs(signalName(x.signal)) : '""');
      if (x.coreDump) p.push(', "EventCoreDump": true');
      p.push(', "EventThread": ', x.threadExit ? 'true' : 'false');
      break;
    }
    default: { // MMAP, MPROTECT
      const m = r.mmap!;
      p.push(', "EventAddress": "', hex(m.addr), '", "EventLength": ', numText(m.length), ', "EventProtection": "', protString(m.prot), '"');
      if (m.flags !== undefined) p.push(', "EventMapFlags": "', hex(m.flags), '"');
      if (m.path !== undefined) {
        p.push(', "EventFilePath": ', qs(m.path));
        if (m.offset !== undefined) p.push(', "EventOffset": ', numText(m.offset));
      }
      p.push(', "EventAnonymous": ', m.anonymous ? 'true' : 'false');
    }
  }
  if (r.truncated) p.push(', "EventTruncated": true');
  if (r.incomplete) p.push(', "EventIncomplete": true');
  return true;
}
