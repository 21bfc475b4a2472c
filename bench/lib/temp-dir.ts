// Scratch directories of a bench, removed when the process exits (also on an error's exit):
// the benches' tmpdirs held the floors' scripts, storms' binaries and record files of every run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A new directory under the system's tmpdir, named prefix + random; gone at exit. */
export function benchTempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(d);
  return d;
}
