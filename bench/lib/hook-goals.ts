// Per-hook cost goals (issue 16) and the table the benches print beside their ratios.
// Means are bpf_stats run time per invocation, which includes the accounting's own two clock
// reads: the count-only floor's program shows that base cost in the same run.
import type { ProgStats } from './bpf-stats.js';

/** Goal in mean ns per invocation, by BPF program name. */
export const HOOK_GOALS: Readonly<Record<string, number>> = {
  proc_fork: 2000,
  proc_exit_task: 2000,
  proc_enter_execve: 1000,
  /** the one exit program of every process-monitor syscall (execve's among them; a successful
   * exec is reported by proc_exec), so its mean is over all of them */
  proc_exit_syscall: 1000,
  file_exit_openat: 400,
  file_enter_close: 400,
  file_exit_write: 120,
  /** measured in a pass where no path operation of the workload is in flight */
  'file_ctime_skip (no tracked operation)': 60,
};

export interface HookRow { hook: string; runs: number; meanNs: number }

/** Rows of the programs whose names pass keep, from two bpf_stats samples. */
export function hookRows(before: ProgStats, after: ProgStats, keep: (name: string) => boolean): HookRow[] {
  const rows: HookRow[] = [];
  for (const [name, s] of after) {
    if (!keep(name)) continue;
    const p = before.get(name) ?? { runNs: 0, runs: 0 };
    const runs = s.runs - p.runs;
    if (runs > 0) rows.push({ hook: name, runs, meanNs: (s.runNs - p.runNs) / runs });
  }
  return rows;
}

/** Markdown table: hook, mean ns, invocations, goal, met?; goal hooks first, then the busiest
 * others up to limit rows. */
export function hookTable(rows: HookRow[], limit = 12): string {
  const goal = rows.filter((r) => r.hook in HOOK_GOALS);
  const rest = rows.filter((r) => !(r.hook in HOOK_GOALS)).sort((a, b) => b.runs * b.meanNs - a.runs * a.meanNs);
  const lines = ['| hook | mean ns | invocations | goal ns | met? |', '|---|---|---|---|---|'];
  for (const r of [...goal.sort((a, b) => a.hook.localeCompare(b.hook)), ...rest].slice(0, Math.max(limit, goal.length))) {
    const g = HOOK_GOALS[r.hook];
    lines.push(`| ${r.hook} | ${r.meanNs.toFixed(0)} | ${r.runs} | ${g === undefined ? '' : `<= ${g}`} | ${g === undefined ? '' : r.meanNs <= g ? 'yes' : 'NO'} |`);
  }
  return lines.join('\n');
}
