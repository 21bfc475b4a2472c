// SysFlow numeric vocabularies: operation flags, open flags (sysdig PPM numbering, not Linux
// O_*), file resource types, and their string forms as sysprint and sf-processor render them.

/** Operation flags bitmap (sf-apis go/sfgo/op_flags.go). Events set one bit, flows several. */
export const OP = {
  CLONE: 1 << 0,
  EXEC: 1 << 1,
  EXIT: 1 << 2,
  SETUID: 1 << 3,
  SETNS: 1 << 4,
  ACCEPT: 1 << 5,
  CONNECT: 1 << 6,
  OPEN: 1 << 7,
  READ_RECV: 1 << 8,
  WRITE_SEND: 1 << 9,
  CLOSE: 1 << 10,
  TRUNCATE: 1 << 11,
  SHUTDOWN: 1 << 12,
  MMAP: 1 << 13,
  DIGEST: 1 << 14,
  MKDIR: 1 << 15,
  RMDIR: 1 << 16,
  LINK: 1 << 17,
  UNLINK: 1 << 18,
  SYMLINK: 1 << 19,
  RENAME: 1 << 20,
} as const;
export type OpName = keyof typeof OP;

/** Open flags as the collector stores them (sysdig PPM_O_*; sf-apis py3 openflags.py). */
export const OPEN = {
  NONE: 0,
  RDONLY: 1 << 0,
  WRONLY: 1 << 1,
  RDWR: (1 << 0) | (1 << 1),
  CREAT: 1 << 2,
  APPEND: 1 << 3,
  DSYNC: 1 << 4,
  EXCL: 1 << 5,
  NONBLOCK: 1 << 6,
  SYNC: 1 << 7,
  TRUNC: 1 << 8,
  DIRECT: 1 << 9,
  DIRECTORY: 1 << 10,
  LARGEFILE: 1 << 11,
  CLOEXEC: 1 << 12,
} as const;

/**
 * File.restype values: the ASCII code of sysdig's fd type character. Seen in samples: f, d, p, u, ?.
 */
export const RESTYPE = {
  FILE: 'f'.charCodeAt(0),
  DIRECTORY: 'd'.charCodeAt(0),
  PIPE: 'p'.charCodeAt(0),
  UNIX: 'u'.charCodeAt(0),
  IPV4: '4'.charCodeAt(0),
  IPV6: '6'.charCodeAt(0),
  EVENT: 'e'.charCodeAt(0),
  SIGNALFD: 's'.charCodeAt(0),
  EVENTPOLL: 'l'.charCodeAt(0),
  INOTIFY: 'i'.charCodeAt(0),
  TIMERFD: 't'.charCodeAt(0),
  NETLINK: 'n'.charCodeAt(0),
  OTHER: 'o'.charCodeAt(0),
  UNKNOWN: '?'.charCodeAt(0),
} as const;

/** sysprint's getOpFlagsStr: FE names, else PE names, else an 11-char positional string. */
export function opFlagsSysprint(f: number): string {
  let s = '';
  if (f & OP.MKDIR) s += 'MKDIR';
  if (f & OP.RMDIR) s += 'RMDIR';
  if (f & OP.LINK) s += 'LINK';
  if (f & OP.SYMLINK) s += 'SYMLINK';
  if (f & OP.UNLINK) s += 'UNLINK';
  if (f & OP.RENAME) s += 'RENAME';
  if (s) return s;
  if (f & OP.CLONE) s += 'CLONE';
  if (f & OP.EXEC) s += 'EXEC';
  if (f & OP.EXIT) s += 'EXIT';
  if (f & OP.SETUID) s += 'SETUID';
  if (s) return s;
  return (
    (f & OP.OPEN ? 'O' : ' ') +
    (f & OP.ACCEPT ? 'A' : ' ') +
    (f & OP.CONNECT ? 'C' : ' ') +
    (f & OP.WRITE_SEND ? 'W' : ' ') +
    (f & OP.READ_RECV ? 'R' : ' ') +
    (f & OP.SETNS ? 'N' : ' ') +
    (f & OP.MMAP ? 'M' : ' ') +
    (f & OP.SHUTDOWN ? 'S' : ' ') +
    (f & OP.CLOSE ? 'C' : ' ') +
    (f & OP.TRUNCATE ? 'T' : ' ') +
    (f & OP.DIGEST ? 'D' : ' ')
  );
}

/**
 * Flag names in bit order, as sf-processor's `sf.opflags` lists them. READ_RECV/WRITE_SEND are
 * "RECV"/"SEND" for network records and "READ"/"WRITE" otherwise.
 */
export function opFlagNames(f: number, network = false): string[] {
  const out: string[] = [];
  for (const [name, bit] of Object.entries(OP) as [OpName, number][]) {
    if (!(f & bit)) continue;
    if (name === 'READ_RECV') out.push(network ? 'RECV' : 'READ');
    else if (name === 'WRITE_SEND') out.push(network ? 'SEND' : 'WRITE');
    else out.push(name);
  }
  return out;
}

/** Open flag names: the access mode (RDONLY/WRONLY/RDWR, or NONE) then each set modifier bit. */
export function openFlagNames(f: number): string[] {
  const acc = f & 3;
  const out: string[] = [acc === 0 ? 'NONE' : acc === 1 ? 'RDONLY' : acc === 2 ? 'WRONLY' : 'RDWR'];
  for (const name of ['CREAT', 'APPEND', 'DSYNC', 'EXCL', 'NONBLOCK', 'SYNC', 'TRUNC', 'DIRECT', 'DIRECTORY', 'LARGEFILE', 'CLOEXEC'] as const) {
    if (f & OPEN[name]) out.push(name);
  }
  return out;
}

/**
 * Linux open(2) flags (x86-64/generic values) → SysFlow PPM open flags, for live capture.
 * Unknown Linux bits are dropped (PPM has no slot for them).
 */
export function linuxOpenFlagsToSysFlow(linux: number): number {
  const acc = linux & 3; // O_RDONLY 0, O_WRONLY 1, O_RDWR 2
  let f = acc === 0 ? OPEN.RDONLY : acc === 1 ? OPEN.WRONLY : acc === 2 ? OPEN.RDWR : 0;
  if (linux & 0o100) f |= OPEN.CREAT;
  if (linux & 0o200) f |= OPEN.EXCL;
  if (linux & 0o1000) f |= OPEN.TRUNC;
  if (linux & 0o2000) f |= OPEN.APPEND;
  if (linux & 0o4000) f |= OPEN.NONBLOCK;
  if (linux & 0o10000) f |= OPEN.DSYNC; // O_DSYNC
  if ((linux & 0o4010000) === 0o4010000) f |= OPEN.SYNC; // O_SYNC = __O_SYNC | O_DSYNC
  if (linux & 0o40000) f |= OPEN.DIRECT;
  if (linux & 0o100000) f |= OPEN.LARGEFILE;
  if (linux & 0o200000) f |= OPEN.DIRECTORY;
  if (linux & 0o2000000) f |= OPEN.CLOEXEC;
  return f;
}

/** sysprint `file.type`: chr(restype). */
export function restypeChar(restype: number): string {
  return String.fromCharCode(restype);
}

/** IANA protocol number → name, as sf-processor's GetProto renders it. */
export function protoName(p: number): string {
  switch (p) {
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 1:
      return 'icmp';
    case 254:
      return 'raw';
    default:
      return String(p);
  }
}
