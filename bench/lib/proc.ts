// Helpers the kernel benches share: medians, /proc CPU times, child processes, start-up lines.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The upper median (no averaging: every value printed is one a run measured). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** utime + stime of a process in seconds; 0 once it is gone. */
export function procCpu(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** The children of a process's main thread ([] once it is gone): an agent's sensor. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** utime + stime of this process's reaped children, in seconds. */
export function childrenCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

/** Resolves with what the stream printed so far once it includes needle; rejects if the child
 * exits first. */
export function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', needle: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child[stream]!.setEncoding('utf8').on('data', (d: string) => { buf += d; if (buf.includes(needle)) resolve(buf); });
    child.on('close', (c) => reject(new Error(`exited ${c} before "${needle}": ${buf}`)));
  });
}
