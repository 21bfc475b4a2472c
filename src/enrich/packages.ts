// Package versions by FULL path (kflowd -v: ProcVersion, FileVersion). kflowd looks versions up
// by basename, which mixes up same-named executables; we index every path a package owns:
// dpkg's status (installed packages and their versions) plus info/<pkg>[:arch].list, and rpm's
// database through `rpm -qa --qf` when rpm is installed (src/enrich/package-db.ts).
//
// The index is built in a worker thread (src/enrich/package-index-worker.ts), never on the
// record path nor on the main thread, and arrives packed in transferred buffers
// (src/enrich/packed-path-index.ts) that look-ups read synchronously. It is rebuilt when
// /var/lib/dpkg/status is replaced (fs.watch on its directory, debounced); the new table
// replaces the old one whole. Versions are dpkg's ${Version} verbatim, epoch included (what
// `dpkg-query -W -f='${Version}'` prints); kflowd cut them at ':' but its own README sample shows
// the epoch.
import { watch, type FSWatcher } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FileRecord } from '../model/records.js';
import type { Envelope, Stage, StageContext } from '../pipeline/types.js';
import { FF } from '../sensor/layout.js';
import { fileRecordPath, isExecutableFile } from './file-path.js';
import type { PackageDbOptions, PackageOwner } from './package-db.js';
import { loadPackageIndexCache, packageIndexCacheFile } from './package-index-cache.js';
import type { PackageIndexJob, PackageIndexReply } from './package-index-worker.js';
import { CorruptIndexError, NotResident, PackedPathIndex } from './packed-path-index.js';

export { parseDpkgStatus, parseRpmQuery, RPM_QUERY_FORMAT, type DpkgPackage, type PackageOwner } from './package-db.js';

export interface PackageIndexOptions {
  /** dpkg's admin directory (status, info/) */
  dpkgDir?: string;
  /** filesystem root the listed paths are resolved against (tests: a fixture tree) */
  root?: string;
  /** rpm binary; null: do not query rpm */
  rpm?: string | null;
  /** rebuild this long after the last change of the status file */
  debounceMs?: number;
  /** directory where the built index is kept between runs (src/enrich/package-index-cache.ts);
   * null or absent: not kept */
  cacheDir?: string | null;
  log?: (text: string) => void;
}

export interface PackageIndexStats {
  builds: number;
  packages: number;
  paths: number;
  /** wall time of the last build, worker start included */
  lastBuildMs: number;
  /** CPU time of the last build's worker thread (its start included; undefined: not measurable) */
  lastBuildCpuMs: number | undefined;
  /** CPU time of every build's worker thread together */
  buildCpuMs: number;
  /** why rpm was not read, when it was not */
  rpmNote: string;
  /** the last index came from the cache file (no build) */
  fromCache: boolean;
  /** the cache: why it was not used, or what happened when it was written ('' without one) */
  cacheNote: string;
}

export class PackageIndex {
  private packed: PackedPathIndex | undefined;
  private readonly db: PackageDbOptions;
  private readonly debounceMs: number;
  private readonly log: (text: string) => void;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private building: Promise<void> | undefined;
  private worker: Worker | undefined;
  private rebuildAgain = false;
  private firstBuild: Promise<void> | undefined;
  /** the cache file; the first build tries it, every build writes it */
  readonly cacheFile: string | null;
  private cacheTried = false;
  readonly stats: PackageIndexStats = {
    builds: 0, packages: 0, paths: 0, lastBuildMs: 0, lastBuildCpuMs: undefined, buildCpuMs: 0, rpmNote: '', fromCache: false, cacheNote: '',
  };

  constructor(opts: PackageIndexOptions = {}) {
    this.db = { dpkgDir: opts.dpkgDir ?? '/var/lib/dpkg', root: opts.root ?? '/', rpm: opts.rpm === undefined ? 'rpm' : opts.rpm };
    this.cacheFile = opts.cacheDir ? packageIndexCacheFile(opts.cacheDir, this.db) : null;
    this.debounceMs = opts.debounceMs ?? 1000;
    this.log = opts.log ?? (() => {});
  }

  /** true once the first build finished, and while its table is usable (a kept table found
   * corrupt by a look-up is dropped until the rebuild it starts is done) */
  get ready(): boolean {
    return this.stats.builds > 0 && this.packed !== undefined;
  }

  /** settles when no build is running (tests) */
  async settled(): Promise<void> {
    while (this.building) await this.building.catch(() => {});
  }

  /** Starts the first build (idempotent); the promise settles when it is done. */
  start(): Promise<void> {
    this.firstBuild ??= this.rebuild();
    return this.firstBuild;
  }

  /**
   * The owner of an absolute, canonical path (as the kernel reports exe and file paths). Throws
   * CorruptIndexError when the look-up reached a corrupt block of a kept table: that table is
   * dropped (ready turns false) and a build from the package database starts.
   */
  lookup(p: string): PackageOwner | undefined {
    return this.find(p, true);
  }

  /**
   * As lookup, but never waits for a read: where a kept table's bytes for `p` are not read in yet
   * it throws NotResident, and `resident(p)` reads them through libuv's pool (the record
   * path never blocks on the file).
   */
  lookupResident(p: string): PackageOwner | undefined {
    return this.find(p, false);
  }

  /** Blocks of a kept table read in so far (tests: the stage's look-ups never read on their
   * thread); undefined for a table built in memory */
  get blockReads(): { readonly sync: number; readonly async: number } | undefined {
    return this.packed?.reads;
  }

  /** Settles when lookupResident(p) answers without a read (or the table is gone or corrupt). */
  async resident(p: string): Promise<void> {
    await this.packed?.resident(p);
  }

  private find(p: string, mayRead: boolean): PackageOwner | undefined {
    const packed = this.packed;
    if (packed === undefined) return undefined;
    try {
      return packed.lookup(p, mayRead);
    } catch (e) {
      if (e instanceof CorruptIndexError && this.packed === packed) this.dropCorrupt(e.message);
      throw e;
    }
  }

  /** The table in use from now on (undefined: none); the one before releases its file. */
  private use(next: PackedPathIndex | undefined): void {
    if (this.packed !== next) this.packed?.close();
    this.packed = next;
  }

  private dropCorrupt(reason: string): void {
    this.use(undefined);
    this.stats.fromCache = false;
    this.stats.cacheNote = reason;
    this.log(`package index cache ${this.cacheFile}: ${reason}; building the index`);
    void this.rebuild().catch((e: unknown) => this.log(`package index: ${(e as Error).message}`));
  }

  /** Every indexed path and its owner (tests, diagnostics); throws as lookup does. */
  entries(): IterableIterator<[string, PackageOwner]> {
    const packed = this.packed;
    if (packed === undefined) return new Map<string, PackageOwner>().entries();
    try {
      return [...packed.entries()].values();
    } catch (e) {
      if (e instanceof CorruptIndexError && this.packed === packed) this.dropCorrupt(e.message);
      throw e;
    }
  }

  /** Rebuilds now (coalescing concurrent requests); the new table replaces the old one whole. */
  rebuild(): Promise<void> {
    if (this.building) {
      this.rebuildAgain = true;
      return this.building;
    }
    this.building = (async () => {
      if (!this.cacheTried && this.cacheFile !== null) {
        // the first build: an index kept from an earlier run, if the database is as it was then
        this.cacheTried = true;
        const t0 = performance.now();
        const c = await loadPackageIndexCache(this.cacheFile, this.db);
        if (c.ok && !this.rebuildAgain) {
          this.use(c.index);
          this.stats.builds++;
          this.stats.packages = c.packages;
          this.stats.paths = c.paths;
          this.stats.rpmNote = c.rpmNote;
          this.stats.lastBuildMs = performance.now() - t0;
          this.stats.lastBuildCpuMs = 0;
          this.stats.fromCache = true;
          this.stats.cacheNote = '';
          return;
        }
        this.stats.cacheNote = c.ok ? 'the package database changed while it was read' : c.reason;
        this.log(`package index cache ${this.cacheFile}: ${this.stats.cacheNote}; building the index`);
      }
      do {
        this.rebuildAgain = false;
        const t0 = performance.now();
        const r = await this.buildInWorker();
        this.use(new PackedPathIndex(r.data));
        for (const w of r.warnings) this.log(w);
        this.stats.builds++;
        this.stats.packages = r.packages;
        this.stats.paths = r.paths;
        this.stats.rpmNote = r.rpmNote;
        this.stats.lastBuildMs = performance.now() - t0;
        this.stats.lastBuildCpuMs = r.cpuMs;
        this.stats.buildCpuMs += r.cpuMs ?? 0;
        this.stats.fromCache = false;
        if (r.cacheNote) {
          this.stats.cacheNote = r.cacheNote;
          if (r.cacheNote !== 'written') this.log(`package index cache ${this.cacheFile}: ${r.cacheNote}`);
        }
      } while (this.rebuildAgain);
    })().finally(() => { this.building = undefined; });
    return this.building;
  }

  /** One build in a fresh worker (it ends after replying: no idle thread between builds). */
  private buildInWorker(): Promise<Extract<PackageIndexReply, { ok: true }>> {
    return new Promise((resolve, reject) => {
      const job: PackageIndexJob = { db: this.db, cacheFile: this.cacheFile };
      const w = new Worker(new URL('./package-index-worker.js', import.meta.url), { workerData: job });
      this.worker = w;
      let settled = false;
      const done = (f: () => void) => { if (!settled) { settled = true; this.worker = undefined; f(); } };
      w.once('message', (r: PackageIndexReply) => done(() => (r.ok ? resolve(r) : reject(new Error(r.error)))));
      w.once('error', (e) => done(() => reject(e)));
      w.once('exit', (code) => done(() => reject(new Error(`package index worker exited (${code}) without an index`))));
    });
  }

  /** Rebuilds when dpkg's status file changes (dpkg replaces it by rename: watch the directory). */
  watch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.db.dpkgDir, (_ev, name) => {
        if (name !== 'status') return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.rebuild().catch((e: Error) => this.log(`package index rebuild failed: ${e.message}`));
        }, this.debounceMs);
      });
      this.watcher.on('error', (e) => this.log(`package database watch failed: ${e.message}`));
    } catch (e) {
      this.log(`cannot watch ${this.db.dpkgDir}: ${(e as Error).message}`);
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    void this.worker?.terminate();
    this.use(undefined);
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
      () => ctx?.log(`package index: ${this.index.stats.packages} packages, ${this.index.stats.paths} paths${this.index.stats.rpmNote ? ` (${this.index.stats.rpmNote})` : ''}${this.index.stats.fromCache ? ` (kept from an earlier run: ${this.index.cacheFile})` : ''}`),
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

  /** one frozen enrichment per exe (per index build), shared by the records without an
   * executable file */
  private readonly byExe = new Map<string | undefined, PackageEnrichment>();
  /** per inode of an executable file record: its path's owner and the last enrichment made
   * with it (records of one file repeat; the path is not rebuilt nor hashed for them) */
  private readonly byFile = new Map<number, { dev: number; dir: string; name: string; fsrel: number; owner: PackageOwner | undefined; forExe: PackageEnrichment; e: PackageEnrichment }>();
  private cacheBuild = -1;

  private exeEnrichment(exe: string | undefined): PackageEnrichment {
    let e = this.byExe.get(exe);
    if (e === undefined) {
      const pv = exe ? this.index.lookupResident(exe) : undefined;
      e = Object.freeze(pv ? { procVersion: pv.version } : {});
      this.byExe.set(exe, e);
    }
    return e;
  }

  private withFile(pe: PackageEnrichment, fv: PackageOwner | undefined): PackageEnrichment {
    const e: PackageEnrichment = {};
    if (pe.procVersion !== undefined) e.procVersion = pe.procVersion;
    if (fv) e.fileVersion = fv.version;
    return Object.freeze(e);
  }

  private attach(batch: Envelope[]): Envelope[] | Promise<Envelope[]> {
    try {
      return this.attachOnce(batch);
    } catch (e) {
      // a kept table was found corrupt: the index dropped it, so the batch goes out pending
      if (e instanceof CorruptIndexError) return this.attachOnce(batch);
      // a kept table's bytes for this path are not read in: read them off this thread, then
      // the batch again (what it looked up before is in byExe/byFile now)
      if (e instanceof NotResident) return this.index.resident(e.path).then(() => this.attach(batch));
      throw e;
    }
  }

  private attachOnce(batch: Envelope[]): Envelope[] {
    const ready = this.index.ready;
    if (this.cacheBuild !== this.index.stats.builds || this.byExe.size >= 4096 || this.byFile.size >= 65536) {
      this.byExe.clear();
      this.byFile.clear();
      this.cacheBuild = this.index.stats.builds;
    }
    const customFile = this.opts.execFileOf !== undefined;
    for (const env of batch) {
      let e: PackageEnrichment;
      if (!ready) {
        e = { indexPending: true };
        this.recordsBeforeReady++;
      } else {
        const pe = this.exeEnrichment(this.exeOf(env));
        if (customFile) {
          const file = this.fileOf(env);
          e = file ? this.withFile(pe, this.index.lookupResident(file)) : pe;
        } else if (env.kind === 'file' && isExecutableFile(env.rec as FileRecord)) {
          const r = env.rec as FileRecord;
          let f = this.byFile.get(r.ino);
          if (f === undefined || f.dev !== r.dev || f.dir !== r.dir || f.name !== r.name || f.fsrel !== (r.hdr.flags & FF.PATH_FSREL)) {
            const owner = this.index.lookupResident(fileRecordPath(r));
            f = { dev: r.dev, dir: r.dir, name: r.name, fsrel: r.hdr.flags & FF.PATH_FSREL, owner, forExe: pe, e: this.withFile(pe, owner) };
            this.byFile.set(r.ino, f);
          } else if (f.forExe !== pe) {
            f.forExe = pe;
            f.e = this.withFile(pe, f.owner);
          }
          e = f.e;
        } else e = pe;
      }
      (env.enrich ??= {})['packages'] = e;
    }
    return batch;
  }

  close(): void {
    this.index.close();
  }
}
