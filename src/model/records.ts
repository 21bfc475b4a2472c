// Typed kernel records as decoded from bpf/records.h. Timestamps stay bigint nanoseconds
// (CLOCK_BOOTTIME for ts/ts_first/proc_start, CLOCK_REALTIME for inode times).

export interface ProcHeader {
  flags: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  tsFirst: bigint;
  ts: bigint;
  procStart: bigint;
  comm: string;
  exe: string;
  parentExe: string;
}

export interface FileRecord {
  type: 'file';
  hdr: ProcHeader;
  events: number;
  /** counts indexed like FILE_EVENTS */
  event: number[];
  ino: number;
  /** kernel dev_t: major << 20 | minor */
  dev: number;
  mode: number;
  nlink: number;
  iuid: number;
  igid: number;
  openFlags: number;
  sizeFirst: number;
  size: number;
  bytesRead: number;
  bytesWritten: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  mtimeFirstNs: bigint;
  /** directory part of the kernel path, with trailing '/' */
  dir: string;
  /** basename */
  name: string;
  /** old basename after a rename, else '' */
  origin: string;
}

export interface PidExitRecord {
  type: 'pid_exit';
  hdr: ProcHeader;
  exitCode: number;
}

import type { SockRecord } from './socket-record.js';
import type { ProcRecord } from './process-record.js';
import type { PayloadRecord, PayloadStatsRecord } from './payload-record.js';

export type KernelRecord = FileRecord | PidExitRecord | SockRecord | ProcRecord | PayloadRecord | PayloadStatsRecord;

export interface SensorHello {
  sensorPid: number;
  bootToRealNs: bigint;
  startBootNs: bigint;
  monitors: number;
  programsAttached: number;
  programsSkipped: number;
  kernelRelease: string;
  hostname: string;
  /** one line per program the kernel could not take */
  programStatus: string[];
}

export interface SensorStats {
  bootNs: bigint;
  counters: Record<string, number>;
  recordsOut: number;
  sweeps: number;
  ringbufBytes: number;
  fileMapEntries: number;
  /** how the socket monitor exports TCP records: 'iterator', 'map-walk' (the kernel refused the
   * iterator, or --no-sk-iter), 'off' (no socket monitor); 'unknown' in older recordings */
  tcpExport: 'off' | 'iterator' | 'map-walk' | 'unknown';
  /** UNIX call marks held by 6.1's fallback (0 elsewhere, and in streams recorded before it) */
  uxMarks: number;
}

export type SensorEvent =
  | { kind: 'hello'; hello: SensorHello }
  | { kind: 'records'; records: KernelRecord[] }
  | { kind: 'stats'; stats: SensorStats }
  | { kind: 'log'; text: string }
  | { kind: 'end' };
