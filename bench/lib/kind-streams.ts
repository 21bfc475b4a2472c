// Synthetic sensor streams shaped like the storms' records, for the userspace benches
// (record-kinds, micro/decode-records): a process storm (FORK in the parent, EXEC, MMAP of libc and
// EXIT in the child), a connection storm (TCP CLIENT and SERVER records) and pipeline-throughput's
// file records, in batches of 64 as the sensor sends a storm's.
import { writeFileSync } from 'node:fs';
import { end, fileRecord, hello, procRecord, records, sockRecord } from '../../test/unit/stream-builder.js';

const FIN = 1, SYN = 2, PSH = 8, ACK = 16;

export const KINDS = ['file', 'process', 'socket'] as const;
export type Kind = (typeof KINDS)[number];

/** A stream of n records of `kind`; pass p > 0 gives the same shape with events of its own. */
export function writeKindStream(kind: Kind, n: number, file: string, pass = 0): void {
  const frames: Buffer[] = [hello()];
  const batch: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const i = pass * n + k;
    const ts = 2_000_000_000n + BigInt(k) * 100_000n;
    if (kind === 'file') {
      batch.push(fileRecord({ pid: 1000 + (i % 50), ino: 5000 + i, path: `/var/lib/app/data/file-${i}.dat`, ts }));
    } else if (kind === 'process') {
      const child = 20_000 + (i >> 2), start = ts - 1_000_000n;
      const c = { pid: child, ppid: 1000, exe: 'true', parentExe: 'bash', procStart: start, ts };
      switch (i & 3) {
        case 0: batch.push(procRecord({ pid: 1000, ppid: 900, exe: 'bash', parentExe: 'sshd', ts, event: 'FORK', ret: BigInt(child), args: [BigInt(child), BigInt(child), 0x1200011n, start] })); break;
        case 1: batch.push(procRecord({ ...c, event: 'EXEC', strs: ['/usr/bin/true', '/bin/true', '', 'true'], args: [BigInt(child), 1n] })); break;
        case 2: batch.push(procRecord({ ...c, event: 'MMAP', ret: 0x7f0000000000n, args: [0n, 0x1c6000n, 5n, 0x802n, 3n, 0x28000n], strs: ['/usr/lib/x86_64-linux-gnu/libc.so.6'] })); break;
        default: batch.push(procRecord({ ...c, event: 'EXIT', args: [0n, 1n] }));
      }
    } else {
      const port = 30_000 + ((i >> 1) % 30_000);
      // a storm connection's packets by TCP flags, first-seen order, as a real record has them
      const active: [number, number][] = [[SYN, 1], [ACK, 2], [PSH | ACK, 1], [FIN | ACK, 1]];
      const passive: [number, number][] = [[SYN | ACK, 1], [PSH | ACK, 1], [FIN | ACK, 1], [ACK, 1]];
      batch.push(sockRecord(i & 1
        ? { pid: 1200, exe: 'server', ts, laddr: [127, 0, 0, 1], raddr: [127, 0, 0, 1], lport: 8080, rport: port, role: 1, txBytes: 1, rxBytes: 1, state: 7, rxFlags: active, txFlags: passive }
        : { pid: 1100, exe: 'client', ts, laddr: [127, 0, 0, 1], raddr: [127, 0, 0, 1], lport: port, rport: 8080, txBytes: 1, rxBytes: 1, state: 7, txFlags: active, rxFlags: passive }));
    }
    // the sensor's batches of a storm: ~40 ms of records
    if (batch.length === 64) frames.push(records(batch.splice(0)));
  }
  if (batch.length) frames.push(records(batch));
  frames.push(end());
  writeFileSync(file, Buffer.concat(frames));
}
