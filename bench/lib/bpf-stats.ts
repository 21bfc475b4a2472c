// Per-program BPF run time (kernel.bpf_stats_enabled must be on while measuring: withBpfStats).
import { execFileSync } from 'node:child_process';

export type ProgStats = Map<string, { runNs: number; runs: number }>;

/** run_time_ns and run_cnt of every loaded program, by name. */
export function bpfProgStats(): ProgStats {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as
    { name?: string; run_time_ns?: number; run_cnt?: number }[];
  const m: ProgStats = new Map();
  for (const p of list) if (p.name) m.set(p.name, { runNs: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 });
  return m;
}

/** The same by program id (names need not be unique: bpftrace's are not), with the name. */
export function bpfProgStatsById(): Map<number, { name: string; runNs: number; runs: number }> {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as
    { id: number; name?: string; run_time_ns?: number; run_cnt?: number }[];
  return new Map(list.map((p) => [p.id, { name: p.name ?? '', runNs: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 }]));
}

/** Runs work with kernel.bpf_stats_enabled on, and off again however it ends (the accounting
 * adds its own cost to every program run). */
export async function withBpfStats<T>(work: () => Promise<T>): Promise<T> {
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  try {
    return await work();
  } finally {
    execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=0']);
  }
}
