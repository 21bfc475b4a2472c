// Scratch directories of a test file or a bench, removed when the process exits (also when it
// exits on an error): left behind, they piled up in /tmp by the hundred.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A new directory under the system's tmpdir, named prefix + random; gone at exit. */
export function scratchDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(d);
  return d;
}
