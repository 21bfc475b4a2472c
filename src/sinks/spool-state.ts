// The spool directory's small state files: `lock` (the pid of the process using it) and
// `stats.json` (drops and repairs inside the spool, kept across restarts; informational).
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Drops and repairs that happened inside the spool; kept in stats.json across restarts. */
export interface SpoolCounters {
  evictedRecords: number;
  truncatedBytes: number;
  corruptSkippedBytes: number;
}

/** Takes the directory's lock, or throws naming the live process that holds it. */
export function lockSpool(dir: string): void {
  const p = join(dir, 'lock');
  if (existsSync(p)) {
    const pid = Number(readFileSync(p, 'utf8').trim());
    if (pid > 0 && pid !== process.pid && alive(pid)) throw new Error(`spool ${dir} is in use by process ${pid}`);
  }
  writeFileSync(p, `${process.pid}\n`);
}

export function unlockSpool(dir: string): void {
  try {
    unlinkSync(join(dir, 'lock'));
  } catch {
    /* already gone */
  }
}

/** The saved counters; zeros when the file is absent or unreadable. */
export function loadCounters(dir: string): SpoolCounters {
  const c: SpoolCounters = { evictedRecords: 0, truncatedBytes: 0, corruptSkippedBytes: 0 };
  try {
    const j = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8')) as Partial<SpoolCounters>;
    for (const k of ['evictedRecords', 'truncatedBytes', 'corruptSkippedBytes'] as const) {
      if (typeof j[k] === 'number') c[k] = j[k];
    }
  } catch {
    /* absent or unreadable: start from zero (the file is informational) */
  }
  return c;
}

export function saveCounters(dir: string, c: SpoolCounters): void {
  const p = join(dir, 'stats.json');
  writeFileSync(p + '.tmp', JSON.stringify(c) + '\n');
  renameSync(p + '.tmp', p);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
