// Package versions by FULL path (kflowd -v: ProcVersion, FileVersion). kflowd looks versions up
// by basename, which mixes up same-named executables; we index every path a package owns:
// dpkg's status (installed packages and their versions) plus info/<pkg>[:arch].list, and rpm's
// database through `rpm -qa --qf` when rpm is installed. Listed paths are canonicalised by
// resolving symlinked DIRECTORIES (usr-merge: /bin → /usr/bin), not the final component, so a
// kernel exe path (always canonical) finds its package while /usr/bin/python3 (a symlink owned
// by python3-minimal) does not shadow /usr/bin/python3.11 (owned by python3.11-minimal).
//
// The index is built asynchronously (in slices of SLICE_MS between which records flow), never on the record path,
// and rebuilt when /var/lib/dpkg/status is replaced (fs.watch on its directory, debounced).
// Versions are dpkg's ${Version} verbatim, epoch included (what `dpkg-query -W -f='${Version}'`
// prints); kflowd cut them at ':' but its own README sample shows the epoch.
import { execFile } from 'node:child_process';
import { lstatSync, readFileSync, realpathSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord } from '../model/records.js';
import type { Envelope, Stage, StageContext } from '../pipeline/types.js';
import { fileRecordPath, isExecutableFile } from './file-path.js';

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

export interface PackageIndexOptions {
  /** dpkg's admin directory (status, info/) */
  dpkgDir?: string;
  /** filesystem root the listed paths are resolved against (tests: a fixture tree) */
  root?: string;
  /** rpm binary; null: do not query rpm */
  rpm?: string | null;
  /** rebuild this long after the last change of the status file */
  debounceMs?: number;
  log?: (text: string) => void;
}

export interface PackageIndexStats {
  builds: number;
  packages: number;
  paths: number;
  lastBuildMs: number;
  /** why rpm was not read, when it was not */
  rpmNote: string;
}

const yieldNow = () => new Promise<void>((r) => setImmediate(r));
/** the index build runs this long at most before it lets records through */
const SLICE_MS = 4;

/** Canonical directories for one build; `null`: does not resolve. */
class DirCache {
  readonly real = new Map<string, string | null>();
  /** directories of listed paths with dot names or doubled slashes: realpath's answer */
  readonly odd = new Map<string, string>();
}

export class PackageIndex {
  private byPath = new Map<string, PackageOwner>();
  private readonly dpkgDir: string;
  private readonly root: string;
  private readonly rpm: string | null;
  private readonly debounceMs: number;
  private readonly log: (text: string) => void;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private building: Promise<void> | undefined;
  private rebuildAgain = false;
  private firstBuild: Promise<void> | undefined;
  readonly stats: PackageIndexStats = { builds: 0, packages: 0, paths: 0, lastBuildMs: 0, rpmNote: '' };

  constructor(opts: PackageIndexOptions = {}) {
    this.dpkgDir = opts.dpkgDir ?? '/var/lib/dpkg';
    this.root = opts.root ?? '/';
    this.rpm = opts.rpm === undefined ? 'rpm' : opts.rpm;
    this.debounceMs = opts.debounceMs ?? 1000;
    this.log = opts.log ?? (() => {});
  }

  /** true once the first build finished */
  get ready(): boolean {
    return this.stats.builds > 0;
  }

  /** Starts the first build (idempotent); the promise settles when it is done. */
  start(): Promise<void> {
    this.firstBuild ??= this.rebuild();
    return this.firstBuild;
  }

  /** The owner of an absolute, canonical path (as the kernel reports exe and file paths). */
  lookup(p: string): PackageOwner | undefined {
    return this.byPath.get(p);
  }

  /** Every indexed path and its owner (tests, diagnostics). */
  entries(): IterableIterator<[string, PackageOwner]> {
    return this.byPath.entries();
  }

  /** Rebuilds now (coalescing concurrent requests); the new map replaces the old one whole. */
  rebuild(): Promise<void> {
    if (this.building) {
      this.rebuildAgain = true;
      return this.building;
    }
    this.building = (async () => {
      do {
        this.rebuildAgain = false;
        const t0 = performance.now();
        const next = new Map<string, PackageOwner>();
        const n = (await this.readDpkg(next)) + (await this.readRpm(next));
        this.byPath = next;
        this.stats.builds++;
        this.stats.packages = n;
        this.stats.paths = next.size;
        this.stats.lastBuildMs = performance.now() - t0;
      } while (this.rebuildAgain);
    })().finally(() => { this.building = undefined; });
    return this.building;
  }

  /** Rebuilds when dpkg's status file changes (dpkg replaces it by rename: watch the directory). */
  watch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dpkgDir, (_ev, name) => {
        if (name !== 'status') return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.rebuild().catch((e: Error) => this.log(`package index rebuild failed: ${e.message}`));
        }, this.debounceMs);
      });
      this.watcher.on('error', (e) => this.log(`package database watch failed: ${e.message}`));
    } catch (e) {
      this.log(`cannot watch ${this.dpkgDir}: ${(e as Error).message}`);
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async readDpkg(into: Map<string, PackageOwner>): Promise<number> {
    let status: string;
    try {
      status = await readFile(path.join(this.dpkgDir, 'status'), 'utf8');
    } catch {
      return 0; // no dpkg on this machine
    }
    const pkgs = parseDpkgStatus(status, (m) => this.log(m));
    const byName = new Map<string, DpkgPackage>();
    for (const p of pkgs) {
      byName.set(`${p.name}:${p.arch}`, p);
      if (!byName.has(p.name)) byName.set(p.name, p);
    }
    const infoDir = path.join(this.dpkgDir, 'info');
    let files: string[] = [];
    try { files = (await readdir(infoDir)).filter((f) => f.endsWith('.list')); } catch { /* no info dir */ }
    const dirCache = new DirCache();
    let used = 0;
    let slice = performance.now();
    for (const f of files) {
      const key = f.slice(0, -'.list'.length); // "pkg" or "pkg:arch" (Multi-Arch: same)
      const p = byName.get(key);
      if (!p) continue; // removed package whose list is left over
      used++;
      let text: string;
      // small files (a few KB): read synchronously, in slices of a few ms between yields
      try { text = readFileSync(path.join(infoDir, f), 'utf8'); } catch { continue; }
      const owner: PackageOwner = { pkg: p.name, version: p.version, arch: p.arch, source: 'dpkg' };
      for (const line of text.split('\n')) {
        if (!line.startsWith('/') || line === '/.') continue;
        const canon = this.canonical(line, dirCache);
        if (!into.has(canon)) into.set(canon, owner);
        if (canon !== line && !into.has(line)) into.set(line, owner);
      }
      if (performance.now() - slice >= SLICE_MS) { await yieldNow(); slice = performance.now(); } // records keep flowing while we build
    }
    return used;
  }

  /**
   * Resolves the directory part through symlinks; keeps the name. The same result as
   * realpath(root + dir) (the listed form when that fails) at a fraction of its cost: a directory
   * is its canonical parent plus its name unless lstat says it is a symlink, and only those few
   * (usr-merge's /bin, /lib, …) go through realpath. One lstat per distinct directory (cached
   * in `cache`), synchronous, so the 135,000 lines of a Debian system's lists cost no promise
   * each; the caller yields between list files.
   */
  private canonical(p: string, cache: DirCache): string {
    let real: string;
    let base: string;
    if (p.includes('//') || p.includes('/.') || p.endsWith('/')) {
      // dot names, doubled or trailing slashes: realpath itself, as the index always did
      const dir = path.posix.dirname(p);
      base = path.posix.basename(p);
      let r = cache.odd.get(dir);
      if (r === undefined) {
        try {
          const rp = realpathSync.native(path.join(this.root, dir));
          r = this.root === '/' ? rp : '/' + path.relative(this.root, rp);
        } catch {
          r = dir;
        }
        cache.odd.set(dir, r);
      }
      real = r;
    } else {
      const i = p.lastIndexOf('/');
      const dir = i <= 0 ? '/' : p.slice(0, i);
      base = p.slice(i + 1);
      const r = this.canonicalDir(dir, cache);
      if (r === null || r === dir) return p; // missing directory: the listed form; or no link on the way
      real = r;
    }
    return real === '/' ? `/${base}` : `${real}/${base}`;
  }

  /**
   * What realpath(root + dir) gives for an absolute directory without dot names or doubled
   * slashes (root-relative), null when it fails. A child of something that is not a directory
   * fails at its lstat (ENOTDIR), as in realpath.
   */
  private canonicalDir(dir: string, cache: DirCache): string | null {
    if (dir === '/') return '/';
    let real = cache.real.get(dir);
    if (real !== undefined) return real;
    const i = dir.lastIndexOf('/');
    const parent = this.canonicalDir(i === 0 ? '/' : dir.slice(0, i), cache);
    real = null;
    if (parent !== null) {
      const name = dir.slice(i + 1);
      const cand = parent === '/' ? `/${name}` : `${parent}/${name}`;
      let st: Stats | undefined;
      try { st = lstatSync(path.join(this.root, cand), { throwIfNoEntry: false }); } catch { st = undefined; }
      if (st && !st.isSymbolicLink()) real = cand;
      else if (st) {
        try {
          const r = realpathSync.native(path.join(this.root, cand));
          real = this.root === '/' ? r : '/' + path.relative(this.root, r);
        } catch {
          real = null; // dangling, a loop, unreadable
        }
      }
    }
    cache.real.set(dir, real);
    return real;
  }

  private async readRpm(into: Map<string, PackageOwner>): Promise<number> {
    if (this.rpm === null) { this.stats.rpmNote = 'rpm disabled'; return 0; }
    const text = await new Promise<string | null>((resolve) => {
      execFile(this.rpm!, ['-qa', '--qf', RPM_QUERY_FORMAT], { maxBuffer: 512 * 1024 * 1024 }, (err, stdout) => {
        resolve(err ? null : stdout);
      });
    });
    if (text === null) { this.stats.rpmNote = `no rpm database (${this.rpm} not runnable or failed)`; return 0; }
    this.stats.rpmNote = '';
    const dirCache = new DirCache();
    const pkgs = new Set<string>();
    let i = 0;
    for (const { path: p, owner } of parseRpmQuery(text)) {
      pkgs.add(owner.pkg);
      const canon = this.canonical(p, dirCache);
      if (!into.has(canon)) into.set(canon, owner);
      if (++i % 2000 === 0) await yieldNow();
    }
    return pkgs.size;
  }
}

/** What this stage attaches as env.enrich.packages. */
export interface PackageEnrichment {
  /** version of the package owning the process's executable */
  procVersion?: string;
  /** version of the package owning the record's file (file records with an exec bit) */
  fileVersion?: string;
  /** the index was not built yet when the record passed */
  indexPending?: true;
}

export interface PackageStageOptions {
  /** full path of the record's process executable (default: env.enrich.process.exe) */
  exeOf?: (env: Envelope) => string | undefined;
  /** full path of a file record's file, or undefined when it has no exec bit / is no file */
  execFileOf?: (env: Envelope) => string | undefined;
  /** how long the first batches may wait for the first build (default 2000 ms) */
  readyWaitMs?: number;
  /** watch dpkg's status file (default true) */
  watch?: boolean;
}

/** Default: the process table's executable path (src/enrich/process-table.ts). */
export function exeFromProcessEnrichment(env: Envelope): string | undefined {
  const p = env.enrich?.['process'] as { exe?: unknown } | undefined;
  return typeof p?.exe === 'string' && p.exe.startsWith('/') ? p.exe : undefined;
}

/** Default: the full path of a file record whose file is regular with any x bit. */
export function execFileOfRecord(env: Envelope): string | undefined {
  if (env.kind !== 'file') return undefined;
  const r = env.rec as FileRecord;
  return isExecutableFile(r) ? fileRecordPath(r) : undefined;
}

/**
 * -v. Records that pass before the first build finished wait for it at most readyWaitMs (one
 * wait for the whole stream, not per batch); after that they leave without versions and with
 * `indexPending` set, so a reader can tell "not in a package" from "not known yet".
 */
export class PackageStage implements Stage {
  readonly name = 'packages';
  private readonly exeOf: (env: Envelope) => string | undefined;
  private readonly fileOf: (env: Envelope) => string | undefined;
  private readonly readyWaitMs: number;
  private waited = false;
  recordsBeforeReady = 0;

  constructor(readonly index: PackageIndex, private readonly opts: PackageStageOptions = {}) {
    this.exeOf = opts.exeOf ?? exeFromProcessEnrichment;
    this.fileOf = opts.execFileOf ?? execFileOfRecord;
    this.readyWaitMs = opts.readyWaitMs ?? 2000;
  }

  start(ctx?: StageContext): void {
    this.index.start().then(
      () => ctx?.log(`package index: ${this.index.stats.packages} packages, ${this.index.stats.paths} paths${this.index.stats.rpmNote ? ` (${this.index.stats.rpmNote})` : ''}`),
      (e: Error) => ctx?.log(`package index failed: ${e.message}`),
    );
    if (this.opts.watch !== false) this.index.watch();
  }

  process(batch: Envelope[]): Envelope[] | Promise<Envelope[]> {
    if (!this.index.ready && !this.waited) {
      this.waited = true;
      const first = this.index.start();
      let t: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => { t = setTimeout(r, this.readyWaitMs); });
      return Promise.race([first.catch(() => {}), bound]).then(() => { clearTimeout(t); return this.attach(batch); });
    }
    return this.attach(batch);
  }

  /** records without an executable file share one frozen enrichment per exe (per index build) */
  private readonly byExe = new Map<string | undefined, PackageEnrichment>();
  private byExeBuild = -1;

  private attach(batch: Envelope[]): Envelope[] {
    const ready = this.index.ready;
    if (this.byExeBuild !== this.index.stats.builds || this.byExe.size >= 4096) {
      this.byExe.clear();
      this.byExeBuild = this.index.stats.builds;
    }
    for (const env of batch) {
      let e: PackageEnrichment;
      if (!ready) {
        e = { indexPending: true };
        this.recordsBeforeReady++;
      } else {
        const exe = this.exeOf(env);
        const file = this.fileOf(env);
        const shared = file ? undefined : this.byExe.get(exe);
        if (shared) e = shared;
        else {
          e = {};
          const pv = exe ? this.index.lookup(exe) : undefined;
          if (pv) e.procVersion = pv.version;
          const fv = file ? this.index.lookup(file) : undefined;
          if (fv) e.fileVersion = fv.version;
          if (!file) this.byExe.set(exe, Object.freeze(e));
        }
      }
      (env.enrich ??= {})['packages'] = e;
    }
    return batch;
  }

  close(): void {
    this.index.close();
  }
}
