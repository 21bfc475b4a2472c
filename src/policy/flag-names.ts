// The vocabularies SysFlow policy fields use: opFlags and open flags by name (sf-apis), record
// types, protocol symbols, Falco's evt.type names and errno names; names are derived once per
// flag value and cached.
/** opFlags bits (sf-apis go/sfgo/op_flags.go). */
export const OP_FLAGS: readonly (readonly [number, string])[] = [
  [1 << 0, 'CLONE'], [1 << 1, 'EXEC'], [1 << 2, 'EXIT'], [1 << 3, 'SETUID'], [1 << 4, 'SETNS'],
  [1 << 5, 'ACCEPT'], [1 << 6, 'CONNECT'], [1 << 7, 'OPEN'], [1 << 8, 'READ_RECV'],
  [1 << 9, 'WRITE_SEND'], [1 << 10, 'CLOSE'], [1 << 11, 'TRUNCATE'], [1 << 12, 'SHUTDOWN'],
  [1 << 13, 'MMAP'], [1 << 14, 'DIGEST'], [1 << 15, 'MKDIR'], [1 << 16, 'RMDIR'], [1 << 17, 'LINK'],
  [1 << 18, 'UNLINK'], [1 << 19, 'SYMLINK'], [1 << 20, 'RENAME'],
];
/** Valid names for `sf.opflags`: schema names plus sf-processor's per-type short names. */
export const OP_FLAG_NAMES: ReadonlySet<string> = new Set([...OP_FLAGS.map((f) => f[1]), 'READ', 'RECV', 'WRITE', 'SEND']);

/** Open flags (sysdig PPM values, not Linux O_*). */
export const OPEN_FLAGS: readonly (readonly [number, string])[] = [
  [1, 'RDONLY'], [2, 'WRONLY'], [4, 'CREAT'], [8, 'APPEND'], [16, 'DSYNC'], [32, 'EXCL'],
  [64, 'NONBLOCK'], [128, 'SYNC'], [256, 'TRUNC'], [512, 'DIRECT'], [1024, 'DIRECTORY'],
  [2048, 'LARGEFILE'], [4096, 'CLOEXEC'],
];
export const OPEN_FLAG_NAMES: ReadonlySet<string> = new Set(
  ['NONE', 'RDWR', ...OPEN_FLAGS.map((f) => f[1])].flatMap((n) => [n, `O_${n}`]),
);

export const RECORD_TYPES: ReadonlySet<string> = new Set(['PE', 'PF', 'NF', 'NE', 'FF', 'FE', 'KE']);
export const PROTO_SYMBOLS: ReadonlyMap<string, number> = new Map([
  ['tcp', 6], ['udp', 17], ['icmp', 1], ['raw', 254], ['TCP', 6], ['UDP', 17], ['ICMP', 1], ['RAW', 254],
]);

// Per-opflags-value memo: the name list (schema names plus READ/WRITE or RECV/SEND aliases).
const opflagCache = new Map<number, readonly string[]>();
export function opflagNames(flags: number, net: boolean): readonly string[] {
  const key = net ? flags | 0x40000000 : flags;
  let r = opflagCache.get(key);
  if (r === undefined) {
    const out: string[] = [];
    for (const [bit, name] of OP_FLAGS) {
      if ((flags & bit) === 0) continue;
      out.push(name);
      if (bit === 1 << 8) out.push(net ? 'RECV' : 'READ');
      if (bit === 1 << 9) out.push(net ? 'SEND' : 'WRITE');
    }
    r = Object.freeze(out);
    opflagCache.set(key, r);
  }
  return r;
}
/** sf-processor's rendering (exported JSON): READ/WRITE for files, RECV/SEND for network. */
export function opflagDisplay(flags: number, net: boolean): string[] {
  return opflagNames(flags, net).filter((n) => n !== 'READ_RECV' && n !== 'WRITE_SEND');
}

/** Falco event types (syscall names) each SysFlow operation stands for ("remapped" per the docs). */
const SYSCALLS: Record<string, readonly string[]> = {
  CLONE: ['clone', 'clone3', 'fork', 'vfork'], EXEC: ['execve', 'execveat'], EXIT: ['exit', 'exit_group', 'procexit'],
  SETUID: ['setuid', 'setresuid', 'setreuid'], SETNS: ['setns'], ACCEPT: ['accept', 'accept4'], CONNECT: ['connect'],
  OPEN: ['open', 'openat', 'openat2', 'creat', 'open_by_handle_at'], CLOSE: ['close'], TRUNCATE: ['truncate', 'ftruncate'],
  SHUTDOWN: ['shutdown'], MMAP: ['mmap', 'mmap2'], MKDIR: ['mkdir', 'mkdirat'], RMDIR: ['rmdir'], LINK: ['link', 'linkat'],
  UNLINK: ['unlink', 'unlinkat'], SYMLINK: ['symlink', 'symlinkat'], RENAME: ['rename', 'renameat', 'renameat2'],
  READ: ['read', 'pread', 'readv', 'preadv'], RECV: ['recv', 'recvfrom', 'recvmsg', 'recvmmsg', 'read', 'readv'],
  WRITE: ['write', 'pwrite', 'writev', 'pwritev'], SEND: ['send', 'sendto', 'sendmsg', 'sendmmsg', 'write', 'writev'],
};
export const EVT_TYPE_NAMES: ReadonlySet<string> = new Set([...OP_FLAG_NAMES, ...Object.values(SYSCALLS).flat()]);
export const FALCO_EVT_UNAVAILABLE: ReadonlySet<string> = new Set([
  'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'fchownat', 'lchown', 'container', 'ptrace', 'sendfile', 'bind',
  'listen', 'socket', 'socketpair', 'dup', 'dup2', 'dup3', 'pipe', 'pipe2', 'ioctl', 'mount', 'umount', 'umount2',
  'init_module', 'finit_module', 'delete_module', 'bpf', 'kill', 'tkill', 'tgkill', 'prctl', 'setgid', 'setresgid',
  'setsid', 'setpgid', 'capset', 'unshare', 'chroot', 'fchdir', 'chdir', 'userfaultfd', 'memfd_create', 'pivot_root',
  'procinfo', 'signaldeliver', 'switch', 'page_fault', 'poll', 'select', 'epoll_wait', 'futex', 'nanosleep',
  'getsockopt', 'setsockopt', 'setrlimit', 'prlimit', 'mprotect', 'munmap', 'brk', 'fcntl', 'splice', 'quotactl',
  'copy_file_range', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'seccomp', 'lseek', 'llseek', 'stat',
  'lstat', 'fstat', 'access', 'faccessat', 'getdents', 'getdents64', 'inotify_init', 'inotify_init1', 'eventfd',
  'eventfd2', 'signalfd', 'signalfd4', 'timerfd_create', 'vmsplice', 'utimensat', 'mknod', 'mknodat',
]);
// READ, RECV and READ_RECV are one bit (likewise WRITE/SEND/WRITE_SEND): the bit test cannot
// tell a file read from a socket receive, and the record type already does.
function opflagBit(name: string): number | undefined {
  if (name === 'READ' || name === 'RECV') return 1 << 8;
  if (name === 'WRITE' || name === 'SEND') return 1 << 9;
  return OP_FLAGS.find((f) => f[1] === name)?.[0];
}
export function opflagBitTest(name: string): ((x: number) => boolean) | undefined {
  const b = opflagBit(name);
  return b === undefined ? undefined : (x) => (x & b) !== 0;
}
export function evtTypeBitTest(name: string): ((x: number) => boolean) | undefined {
  let mask = opflagBit(name) ?? 0;
  for (const [op, calls] of Object.entries(SYSCALLS)) if (calls.includes(name)) mask |= opflagBit(op) ?? 0;
  return mask === 0 ? undefined : (x) => (x & mask) !== 0;
}
const evtTypeCache = new Map<number, readonly string[]>();
export function evtTypeNames(flags: number, net: boolean): readonly string[] {
  const key = net ? flags | 0x40000000 : flags;
  let r = evtTypeCache.get(key);
  if (r === undefined) {
    const names = opflagNames(flags, net);
    r = Object.freeze([...new Set([...names, ...names.flatMap((n) => SYSCALLS[n] ?? [])])]);
    evtTypeCache.set(key, r);
  }
  return r;
}

const openflagCache = new Map<number, readonly string[]>();
export function openflagNames(flags: number): readonly string[] {
  let r = openflagCache.get(flags);
  if (r === undefined) {
    const out: string[] = [];
    if (flags === 0) out.push('NONE');
    if ((flags & 3) === 3) out.push('RDWR');
    for (const [bit, name] of OPEN_FLAGS) if (flags & bit) out.push(name);
    // The shipped policies write `O_CREAT`; accept both spellings.
    r = Object.freeze([...out, ...out.map((n) => `O_${n}`)]);
    openflagCache.set(flags, r);
  }
  return r;
}
export function openflagDisplay(flags: number): string[] {
  return openflagNames(flags).filter((n) => !n.startsWith('O_'));
}

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF',
  10: 'ECHILD', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV',
  19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY',
  27: 'EFBIG', 28: 'ENOSPC', 29: 'ESPIPE', 30: 'EROFS', 31: 'EMLINK', 32: 'EPIPE', 36: 'ENAMETOOLONG', 38: 'ENOSYS',
  39: 'ENOTEMPTY', 40: 'ELOOP', 88: 'ENOTSOCK', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL', 100: 'ENETDOWN', 101: 'ENETUNREACH', 103: 'ECONNABORTED', 104: 'ECONNRESET', 110: 'ETIMEDOUT',
  111: 'ECONNREFUSED', 113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS',
};
export function errnoName(r: number): string {
  if (r >= 0) return 'SUCCESS';
  return ERRNO[-r] ?? String(r);
}
