// Builds sensor streams byte by byte from layout.ts, for replay tests, fuzzing and benches
// that must run without root.
import { FILE_RECORD, FILE_RECORD_FIXED, FrameKind, HELLO, PROC_EVENTS, PROC_RECORD, PROC_RECORD_FIXED, REC_HDR, RecType, SOCK_DIR, SOCK_RECORD, STATS_FRAME, STREAM_MAGIC, STREAM_VERSION } from '../../src/sensor/layout.js';

export function frame(kind: FrameKind, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(body.length, 0);
  h.writeUInt16LE(kind, 4);
  return Buffer.concat([h, body]);
}

export function hello(opts: { bootToRealNs?: bigint; startBootNs?: bigint; hostname?: string; kernel?: string } = {}): Buffer {
  const b = Buffer.alloc(HELLO.size);
  b.writeBigUInt64LE(STREAM_MAGIC, 0);
  b.writeUInt32LE(STREAM_VERSION, 8);
  b.writeUInt32LE(1234, 12);
  b.writeBigInt64LE(opts.bootToRealNs ?? 1_700_000_000_000_000_000n, 16);
  b.writeBigUInt64LE(opts.startBootNs ?? 1_000_000_000n, 24);
  b.writeUInt32LE(1, 32);
  b.writeUInt32LE(70, 36);
  b.write(opts.kernel ?? '6.18.0-test', 48);
  b.write(opts.hostname ?? 'testhost', 112);
  return frame(FrameKind.Hello, b);
}

export interface FileRecordSpec {
  pid?: number; tid?: number; ppid?: number; uid?: number; gid?: number; flags?: number;
  tsFirst?: bigint; ts?: bigint; procStart?: bigint; comm?: string; exe?: string; parentExe?: string;
  events?: number[]; ino?: number; dev?: number; mode?: number; nlink?: number; size?: number; sizeFirst?: number;
  mtime?: bigint; mtimeFirst?: bigint; path?: Buffer | string; origin?: string;
  /** default: mtime */
  ctime?: bigint; atime?: bigint;
}

const F = FILE_RECORD.fields;
const H = REC_HDR.fields;
const at = (f: Record<string, readonly [number, number]>, k: string) => f[k]![0];

export function fileRecord(s: FileRecordSpec): Buffer {
  const path = Buffer.isBuffer(s.path) ? s.path : Buffer.from(s.path ?? '/tmp/dir/file.txt');
  const size = FILE_RECORD_FIXED + path.length;
  const b = Buffer.alloc((size + 7) & ~7);
  putHeader(b, RecType.File, size, { ...s, tsFirst: s.tsFirst ?? 2_000_000_000n, comm: s.comm ?? 'bash' });
  const ev = s.events ?? [1, 1, 0, 0, 0, 2, 1, 0, 0, 0, 0];
  ev.forEach((n, i) => b.writeUInt32LE(n, at(F, 'event') + 4 * i));
  b.writeUInt32LE(ev.reduce((a, n) => a + n, 0), at(F, 'events'));
  b.writeBigUInt64LE(BigInt(s.ino ?? 4242), at(F, 'ino'));
  b.writeUInt32LE(s.dev ?? ((254 << 20) | 0), at(F, 'dev'));
  b.writeUInt32LE(s.mode ?? 0o100644, at(F, 'mode'));
  b.writeUInt32LE(s.nlink ?? 1, at(F, 'nlink'));
  b.writeBigInt64LE(BigInt(s.sizeFirst ?? 0), at(F, 'size_first'));
  b.writeBigInt64LE(BigInt(s.size ?? 41), at(F, 'size'));
  const mt = s.mtime ?? 1_712_244_875_154_106_191n;
  b.writeBigUInt64LE(s.atime ?? mt, at(F, 'atime_ns'));
  b.writeBigUInt64LE(mt, at(F, 'mtime_ns'));
  b.writeBigUInt64LE(s.ctime ?? mt, at(F, 'ctime_ns'));
  b.writeBigUInt64LE(s.mtimeFirst ?? mt, at(F, 'mtime_first_ns'));
  b.writeUInt16LE(path.length, at(F, 'path_len'));
  b.writeUInt16LE(path.lastIndexOf(0x2f) + 1, at(F, 'name_off'));
  const origin = Buffer.from(s.origin ?? '');
  b.writeUInt16LE(origin.length, at(F, 'origin_len'));
  origin.copy(b, at(F, 'origin'));
  path.copy(b, FILE_RECORD_FIXED);
  return b;
}

export function records(recs: Buffer[]): Buffer {
  return frame(FrameKind.Records, Buffer.concat(recs));
}

export function stats(): Buffer {
  return frame(FrameKind.Stats, Buffer.alloc(STATS_FRAME.size));
}

export function end(): Buffer {
  return frame(FrameKind.End, Buffer.alloc(0));
}

/** Common record header fields of the builders below. */
export interface HeaderSpec {
  pid?: number; tid?: number; ppid?: number; uid?: number; gid?: number; flags?: number;
  ts?: bigint; procStart?: bigint; exe?: string; parentExe?: string;
  /** default: ts */
  tsFirst?: bigint;
  /** default: the first 15 bytes of exe */
  comm?: string;
}

function putHeader(b: Buffer, type: RecType, size: number, s: HeaderSpec): void {
  b.writeUInt16LE(type, 0);
  b.writeUInt16LE(size, 2);
  b.writeUInt32LE(s.flags ?? 0, at(H, 'flags'));
  b.writeUInt32LE(s.pid ?? 100, at(H, 'pid'));
  b.writeUInt32LE(s.tid ?? s.pid ?? 100, at(H, 'tid'));
  b.writeUInt32LE(s.ppid ?? 1, at(H, 'ppid'));
  b.writeUInt32LE(s.uid ?? 0, at(H, 'uid'));
  b.writeUInt32LE(s.gid ?? 0, at(H, 'gid'));
  b.writeBigUInt64LE(s.tsFirst ?? s.ts ?? 2_500_000_000n, at(H, 'ts_first'));
  b.writeBigUInt64LE(s.ts ?? 2_500_000_000n, at(H, 'ts'));
  b.writeBigUInt64LE(s.procStart ?? 1_500_000_000n, at(H, 'proc_start'));
  b.write(s.comm ?? (s.exe ?? 'bash').slice(0, 15), at(H, 'comm'));
  b.write(s.exe ?? 'bash', at(H, 'exe'));
  b.write(s.parentExe ?? 'sshd', at(H, 'parent_exe'));
}

export interface ProcRecordSpec extends HeaderSpec {
  event: (typeof PROC_EVENTS)[number];
  ret?: bigint;
  /** arg[0..5] (FORK: child pid, child tid, clone flags, child start; EXIT: code) */
  args?: bigint[];
  /** str0..3 (EXEC: exe path, filename, interpreter, argv joined by NUL; RENAME: path, new path) */
  strs?: string[];
  /** SETUID*: new real, effective, saved */
  idNew?: [number, number, number];
}

/** A process-event record (fork, exec, exit, setuid, file operations, ...). */
export function procRecord(s: ProcRecordSpec): Buffer {
  const P = PROC_RECORD.fields;
  const strs = (s.strs ?? []).map((x) => Buffer.from(x));
  const size = PROC_RECORD_FIXED + strs.reduce((n, x) => n + x.length, 0);
  const b = Buffer.alloc((size + 7) & ~7);
  putHeader(b, RecType.Proc, size, s);
  b.writeUInt16LE(PROC_EVENTS.indexOf(s.event), at(P, 'event'));
  b.writeBigInt64LE(s.ret ?? 0n, at(P, 'ret'));
  (s.args ?? []).forEach((v, i) => b.writeBigInt64LE(v, at(P, 'arg') + 8 * i));
  (s.idNew ?? []).forEach((v, i) => b.writeInt32LE(v, at(P, 'id_new') + 4 * i));
  let p = at(P, 'data');
  strs.forEach((x, i) => {
    b.writeUInt16LE(x.length, at(P, 'str_len') + 2 * i);
    x.copy(b, p);
    p += x.length;
  });
  return b;
}

export interface SockRecordSpec extends HeaderSpec {
  /** 6 TCP, 17 UDP */
  protocol?: number;
  /** IPv4 addresses as four bytes */
  laddr: [number, number, number, number];
  raddr: [number, number, number, number];
  lport: number;
  rport: number;
  /** 1: server (accepted), else client */
  role?: number;
  txBytes?: number;
  rxBytes?: number;
  /** TCP state number (tcp_states.h; 0 leaves it empty) */
  state?: number;
  /** per direction: [flag combination (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32), packets] in
   * first-seen order; given, the direction's packets are their sum */
  txFlags?: [number, number][];
  rxFlags?: [number, number][];
}

/** An IPv4 socket record (AF_INET: the address in the first four bytes). */
export function sockRecord(s: SockRecordSpec): Buffer {
  const R = SOCK_RECORD.fields;
  const D = SOCK_DIR.fields;
  const b = Buffer.alloc(SOCK_RECORD.size);
  putHeader(b, RecType.Sock, SOCK_RECORD.size, s);
  b.writeUInt16LE(2, at(R, 'family'));
  b.writeUInt16LE(s.protocol ?? 6, at(R, 'protocol'));
  b[at(R, 'role')] = s.role ?? 0;
  b[at(R, 'sotype')] = (s.protocol ?? 6) === 17 ? 2 : 1;
  b.writeUInt16LE(s.lport, at(R, 'lport'));
  b.writeUInt16LE(s.rport, at(R, 'rport'));
  Buffer.from(s.laddr).copy(b, at(R, 'laddr'));
  Buffer.from(s.raddr).copy(b, at(R, 'raddr'));
  b[at(R, 'state')] = s.state ?? 0;
  const dir = (base: number, bytes: number, flags: [number, number][] | undefined) => {
    b.writeBigUInt64LE(s.ts ?? 2_500_000_000n, base + at(D, 'ts_first'));
    b.writeBigUInt64LE(s.ts ?? 2_500_000_000n, base + at(D, 'ts'));
    const packets = flags ? flags.reduce((n, [, k]) => n + k, 0) : bytes ? 2 : 0;
    b.writeBigUInt64LE(BigInt(packets), base + at(D, 'packets'));
    b.writeBigUInt64LE(bytes ? 1n : 0n, base + at(D, 'data_packets'));
    b.writeBigUInt64LE(BigInt(bytes), base + at(D, 'bytes'));
    (flags ?? []).forEach(([combo, k], i) => {
      b[base + at(D, 'flag_order') + i] = combo;
      b.writeBigUInt64LE(BigInt(k), base + at(D, 'flags') + 8 * combo);
    });
    b.writeBigUInt64LE(BigInt(flags?.length ?? 0), base + at(D, 'nflags'));
  };
  dir(at(R, 'tx'), s.txBytes ?? 100, s.txFlags);
  dir(at(R, 'rx'), s.rxBytes ?? 200, s.rxFlags);
  return b;
}
