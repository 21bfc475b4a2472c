// CPU time of the calling thread (main or worker), from /proc/thread-self/schedstat (its first
// field: ns on a CPU). Node 20 has no per-thread CPU clock; process.cpuUsage() covers all
// threads. undefined where schedstat is not available.
import { readFileSync } from 'node:fs';

export function threadCpuMs(): number | undefined {
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}
