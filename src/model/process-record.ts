// Process monitor record (FN_REC_PROC), decoded by sensor/decode-process.ts. One record per
// kernel event (no aggregation). docs/process-events.md documents every field and how it maps
// to SysFlow ProcessEvent / FileEvent / NetworkEvent / ProcessFlow.
import { PROC_EVENTS, type ProcEventName } from '../sensor/layout.js';
import type { ProcHeader } from './records.js';

export { PROC_EVENTS, type ProcEventName };

export interface SockAddr {
  /** AF_INET, AF_INET6, AF_UNIX or AF_<number> */
  family: string;
  /** IP text (inet families) */
  ip?: string;
  port?: number;
  /** AF_UNIX path; abstract names start with '@' */
  path?: string;
}

/** Credential ids: real, effective, saved (-1 where the call left one unchanged). */
export interface IdTriple { real: number; effective: number; saved: number }

export interface ProcRecordBase {
  type: 'proc';
  hdr: ProcHeader;
  /** hdr.flags decoded */
  truncated: boolean;
  /** the enter hook's state was missing (call started before attach): arguments incomplete */
  incomplete: boolean;
}

/** One kernel event. Integers that can exceed 2^53 (addresses, lengths, flags) are bigint. */
export interface ProcEventRecord extends ProcRecordBase {
  event: Exclude<ProcEventName, 'THROTTLED'>;
  /** syscall number (0 for sched tracepoint events: successful fork/exec, exit) */
  syscall: number;
  /** syscall name for this architecture when known */
  syscallName?: string;
  /** the syscall's return value (-errno on failure; 0 for exit) */
  ret: bigint;
  /** real parent's start_boottime ns (with hdr.ppid, the parent's identity: SysFlow POID) */
  parentStart: bigint;
  cgroupId: bigint;
  euid: number;
  egid: number;
  /** raw normalised integer arguments (per type, see docs) */
  args: bigint[];
  /** raw strings str[0..3] */
  strs: string[];
  /** per-type view */
  fork?: { childPid: number; childTid: number; childStart: bigint; thread: boolean; cloneFlags: bigint; failed: boolean };
  exec?: { exePath: string; filename: string; interpreter?: string; argv: string[]; argc: number; oldTid: number };
  exit?: { code: number; status: number; signal: number; coreDump: boolean; threadExit: boolean };
  kill?: { target: number; signal: number; tgid?: number };
  ptrace?: { request: number; target: number; addr: bigint; data: bigint };
  mmap?: { addr: bigint; length: bigint; prot: number; flags?: number; fd?: number; offset?: bigint; path?: string; anonymous: boolean };
  pipe?: { fds: [number, number]; flags: number };
  ns?: { fd?: number; nstype?: number; flags?: number; path?: string };
  cred?: { kind: 'uid' | 'gid'; requested: IdTriple; old: IdTriple; new: IdTriple };
  file?: {
    /** resolved path (dirfd/cwd + '/' + user path; no '..' normalisation); symlink: the link's path */
    path?: string;
    /** rename/link: the new path */
    newPath?: string;
    /** symlink: the target exactly as given (not resolved) */
    target?: string;
    mode?: number;
    uid?: number;
    gid?: number;
    length?: bigint;
    fd?: number;
    newFd?: number;
    flags?: number;
  };
  net?: {
    fd: number;
    /** remote side (connect, accept, getpeername) */
    remote?: SockAddr;
    /** local side (bind, listen; connect/accept from the socket) */
    local?: SockAddr;
    backlog?: number;
    flags?: number;
    /** socketpair */
    domain?: number;
    sockType?: number;
    protocol?: number;
    fds?: [number, number];
  };
}

/** Suppressed (rate limit) and lost (ring buffer full) events of one process over a window. */
export interface ProcThrottleRecord extends ProcRecordBase {
  event: 'THROTTLED';
  exited: boolean;
  windowStart: bigint;
  windowEnd: bigint;
  suppressedTotal: number;
  lostTotal: number;
  /** nonzero counts only, by event name */
  suppressed: Partial<Record<ProcEventName, number>>;
  lost: Partial<Record<ProcEventName, number>>;
}

export type ProcRecord = ProcEventRecord | ProcThrottleRecord;

/** Event groups accepted by --proc-events besides the event names. */
export const PROC_EVENT_GROUPS: Record<string, ProcEventName[]> = {
  process: ['FORK', 'EXEC', 'EXIT', 'KILL', 'PTRACE', 'MMAP', 'MPROTECT', 'PIPE', 'SETNS', 'UNSHARE'],
  cred: ['SETUID', 'SETREUID', 'SETRESUID', 'SETGID', 'SETREGID', 'SETRESGID'],
  file: ['MKDIR', 'RMDIR', 'LINK', 'SYMLINK', 'RENAME', 'UNLINK', 'CHMOD', 'CHOWN', 'TRUNCATE', 'DUP', 'CHDIR'],
  net: ['CONNECT', 'ACCEPT', 'BIND', 'LISTEN', 'GETPEERNAME', 'SOCKETPAIR'],
};

/**
 * --proc-events LIST → bit mask (bigint; bit i = PROC_EVENTS[i]). LIST is comma-separated event
 * names or groups (process, cred, file, net, all), case-insensitive; a leading '-' removes
 * (e.g. "all,-mmap,-dup"). A list made only of removals starts from all.
 */
export function parseProcEvents(list: string): bigint {
  const all = (1n << BigInt(PROC_EVENTS.indexOf('THROTTLED'))) - 1n;
  const toks = list.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  if (!toks.length) throw new Error('expected a comma-separated list of process event names or groups');
  let mask = toks.every((t) => t.startsWith('-')) ? all : 0n;
  for (const tok of toks) {
    const neg = tok.startsWith('-');
    const name = (neg ? tok.slice(1) : tok).toLowerCase();
    let bits = 0n;
    if (name === 'all') bits = all;
    else if (PROC_EVENT_GROUPS[name]) for (const e of PROC_EVENT_GROUPS[name]!) bits |= 1n << BigInt(PROC_EVENTS.indexOf(e));
    else {
      const i = PROC_EVENTS.findIndex((e) => e.toLowerCase() === name);
      if (i < 0 || PROC_EVENTS[i] === 'THROTTLED') {
        throw new Error(`unknown process event '${tok}' (expected event names ${PROC_EVENTS.filter((e) => e !== 'THROTTLED').join(', ')} or groups ${Object.keys(PROC_EVENT_GROUPS).join(', ')}, all)`);
      }
      bits = 1n << BigInt(i);
    }
    mask = neg ? mask & ~bits : mask | bits;
  }
  if (mask === 0n) throw new Error(`--proc-events '${list}' enables no event`);
  return mask;
}
