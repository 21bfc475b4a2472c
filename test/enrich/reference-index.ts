// The package index as it was built before the per-directory resolver and the byte build, for
// tests that compare the current build with it.
import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { parseDpkgStatus } from '../../src/enrich/packages.js';

/** UTF-8 text split into lines, realpath of each listed path's
 * directory (the listed form when that fails), the first package listing a path wins. */
export function referenceIndex(dpkgDir: string, root: string): Map<string, string> {
  const pkgs = parseDpkgStatus(readFileSync(path.join(dpkgDir, 'status'), 'utf8'));
  const byName = new Map<string, string>();
  for (const p of pkgs) {
    byName.set(`${p.name}:${p.arch}`, `${p.name}\t${p.version}`);
    if (!byName.has(p.name)) byName.set(p.name, `${p.name}\t${p.version}`);
  }
  const out = new Map<string, string>();
  const dirs = new Map<string, string>();
  for (const f of readdirSync(path.join(dpkgDir, 'info')).filter((n) => n.endsWith('.list'))) {
    const owner = byName.get(f.slice(0, -5));
    if (!owner) continue;
    for (const line of readFileSync(path.join(dpkgDir, 'info', f), 'utf8').split('\n')) {
      if (!line.startsWith('/') || line === '/.') continue;
      const dir = path.posix.dirname(line);
      let real = dirs.get(dir);
      if (real === undefined) {
        try {
          const r = realpathSync.native(path.join(root, dir));
          real = root === '/' ? r : '/' + path.relative(root, r);
        } catch {
          real = dir;
        }
        dirs.set(dir, real);
      }
      const base = path.posix.basename(line);
      const canon = real === '/' ? `/${base}` : `${real}/${base}`;
      if (!out.has(canon)) out.set(canon, owner);
      if (canon !== line && !out.has(line)) out.set(line, owner);
    }
  }
  return out;
}
