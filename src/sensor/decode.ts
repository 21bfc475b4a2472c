// Frames → typed records, reading fixed offsets from layout.ts (no per-field allocation
// beyond the result objects).
import { cString, decodeBytes } from '../util/bytes.js';
import type {
  FileRecord, KernelRecord, PidExitRecord, ProcHeader, SensorEvent, SensorHello, SensorStats,
} from '../model/records.js';
import {
  COMM_LEN, EXE_LEN, FE_COUNT, FILE_RECORD, FILE_RECORD_FIXED, FrameKind, HELLO, NAME_MAX, PATH_MAX,
  PID_EXIT_NOTICE, REC_HDR, RecType, STATS, STATS_FRAME, STATS_FRAME_V1_SIZE, STATS_FRAME_V2_SIZE, STREAM_MAGIC, STREAM_VERSION, TCP_EXPORT,
} from './layout.js';
import type { Frame } from './frames.js';
import { decodeSockRecord } from './decode-socket.js';
import { decodeProcRecord } from './decode-process.js';
import { decodePayloadRecord, decodePayloadStats } from './decode-payload.js';
import { REC_PAYLOAD, REC_PAYLOAD_STATS } from './layout.js';
import { FrameError } from './frames.js';

const F = FILE_RECORD.fields;
const H = REC_HDR.fields;

function off(f: Record<string, readonly [number, number]>, name: string): number {
  return f[name]![0];
}

const O = {
  flags: off(H, 'flags'), pid: off(H, 'pid'), tid: off(H, 'tid'), ppid: off(H, 'ppid'),
  uid: off(H, 'uid'), gid: off(H, 'gid'), tsFirst: off(H, 'ts_first'), ts: off(H, 'ts'),
  procStart: off(H, 'proc_start'), comm: off(H, 'comm'), exe: off(H, 'exe'), parentExe: off(H, 'parent_exe'),
  events: off(F, 'events'), event: off(F, 'event'), ino: off(F, 'ino'), dev: off(F, 'dev'),
  mode: off(F, 'mode'), nlink: off(F, 'nlink'), iuid: off(F, 'iuid'), igid: off(F, 'igid'),
  openFlags: off(F, 'open_flags'), sizeFirst: off(F, 'size_first'), size: off(F, 'size'),
  bytesRead: off(F, 'bytes_read'), bytesWritten: off(F, 'bytes_written'), atime: off(F, 'atime_ns'),
  mtime: off(F, 'mtime_ns'), ctime: off(F, 'ctime_ns'), mtimeFirst: off(F, 'mtime_first_ns'),
  pathLen: off(F, 'path_len'), nameOff: off(F, 'name_off'), originLen: off(F, 'origin_len'),
  origin: off(F, 'origin'), path: off(F, 'path'), exitCode: off(PID_EXIT_NOTICE.fields, 'exit_code'),
};

/**
 * A C string field that repeats from record to record (comm, exe, parent exe: records come in
 * runs from one process): the last bytes and their string are kept, so a repeat costs a byte
 * compare instead of a Buffer view and a string.
 */
class LastCString {
  private bytes = new Uint8Array(64);
  private len = -1;
  private str = '';
  get(b: Buffer, off: number, max: number): string {
    const lim = Math.min(off + max, b.length);
    let end = off;
    while (end < lim && b[end] !== 0) end++;
    return this.range(b, off, end);
  }
  /** The string of b[off, end). */
  range(b: Buffer, off: number, end: number): string {
    const n = end - off;
    if (n === this.len) {
      const k = this.bytes;
      let i = 0;
      while (i < n && k[i] === b[off + i]) i++;
      if (i === n) return this.str;
    }
    if (n > this.bytes.length) this.bytes = new Uint8Array(n);
    this.bytes.set(b.subarray(off, end));
    this.len = n;
    this.str = decodeBytes(b, off, end);
    return this.str;
  }
}
const lastComm = new LastCString();
const lastExe = new LastCString();
const lastParentExe = new LastCString();
const lastDir = new LastCString();

// Fixed fields are read through one DataView per frame body: V8 inlines its getters, where
// Buffer#readUInt32LE is a JS function with its own checks per field.
let lastBody: Buffer | null = null;
let lastView: DataView = new DataView(new ArrayBuffer(0));
function viewOf(b: Buffer): DataView {
  if (b !== lastBody) { lastBody = b; lastView = new DataView(b.buffer, b.byteOffset, b.length); }
  return lastView;
}

/** u64 at p as a bigint: one allocation when it fits a double exactly (readBigUInt64LE makes three). */
function u64(d: DataView, p: number): bigint {
  const hi = d.getUint32(p + 4, true);
  return hi < 0x200000 ? BigInt(hi * 0x1_0000_0000 + d.getUint32(p, true)) : d.getBigUint64(p, true);
}

/** u64 / s64 at p as the nearest Number, as Number(readBig*64LE) gives (one rounding of the exact sum). */
function u64n(d: DataView, p: number): number {
  return d.getUint32(p + 4, true) * 0x1_0000_0000 + d.getUint32(p, true);
}
function s64n(d: DataView, p: number): number {
  return d.getInt32(p + 4, true) * 0x1_0000_0000 + d.getUint32(p, true);
}

function header(b: Buffer, p: number, d: DataView = viewOf(b)): ProcHeader {
  return {
    flags: d.getUint32(p + O.flags, true),
    pid: d.getUint32(p + O.pid, true),
    tid: d.getUint32(p + O.tid, true),
    ppid: d.getUint32(p + O.ppid, true),
    uid: d.getUint32(p + O.uid, true),
    gid: d.getUint32(p + O.gid, true),
    tsFirst: u64(d, p + O.tsFirst),
    ts: u64(d, p + O.ts),
    procStart: u64(d, p + O.procStart),
    comm: lastComm.get(b, p + O.comm, COMM_LEN),
    exe: lastExe.get(b, p + O.exe, EXE_LEN),
    parentExe: lastParentExe.get(b, p + O.parentExe, EXE_LEN),
  };
}

function fileRecord(b: Buffer, p: number, size: number, frameOffset: number): FileRecord {
  const d = viewOf(b);
  const pathLen = d.getUint16(p + O.pathLen, true);
  const nameOff = d.getUint16(p + O.nameOff, true);
  const originLen = Math.min(d.getUint16(p + O.originLen, true), NAME_MAX - 1);
  if (pathLen > PATH_MAX || FILE_RECORD_FIXED + pathLen > size || nameOff > pathLen) {
    throw new FrameError(`file record path length ${pathLen} / name offset ${nameOff} exceed record size ${size}`, frameOffset + p);
  }
  const event: number[] = new Array(FE_COUNT);
  for (let i = 0; i < FE_COUNT; i++) event[i] = d.getUint32(p + O.event + 4 * i, true);
  const ps = p + O.path;
  return {
    type: 'file',
    hdr: header(b, p, d),
    events: d.getUint32(p + O.events, true),
    event,
    ino: u64n(d, p + O.ino),
    dev: d.getUint32(p + O.dev, true),
    mode: d.getUint32(p + O.mode, true),
    nlink: d.getUint32(p + O.nlink, true),
    iuid: d.getUint32(p + O.iuid, true),
    igid: d.getUint32(p + O.igid, true),
    openFlags: d.getUint32(p + O.openFlags, true),
    sizeFirst: s64n(d, p + O.sizeFirst),
    size: s64n(d, p + O.size),
    bytesRead: u64n(d, p + O.bytesRead),
    bytesWritten: u64n(d, p + O.bytesWritten),
    atimeNs: u64(d, p + O.atime),
    mtimeNs: u64(d, p + O.mtime),
    ctimeNs: u64(d, p + O.ctime),
    mtimeFirstNs: u64(d, p + O.mtimeFirst),
    dir: lastDir.range(b, ps, ps + nameOff),
    name: decodeBytes(b, ps + nameOff, ps + pathLen),
    origin: decodeBytes(b, p + O.origin, p + O.origin + originLen),
  };
}

function pidExit(b: Buffer, p: number): PidExitRecord {
  return { type: 'pid_exit', hdr: header(b, p), exitCode: b.readUInt32LE(p + O.exitCode) };
}

/** Decodes the records of one FR_RECORDS frame body. Unknown record types are skipped. */
export function decodeRecords(body: Buffer, frameOffset = 0): KernelRecord[] {
  const out: KernelRecord[] = [];
  let p = 0;
  while (p < body.length) {
    if (body.length - p < REC_HDR.size) throw new FrameError('truncated record header', frameOffset + p);
    const type = body.readUInt16LE(p);
    const size = body.readUInt16LE(p + 2);
    if (size < REC_HDR.size || p + size > body.length) {
      throw new FrameError(`record size ${size} out of bounds`, frameOffset + p);
    }
    if (type === RecType.File) {
      if (size < FILE_RECORD_FIXED) throw new FrameError(`file record too short (${size})`, frameOffset + p);
      out.push(fileRecord(body, p, size, frameOffset));
    } else if (type === RecType.PidExit) {
      out.push(pidExit(body, p));
    } else if (type === RecType.Sock) {
      const r = decodeSockRecord(body, p, size, header(body, p), frameOffset);
      if (r) out.push(r);
    } else if (type === RecType.Proc) {
      const r = decodeProcRecord(body, p, size, header(body, p), frameOffset);
      if (r) out.push(r);
    } else if (type === REC_PAYLOAD) { // -p (src/protocols)
      const r = decodePayloadRecord(body, p, size, header(body, p), frameOffset);
      if (r) out.push(r);
    } else if (type === REC_PAYLOAD_STATS) {
      out.push(decodePayloadStats(body, p, size, header(body, p), frameOffset));
    }
    p += (size + 7) & ~7;
  }
  return out;
}

export function decodeHello(body: Buffer, offset = 0): SensorHello {
  if (body.length < HELLO.size) throw new FrameError('truncated hello frame', offset);
  if (body.readBigUInt64LE(0) !== STREAM_MAGIC) throw new FrameError('not a falconet sensor stream (bad magic)', offset);
  const version = body.readUInt32LE(8);
  if (version !== STREAM_VERSION) throw new FrameError(`unsupported stream version ${version}`, offset);
  const status = body.subarray(HELLO.size).toString('utf8').split('\0').filter((s) => s.length > 0);
  return {
    sensorPid: body.readUInt32LE(12),
    bootToRealNs: body.readBigInt64LE(16),
    startBootNs: body.readBigUInt64LE(24),
    monitors: body.readUInt32LE(32),
    programsAttached: body.readUInt32LE(36),
    programsSkipped: body.readUInt32LE(40),
    kernelRelease: cString(body, 48, 64),
    hostname: cString(body, 112, 64),
    programStatus: status,
  };
}

export function decodeStats(body: Buffer, offset = 0): SensorStats {
  if (body.length < STATS_FRAME_V1_SIZE) throw new FrameError('truncated stats frame', offset);
  const counters: Record<string, number> = {};
  STATS.forEach((name, i) => { if (name) counters[name] = Number(body.readBigUInt64LE(8 + 8 * i)); });
  return {
    bootNs: body.readBigUInt64LE(0),
    counters,
    recordsOut: Number(body.readBigUInt64LE(136)),
    sweeps: Number(body.readBigUInt64LE(144)),
    ringbufBytes: Number(body.readBigUInt64LE(152)),
    fileMapEntries: Number(body.readBigUInt64LE(160)),
    tcpExport: body.length >= STATS_FRAME_V2_SIZE ? TCP_EXPORT[Number(body.readBigUInt64LE(168))] ?? 'unknown' : 'unknown',
    uxMarks: body.length >= STATS_FRAME.size ? Number(body.readBigUInt64LE(176)) : 0,
  };
}

export function decodeFrame(f: Frame): SensorEvent {
  switch (f.kind) {
    case FrameKind.Hello: return { kind: 'hello', hello: decodeHello(f.body, f.offset) };
    case FrameKind.Records: return { kind: 'records', records: decodeRecords(f.body, f.offset + 8) };
    case FrameKind.Stats: return { kind: 'stats', stats: decodeStats(f.body, f.offset) };
    case FrameKind.Log: return { kind: 'log', text: f.body.toString('utf8') };
    case FrameKind.End: return { kind: 'end' };
  }
}
