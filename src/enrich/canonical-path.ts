// Canonical forms of the paths package databases list: the directory part resolved through
// symlinks (usr-merge: /bin → /usr/bin), the name kept, as the kernel reports exe and file
// paths. Used by the package index build (package-db.ts).
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';
import { FNV_BASIS, FNV_PRIME } from './packed-path-index.js';

/** FNV-1a's start value as an int32 (the hashes are kept as int32: no heap numbers) */
export const FNV_START = FNV_BASIS | 0;

/**
 * Resolves the directory part of listed paths through symlinks; keeps the name. The same result
 * as realpath(root + dir) (the listed form when that fails) at a fraction of its cost: a
 * directory is its canonical parent plus its name unless lstat says it is a symlink, and only
 * those few (usr-merge's /bin, /lib, …) go through realpath. One lstat per distinct directory.
 */
/** Canonicaliser's answer for a directory without links on the way */
const SAME = '\0same';

/** a directory's canonical form as bytes when it differs from the directory (a symlink on the
 * way; '/' is no bytes) and their FNV-1a hash; null: the directory as it is (no link on the way,
 * or it does not resolve) */
export type DirAnswer = null | { readonly bytes: Buffer; readonly hash: number };

export class Canonicaliser {
  /** canonical directories; null: does not resolve */
  private readonly real = new Map<string, string | null>();
  /** directories of listed paths with dot names or doubled slashes: realpath's answer */
  private readonly odd = new Map<string, string>();

  /** root-relative directories that resolved through a symlink → their answer (null: none) */
  readonly links = new Map<string, string | null>();

  /** the directory of the last path (without its trailing slash; '' for /) and its answer */
  private lastDir = '\0';
  private lastReal: string | null = null;

  /** dirBytes' answers, by canonical directory */
  private readonly answers = new Map<string, DirAnswer>();

  constructor(private readonly root: string) {}

  /** What path() does to the directory part of a path under `dir` (absolute, no dot names, no
   * doubled slashes; '/' for the root), as bytes. */
  dirBytes(dir: string): DirAnswer {
    const r = this.dir(dir);
    if (r === null || r === dir) return null;
    let a = this.answers.get(r);
    if (a === undefined) {
      const bytes = r === '/' ? Buffer.alloc(0) : Buffer.from(r, 'utf8');
      let hash = FNV_START;
      for (const c of bytes) hash = Math.imul(hash ^ c, FNV_PRIME);
      a = { bytes, hash };
      this.answers.set(r, a);
    }
    return a;
  }

  path(p: string): string {
    let real: string;
    let base: string;
    if (p.includes('//') || p.includes('/.') || p.endsWith('/')) {
      // dot names, doubled or trailing slashes: realpath itself, as the index always did
      const dir = path.posix.dirname(p);
      base = path.posix.basename(p);
      let r = this.odd.get(dir);
      if (r === undefined) {
        try {
          const rp = realpathSync.native(path.join(this.root, dir));
          r = this.root === '/' ? rp : '/' + path.relative(this.root, rp);
        } catch {
          r = dir;
        }
        this.odd.set(dir, r);
        if (r !== path.posix.normalize(dir)) this.links.set(dir, r === dir ? null : r);
      }
      real = r;
    } else {
      const i = p.lastIndexOf('/');
      // a list names a directory's files one after the other: the last directory's answer
      // serves them without slicing and hashing the directory again
      let r: string | null;
      if (i === this.lastDir.length && p.startsWith(this.lastDir)) r = this.lastReal;
      else {
        const dir = i <= 0 ? '/' : p.slice(0, i);
        r = this.dir(dir);
        this.lastDir = i <= 0 ? '' : dir;
        this.lastReal = r === dir ? SAME : r;
        if (r === dir) r = SAME;
      }
      if (r === null || r === SAME) return p; // missing directory: the listed form; or no link on the way
      base = p.slice(i + 1);
      real = r;
    }
    return real === '/' ? `/${base}` : `${real}/${base}`;
  }

  /**
   * What realpath(root + dir) gives for an absolute directory without dot names or doubled
   * slashes (root-relative), null when it fails. A child of something that is not a directory
   * fails at its lstat (ENOTDIR), as in realpath.
   */
  private dir(dir: string): string | null {
    if (dir === '/') return '/';
    let real = this.real.get(dir);
    if (real !== undefined) return real;
    const i = dir.lastIndexOf('/');
    const parent = this.dir(i === 0 ? '/' : dir.slice(0, i));
    real = null;
    if (parent !== null) {
      const name = dir.slice(i + 1);
      const cand = parent === '/' ? `/${name}` : `${parent}/${name}`;
      let st: Stats | undefined;
      try { st = lstatSync(this.root === '/' ? cand : path.join(this.root, cand), { throwIfNoEntry: false }); } catch { st = undefined; }
      if (st && !st.isSymbolicLink()) real = cand;
      else if (st) {
        try {
          const r = realpathSync.native(path.join(this.root, cand));
          real = this.root === '/' ? r : '/' + path.relative(this.root, r);
        } catch {
          real = null; // dangling, a loop, unreadable
        }
        this.links.set(cand, real);
      }
    }
    this.real.set(dir, real);
    return real;
  }
}
