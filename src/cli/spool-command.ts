// `falconet spool inspect DIR` and `falconet spool verify DIR`: what a spool holds, and whether
// every frame checks out. Both are read-only. verify exits 1 when something is damaged (the
// agent would repair it on its next start: torn tails truncated, corrupt frames skipped).
import type { Command } from 'commander';
import { reportSpool, type SpoolReport } from '../sinks/spool-report.js';

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${u[i]}`;
}

function print(r: SpoolReport, verbose: boolean): string {
  const out: string[] = [];
  out.push(`spool ${r.dir}: ${r.segments.length} segments, ${r.records} records, ${human(r.bytes)}${r.lockedBy ? ` (in use by process ${r.lockedBy})` : ''}`);
  for (const s of r.segments) {
    if (!verbose && !s.problem) continue;
    out.push(`  ${s.file}  ${String(s.records).padStart(9)} records  ${human(s.bytes).padStart(10)}  ${s.first ?? '-'} .. ${s.last ?? '-'}${s.problem ? `  PROBLEM: ${s.problem}` : ''}`);
  }
  for (const c of r.cursors) {
    const pos = (p: { seg: number; off: number } | null) => (p ? `${p.seg}:${p.off}` : '-');
    out.push(`  cursor ${c.consumer}: acked ${pos(c.acked)} sent ${pos(c.sent)}, ${c.pending} records to deliver${c.problem ? `  PROBLEM: ${c.problem}` : ''}`);
  }
  const k = Object.entries(r.counters).filter(([, v]) => v > 0);
  if (k.length) out.push(`  history: ${k.map(([a, b]) => `${a}=${b}`).join(' ')}`);
  out.push(`  ${r.sound ? 'sound' : 'DAMAGED (repaired automatically at the next start)'}`);
  return out.join('\n') + '\n';
}

export function registerSpoolCommand(program: Command): void {
  const spool = program.command('spool').description('disk spool tools (read-only)');
  spool
    .command('inspect')
    .description('what a spool holds: segments, record ids, per-sink cursors, drop history')
    .argument('<dir>', 'spool directory (the spool= of a sink)')
    .option('--json', 'machine-readable output')
    .action((dir: string, opts: { json?: boolean }) => {
      const r = reportSpool(dir);
      process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : print(r, true));
    });
  spool
    .command('verify')
    .description('check every frame of a spool; exit 1 if anything is damaged')
    .argument('<dir>', 'spool directory')
    .option('--json', 'machine-readable output')
    .action((dir: string, opts: { json?: boolean }) => {
      const r = reportSpool(dir);
      process.stdout.write(opts.json ? JSON.stringify({ dir: r.dir, sound: r.sound, records: r.records, bytes: r.bytes, problems: [...r.segments, ...r.cursors].filter((x) => x.problem) }, null, 2) + '\n' : print(r, false));
      if (!r.sound) process.exitCode = 1;
    });
}
