// Reading the package databases into a path → owner table: dpkg's status and info/*.list, rpm's
// database through `rpm -qa --qf`. Runs in the package index worker
// (src/enrich/package-index-worker.ts), so it is plain synchronous code: nothing here is on the
// record path. Listed paths are canonicalised by resolving symlinked DIRECTORIES (usr-merge:
// /bin → /usr/bin), never the last component.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, lstatSync, readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

export interface PackageOwner {
  readonly pkg: string;
  readonly version: string;
  readonly arch: string;
  readonly source: 'dpkg' | 'rpm';
}

export interface DpkgPackage { name: string; version: string; arch: string }

/**
 * Installed packages from a dpkg status file. Only stanzas whose Status ends in "installed"
 * count (config-files, half-installed and not-installed are skipped). Malformed stanzas are
 * skipped; the first malformed line is reported through `onError` with its line number.
 */
export function parseDpkgStatus(text: string, onError?: (msg: string) => void): DpkgPackage[] {
  const out: DpkgPackage[] = [];
  let cur: Record<string, string> = {};
  let lineNo = 0;
  let reported = false;
  const finish = () => {
    const name = cur['package'];
    const status = cur['status'] ?? '';
    if (name && cur['version'] !== undefined && /\binstalled$/.test(status.trim()) && !/config-files|half-installed|not-installed/.test(status)) {
      out.push({ name, version: cur['version'], arch: cur['architecture'] ?? '' });
    }
    cur = {};
  };
  for (const line of text.split('\n')) {
    lineNo++;
    if (line === '' || line === '\r') { finish(); continue; }
    if (line[0] === ' ' || line[0] === '\t') continue; // continuation of a multi-line field
    const c = line.indexOf(':');
    if (c <= 0) {
      if (!reported && onError) { onError(`dpkg status line ${lineNo}: expected "Field: value"`); reported = true; }
      continue;
    }
    cur[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
  }
  finish();
  return out;
}

/** rpm -qa output in the form RPM_QUERY_FORMAT produces: "name\tversion\tarch\tpath" lines. */
export function parseRpmQuery(text: string): Array<{ path: string; owner: PackageOwner }> {
  const out: Array<{ path: string; owner: PackageOwner }> = [];
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length !== 4 || !f[0] || !f[3]?.startsWith('/')) continue;
    out.push({ path: f[3], owner: { pkg: f[0], version: f[1]!, arch: f[2]!, source: 'rpm' } });
  }
  return out;
}
/** One line per file; `(none)` epochs are left out, as `rpm -q --qf '%{EVR}'` does. */
export const RPM_QUERY_FORMAT = '[%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{FILENAMES}\\n]';

export interface PackageDbOptions {
  /** dpkg's admin directory (status, info/) */
  dpkgDir: string;
  /** filesystem root the listed paths are resolved against (tests: a fixture tree) */
  root: string;
  /** rpm binary; null: do not query rpm */
  rpm: string | null;
}

/** Where the paths go: the first owner added for a path wins. */
export interface PathSink {
  /** true when the path was not there yet */
  add(path: string, owner: PackageOwner): boolean;
}

export interface PackageDb {
  packages: number;
  /** why rpm was not read, when it was not */
  rpmNote: string;
  /** the first malformed line of dpkg's status, if any */
  warnings: string[];
  /** directories whose canonical form went through a symlink, and what they resolved to (null:
   * did not resolve): the index cache checks them again before it is used */
  links: Array<[string, string | null]>;
}

/** Reads dpkg's and rpm's databases into `into` (the first package listing a path wins). */
export function readPackageDb(opts: PackageDbOptions, into: PathSink): PackageDb {
  const warnings: string[] = [];
  const dc = new Canonicaliser(opts.root);
  const rc = new Canonicaliser(opts.root);
  const dpkg = readDpkg(opts.dpkgDir, into, dc, warnings);
  const rpm = readRpm(opts.rpm, into, rc);
  const links = new Map([...dc.links, ...rc.links]);
  return { packages: dpkg + rpm.packages, rpmNote: rpm.note, warnings, links: [...links] };
}

function readDpkg(dpkgDir: string, into: PathSink, canon: Canonicaliser, warnings: string[]): number {
  let status: string;
  try {
    status = readFileSync(path.join(dpkgDir, 'status'), 'utf8');
  } catch {
    return 0; // no dpkg on this machine
  }
  const pkgs = parseDpkgStatus(status, (m) => warnings.push(m));
  const byName = new Map<string, DpkgPackage>();
  for (const p of pkgs) {
    byName.set(`${p.name}:${p.arch}`, p);
    if (!byName.has(p.name)) byName.set(p.name, p);
  }
  const infoDir = path.join(dpkgDir, 'info');
  let files: string[] = [];
  try { files = readdirSync(infoDir).filter((f) => f.endsWith('.list')); } catch { /* no info dir */ }
  let used = 0;
  for (const f of files) {
    const key = f.slice(0, -'.list'.length); // "pkg" or "pkg:arch" (Multi-Arch: same)
    const p = byName.get(key);
    if (!p) continue; // removed package whose list is left over
    used++;
    let text: string;
    try { text = readFileSync(path.join(infoDir, f), 'utf8'); } catch { continue; }
    const owner: PackageOwner = { pkg: p.name, version: p.version, arch: p.arch, source: 'dpkg' };
    for (const line of text.split('\n')) {
      if (!line.startsWith('/') || line === '/.') continue;
      const c = canon.path(line);
      into.add(c, owner);
      if (c !== line) into.add(line, owner);
    }
  }
  return used;
}

/** Is `cmd` (a path, or a name looked up on PATH) an executable file? */
export function executable(cmd: string): boolean {
  const ok = (p: string) => { try { accessSync(p, constants.X_OK); return statSync(p).isFile(); } catch { return false; } };
  if (cmd.includes('/')) return ok(cmd);
  return (process.env['PATH'] ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && ok(path.join(d, cmd)));
}

function readRpm(rpm: string | null, into: PathSink, canon: Canonicaliser): { packages: number; note: string } {
  if (rpm === null) return { packages: 0, note: 'rpm disabled' };
  // Spawning forks the whole agent, which write-protects every page it has: the main thread
  // then takes a page fault on each page it writes again (~30,000 after one spawn, ~10 % of its
  // CPU over the next 200,000 records). Where no rpm binary exists (Debian), do not spawn.
  if (!executable(rpm)) return { packages: 0, note: `no rpm database (${rpm} not found)` };
  let text: string;
  try {
    text = execFileSync(rpm, ['-qa', '--qf', RPM_QUERY_FORMAT], { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return { packages: 0, note: `no rpm database (${rpm} not runnable or failed)` };
  }
  const pkgs = new Set<string>();
  for (const { path: p, owner } of parseRpmQuery(text)) {
    pkgs.add(owner.pkg);
    const c = canon.path(p);
    into.add(c, owner);
  }
  return { packages: pkgs.size, note: '' };
}

/**
 * Resolves the directory part of listed paths through symlinks; keeps the name. The same result
 * as realpath(root + dir) (the listed form when that fails) at a fraction of its cost: a
 * directory is its canonical parent plus its name unless lstat says it is a symlink, and only
 * those few (usr-merge's /bin, /lib, …) go through realpath. One lstat per distinct directory.
 */
/** Canonicaliser's answer for a directory without links on the way */
const SAME = '\0same';

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

  constructor(private readonly root: string) {}

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
