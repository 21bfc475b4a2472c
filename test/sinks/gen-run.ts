// Runs the generator (gen.ts) as a child process, the way the agent runs: it can be SIGKILLed.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DeliveryStats } from '../../src/sinks/delivery.js';
import type { GenConfig } from './gen.js';

export interface GenResult {
  name: string;
  stats: DeliveryStats;
  next: number;
  dropped: Record<string, number>;
}

export interface GenRun {
  readonly proc: ChildProcess;
  stderr: string;
  /** resolves with the per-sink results (empty if killed) and the exit code or signal */
  readonly done: Promise<{ results: GenResult[]; code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

const GEN = fileURLToPath(new URL('./gen.js', import.meta.url));

export function runGen(cfg: GenConfig): GenRun {
  const proc = spawn(process.execPath, [GEN, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const run: GenRun = {
    proc,
    stderr: '',
    done: new Promise((resolve) => {
      proc.on('close', (code, signal) => {
        const results = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as GenResult);
        resolve({ results, code, signal });
      });
    }),
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await run.done;
    },
  };
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

/** Record ids reported as possible duplicates in the Delivery's log lines: [from, to] ranges per sink. */
export function reportedResends(stderr: string): { sink: string; from: number; to: number; n: number }[] {
  const out: { sink: string; from: number; to: number; n: number }[] = [];
  const re = /sink (\S+): re-sending (\d+) records that may have been delivered already: [^:\s]+:[^:\s]+:(\d+) \.\. [^:\s]+:[^:\s]+:(\d+)/g;
  for (const m of stderr.matchAll(re)) out.push({ sink: m[1]!, n: Number(m[2]), from: Number(m[3]), to: Number(m[4]) });
  return out;
}

/** Counts per sequence number. */
export function tally(seqs: Iterable<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (const q of seqs) m.set(q, (m.get(q) ?? 0) + 1);
  return m;
}
