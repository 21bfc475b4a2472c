// -c: FileMD5 and FileSHA256 of executables (any x bit), computed in worker threads, never on
// the record path. Results are cached by the file's identity (dev, ino, size, mtime, ctime), so
// an unchanged file is hashed once. A batch waits for the checksums it needs at most `waitMs`;
// records whose checksum is not ready leave marked pending, and the digest arrives with the next
// record for the same file (same identity). Files larger than `largeBytes` never make a batch
// wait and are hashed on their own lane, so a 1 GiB executable cannot hold up small ones.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FileRecord } from '../model/records.js';
import type { Envelope, Stage, StageContext } from '../pipeline/types.js';
import type { ChecksumReply, FileIdentity } from './checksum-worker.js';
import { bootId, loadDigests, saveDigests, type StoredDigest } from './checksum-store.js';
import { fileRecordPath, isExecutableFile } from './file-path.js';

export type { FileIdentity };

export type ChecksumEnrichment =
  | { readonly state: 'done'; readonly md5: string; readonly sha256: string }
  /** still being computed (or queued): follows with a later record of the same file */
  | { readonly state: 'pending' }
  /** could not be computed: file gone, unreadable, changed while hashing, queue full */
  | { readonly state: 'error'; readonly reason: string };

export function identityKey(f: FileIdentity): string {
  return `${f.dev}:${f.ino}:${f.size}:${f.mtimeNs}:${f.ctimeNs}`;
}

export function recordIdentity(r: FileRecord): FileIdentity {
  return { dev: r.dev, ino: r.ino, size: r.size, mtimeNs: r.mtimeNs, ctimeNs: r.ctimeNs };
}

type Done = Extract<ChecksumEnrichment, { state: 'done' }>;
type Outcome = Done | Extract<ChecksumEnrichment, { state: 'error' }>;

interface Lane {
  worker: Worker;
  busy: boolean;
  queue: Array<{ id: number; path: string }>;
  /** settles when the worker runs (or failed to start) */
  online: Promise<void>;
  isOnline: boolean;
}

export interface ChecksumPoolOptions {
  /** 1 or 2 workers; with 2, files above largeBytes go to the second (default 2) */
  workers?: 1 | 2;
  largeBytes?: number;
  /** bound on queued jobs per lane (default 4096); beyond it jobs fail with 'queue full' */
  maxQueue?: number;
}

/** Worker pool: one job at a time per worker, FIFO per lane, results by job id. */
export class ChecksumPool {
  /** each lane's worker starts with the lane's first job: a worker costs ~30–40 ms of CPU to
   * start (its own and V8's helper threads'), and an agent that sees no executable never needs
   * one. A batch that waits for digests waits for its lane's worker to run first (whenOnline) */
  private readonly lanes: Array<Lane | undefined>;
  private readonly waiting = new Map<number, (r: ChecksumReply) => void>();
  private nextId = 1;
  readonly largeBytes: number;
  private readonly maxQueue: number;
  readonly stats = { jobs: 0, queueFull: 0, bytesLargeLane: 0 };

  constructor(opts: ChecksumPoolOptions = {}) {
    this.largeBytes = opts.largeBytes ?? 16 << 20;
    this.maxQueue = opts.maxQueue ?? 4096;
    const n = opts.workers ?? 2;
    this.lanes = Array.from({ length: n }, () => undefined);
  }

  private newLane(): Lane {
    const worker = new Worker(new URL('./checksum-worker.js', import.meta.url));
    worker.unref(); // an agent that forgets close() still exits
    let up!: () => void;
    const lane: Lane = { worker, busy: false, queue: [], online: new Promise<void>((r) => { up = r; }), isOnline: false };
    const online = () => { lane.isOnline = true; up(); };
    worker.once('online', online);
    worker.once('exit', online);
    worker.on('message', (r: ChecksumReply) => {
      lane.busy = false;
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
      this.pump(lane);
    });
    worker.on('error', (e) => {
      online();
      for (const [id, done] of this.waiting) done({ id, ok: false, reason: `checksum worker failed: ${e.message}` });
      this.waiting.clear();
    });
    return lane;
  }

  private pump(lane: Lane): void {
    if (lane.busy) return;
    const job = lane.queue.shift();
    if (!job) return;
    lane.busy = true;
    lane.worker.postMessage(job);
  }

  /** workers started so far (tests) */
  get started(): number {
    return this.lanes.filter((l) => l !== undefined).length;
  }

  /** A promise that settles when the worker for files of `size` runs; undefined when it does. */
  whenOnline(size: number): Promise<void> | undefined {
    const lane = this.lanes[size > this.largeBytes && this.lanes.length > 1 ? 1 : 0];
    return lane === undefined || lane.isOnline ? undefined : lane.online;
  }

  /** Hashes `path`; `size` (as the record saw it) picks the lane. */
  hash(path: string, size: number): Promise<ChecksumReply> {
    const k = size > this.largeBytes && this.lanes.length > 1 ? 1 : 0;
    const lane = (this.lanes[k] ??= this.newLane());
    const id = this.nextId++;
    if (lane.queue.length >= this.maxQueue) {
      this.stats.queueFull++;
      return Promise.resolve({ id, ok: false, reason: 'queue full' });
    }
    this.stats.jobs++;
    if (size > this.largeBytes) this.stats.bytesLargeLane += size;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      lane.queue.push({ id, path });
      this.pump(lane);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l?.worker.terminate()));
  }
}

export interface ChecksumStageOptions extends ChecksumPoolOptions {
  /** longest a batch waits for the checksums it needs (default 50 ms), counted from when the
   * worker runs */
  waitMs?: number;
  /** longest a batch waits for a worker to start before that (default 2000 ms) */
  startWaitMs?: number;
  /** bound on cached digests (default 65,536; oldest dropped first) */
  maxCache?: number;
  /** full path of a file record (default: kernel path, mount point added for fs-relative ones) */
  pathOf?: (r: FileRecord) => string;
  /** directory where digests are kept between runs in one boot (src/enrich/checksum-store.ts);
   * null or absent: not kept */
  stateDir?: string | null;
}

export class ChecksumStage implements Stage {
  readonly name = 'checksums';
  readonly pool: ChecksumPool;
  private readonly cache = new Map<string, Outcome>();
  /** identity key → the job computing it */
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly waitMs: number;
  private readonly startWaitMs: number;
  private readonly maxCache: number;
  private readonly pathOf: (r: FileRecord) => string;
  private log: (text: string) => void = () => {};
  readonly stats = { hits: 0, computed: 0, pendingOut: 0, errors: 0, loaded: 0 };
  /** the digest store; null: none */
  readonly storeFile: string | null;
  private readonly boot: string;

  constructor(opts: ChecksumStageOptions = {}) {
    this.pool = new ChecksumPool(opts);
    this.waitMs = opts.waitMs ?? 50;
    this.startWaitMs = opts.startWaitMs ?? 2000;
    this.maxCache = opts.maxCache ?? 65536;
    this.pathOf = opts.pathOf ?? ((r) => fileRecordPath(r));
    this.storeFile = opts.stateDir ? path.join(opts.stateDir, 'checksums.txt') : null;
    this.boot = this.storeFile ? bootId() : '';
  }

  async start(ctx: StageContext): Promise<void> {
    this.log = (t) => ctx.log(t);
    if (this.storeFile === null || this.stats.loaded) return;
    const r = await loadDigests(this.storeFile, this.boot);
    if (!r.ok) {
      if (!r.absent) this.log(`checksum store ${this.storeFile}: ${r.reason}; not used`);
      return;
    }
    for (const d of r.digests.slice(-this.maxCache)) {
      if (!this.cache.has(d.key)) this.cache.set(d.key, { state: 'done', md5: d.md5, sha256: d.sha256 });
    }
    this.stats.loaded = r.digests.length;
  }

  /** Keeps the cached digests for the next run (when any were computed in this one). */
  private async store(): Promise<void> {
    if (this.storeFile === null || this.stats.computed === 0) return;
    const digests: StoredDigest[] = [];
    for (const [key, o] of this.cache) if (o.state === 'done') digests.push({ key, md5: o.md5, sha256: o.sha256 });
    try {
      await mkdir(path.dirname(this.storeFile), { recursive: true, mode: 0o755 });
      await saveDigests(this.storeFile, digests, this.boot);
    } catch (e) {
      this.log(`checksum store ${this.storeFile}: not written: ${(e as Error).message}`);
    }
  }

  /** Starts (or joins) the computation for a record's file. */
  private request(r: FileRecord, key: string): Promise<void> {
    let p = this.inflight.get(key);
    if (!p) {
      p = this.pool.hash(this.pathOf(r), r.size).then((reply) => {
        this.inflight.delete(key);
        if (reply.ok) {
          this.stats.computed++;
          // cached under what was read: equal to the record's identity unless the file moved on
          this.remember(identityKey(reply.file), { state: 'done', md5: reply.md5, sha256: reply.sha256 });
        } else {
          this.stats.errors++;
          // a vanished or unreadable file stays that way for this identity; a changed one
          // will be asked for again by its next record (new identity)
          if (reply.reason !== 'changed while hashing') this.remember(key, { state: 'error', reason: reply.reason });
        }
      });
      this.inflight.set(key, p);
    }
    return p;
  }

  private remember(key: string, o: Outcome): void {
    if (this.cache.size >= this.maxCache) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, o);
  }

  /** the last identity key made per inode: a file's records repeat its identity, and a key
   * made once (its hash kept by the engine) saves two BigInt→string conversions per record */
  private readonly keys = new Map<number, { dev: number; size: number; mtimeNs: bigint; ctimeNs: bigint; key: string }>();

  private keyOf(r: FileRecord): string {
    const k = this.keys.get(r.ino);
    if (k !== undefined && k.dev === r.dev && k.size === r.size && k.mtimeNs === r.mtimeNs && k.ctimeNs === r.ctimeNs) return k.key;
    const key = identityKey(recordIdentity(r));
    if (this.keys.size >= this.maxCache) this.keys.clear();
    this.keys.set(r.ino, { dev: r.dev, size: r.size, mtimeNs: r.mtimeNs, ctimeNs: r.ctimeNs, key });
    return key;
  }

  process(batch: Envelope[]): Envelope[] | Promise<Envelope[]> {
    const waitFor: Promise<void>[] = [];
    let need = false;
    for (const env of batch) {
      if (env.kind !== 'file') continue;
      const r = env.rec as FileRecord;
      if (!isExecutableFile(r)) continue;
      need = true;
      const key = this.keyOf(r);
      if (this.cache.has(key)) continue;
      const p = this.request(r, key);
      if (r.size <= this.pool.largeBytes) waitFor.push(p);
    }
    if (!need) return batch;
    if (!waitFor.length) return this.attach(batch);
    let t: NodeJS.Timeout | undefined;
    let settled = false;
    const all = Promise.all(waitFor);
    // the small-file worker starts with its first job: the bound counts from when it runs
    const starting = this.pool.whenOnline(0);
    const bound = starting === undefined
      ? new Promise<void>((resolve) => { t = setTimeout(resolve, this.waitMs); })
      : new Promise<void>((resolve) => {
        t = setTimeout(resolve, this.startWaitMs + this.waitMs);
        void starting.then(() => { if (!settled) { clearTimeout(t); t = setTimeout(resolve, this.waitMs); } });
      });
    return Promise.race([all, bound]).then(() => {
      settled = true;
      clearTimeout(t);
      return this.attach(batch);
    });
  }

  private attach(batch: Envelope[]): Envelope[] {
    for (const env of batch) {
      if (env.kind !== 'file') continue;
      const r = env.rec as FileRecord;
      if (!isExecutableFile(r)) continue;
      let o: ChecksumEnrichment | undefined = this.cache.get(this.keyOf(r));
      if (o) this.stats.hits++;
      else {
        o = { state: 'pending' };
        this.stats.pendingOut++;
      }
      (env.enrich ??= {})['checksums'] = o;
    }
    return batch;
  }

  /** Waits for every running computation (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight.values()]);
  }

  async close(): Promise<void> {
    if (this.stats.errors) this.log(`checksums: ${this.stats.errors} files could not be hashed`);
    await this.pool.close();
    await this.store();
  }
}
