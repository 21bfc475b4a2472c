// Process table: exe, argv, cwd, tty, login uid, session, start time, cgroup and the parent
// chain of every process, kept from the process monitor's FORK/EXEC/EXIT/CHDIR records and
// seeded once from /proc at start. The record path (apply, get, ancestors) never touches /proc:
// every /proc access goes through `ProcFs`, which counts them, so tests prove it by counting.
//
// Short-lived processes: a FORK creates the child from its parent's entry (cwd, tty, session,
// login uid and cgroup are inherited by fork), EXEC replaces exe/argv, EXIT marks the entry
// exited and it is removed only after `graceMs`, so records that arrive after a process is gone
// (file and socket records are emitted on close, often after exit) still find it, and so do its
// children's ancestry look-ups. Entries are immutable: a change replaces the entry, so what a
// record carries is the process as it was when the record passed.
//
// Not tracked from records (no event carries them): setsid (session, tty), loginuid writes,
// cgroup moves without a process event (the next process record's cgroupId shows them).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { ProcEventRecord, ProcRecord } from '../model/process-record.js';
import type { ProcHeader } from '../model/records.js';
import type { Envelope, Stage, StageContext } from '../pipeline/types.js';

export interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  /** start time, boot-clock ns (kernel start_boottime; seeded entries: /proc starttime ticks) */
  readonly startNs: bigint;
  /** absolute executable path ('' when unknown) */
  readonly exe: string;
  readonly argv: readonly string[];
  /** working directory ('' when unknown) */
  readonly cwd: string;
  /** controlling terminal as tty_nr (major << 8 | minor, low minor bits; 0: none) */
  readonly tty: number;
  /** audit login uid (4294967295: not set) */
  readonly loginUid: number;
  readonly sessionId: number;
  readonly uid: number;
  readonly gid: number;
  /** cgroup v2 id from process records (0n: unknown) */
  readonly cgroupId: bigint;
  /** /proc/PID/cgroup text at seed time, inherited by fork ('' when unknown) */
  readonly cgroup: string;
  /** where the entry came from */
  readonly origin: 'seed' | 'fork' | 'exec' | 'record';
  readonly exited: boolean;
}

/** What the process stage attaches as env.enrich.process. */
export interface ProcessEnrichment extends ProcEntry {
  /** parent, grandparent, ... up to the table's ancestry bound (nearest first) */
  readonly ancestors: readonly ProcEntry[];
}

/** All /proc access of the table, counted. Replaceable in tests. */
export class ProcFs {
  reads = 0;
  constructor(readonly root = '/proc') {}
  async pids(): Promise<number[]> {
    this.reads++;
    return (await readdir(this.root)).filter((n) => /^\d+$/.test(n)).map(Number);
  }
  async text(pid: number, name: string): Promise<string> {
    this.reads++;
    return readFile(`${this.root}/${pid}/${name}`, 'utf8');
  }
  async link(pid: number, name: string): Promise<string> {
    this.reads++;
    return readlink(`${this.root}/${pid}/${name}`);
  }
  // Synchronous forms for the seed: a /proc read is a few µs of kernel work, while each
  // fs/promises call costs ~0.1 ms of CPU in promises and thread-pool hops (the seed read 85
  // processes in ~140 ms of CPU that way, ~10 ms synchronously).
  pidsSync(): number[] {
    this.reads++;
    return readdirSync(this.root).filter((n) => /^\d+$/.test(n)).map(Number);
  }
  textSync(pid: number, name: string): string {
    this.reads++;
    return readFileSync(`${this.root}/${pid}/${name}`, 'utf8');
  }
  linkSync(pid: number, name: string): string {
    this.reads++;
    return readlinkSync(`${this.root}/${pid}/${name}`);
  }
}

export interface ProcessTableOptions {
  procfs?: ProcFs;
  /** how long an exited process stays (default 10 s) */
  graceMs?: number;
  /** bound on entries (default 200,000; exited ones are evicted first) */
  maxEntries?: number;
  /** bound on the parent chain (default 16) */
  ancestryBound?: number;
  /** clock for the grace period (tests) */
  now?: () => number;
  /** clock ticks per second for /proc starttime (default 100) */
  clkTck?: number;
}

const CLONE_PARENT = 0x8000n;
/** the seed runs this long at most before it lets the event loop run */
const SEED_SLICE_MS = 4;
const NO_LOGIN_UID = 4294967295;
/** a kernel thread's cgroup membership: the root of the unified hierarchy */
const KTHREAD_CGROUP = '0::/\n';

/** PF_KTHREAD in /proc/PID/stat's flags (include/linux/sched.h; what ps uses to bracket names) */
const PF_KTHREAD = 0x00200000;

/** /proc/PID/stat fields after the comm: [state, ppid, pgrp, session, tty_nr, tpgid, flags, ...] */
export function parseProcStat(text: string): { ppid: number; session: number; tty: number; startTicks: bigint; kthread: boolean } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  if (f.length < 20) return undefined;
  const n = (i: number) => Number(f[i]);
  const start = f[19]!;
  if (!/^\d+$/.test(start)) return undefined;
  return { ppid: n(1), session: n(3), tty: n(4), startTicks: BigInt(start), kthread: (n(6) & PF_KTHREAD) !== 0 };
}

export class ProcessTable {
  private readonly byPid = new Map<number, ProcEntry>();
  /** bumped on every change: cached enrichments (entry + ancestors) are valid while it holds */
  private version = 0;
  /** per pid: the enrichment made for its current entry (a Map keyed by the small-integer pid
   * is cheaper per record than a WeakMap keyed by the entry) */
  private readonly enrichCache = new Map<number, { entry: ProcEntry; version: number; value: ProcessEnrichment }>();
  /** exited pids in exit order, with their exit time and the entry that exited */
  private readonly exits: Array<{ at: number; entry: ProcEntry }> = [];
  private exitHead = 0;
  readonly procfs: ProcFs;
  private readonly graceMs: number;
  private readonly maxEntries: number;
  readonly ancestryBound: number;
  private readonly now: () => number;
  private readonly clkTck: number;
  readonly stats = { seeded: 0, forks: 0, execs: 0, exits: 0, removed: 0, unknownPids: 0, evicted: 0 };

  constructor(opts: ProcessTableOptions = {}) {
    this.procfs = opts.procfs ?? new ProcFs();
    this.graceMs = opts.graceMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 200_000;
    this.ancestryBound = opts.ancestryBound ?? 16;
    this.now = opts.now ?? Date.now;
    this.clkTck = opts.clkTck ?? 100;
  }

  get size(): number {
    return this.byPid.size;
  }

  /**
   * Reads every process in /proc once, synchronously in slices of at most SEED_SLICE_MS between
   * which the event loop runs. Entries created by records meanwhile win (they are newer).
   * Processes that vanish while being read are skipped.
   */
  async seed(): Promise<void> {
    let pids: number[];
    try { pids = this.procfs.pidsSync(); } catch { return; }
    let slice = performance.now();
    for (const pid of pids) {
      if (performance.now() - slice >= SEED_SLICE_MS) { await new Promise<void>((r) => setImmediate(r)); slice = performance.now(); }
      if (this.byPid.has(pid)) continue;
      const e = this.readProc(pid);
      if (e) { this.byPid.set(pid, e); this.stats.seeded++; }
    }
  }

  private readProc(pid: number): ProcEntry | undefined {
    const fs = this.procfs;
    const opt = <T>(f: () => T, d: T): T => { try { return f(); } catch { return d; } };
    try {
      const stat = parseProcStat(fs.textSync(pid, 'stat'));
      if (!stat) return undefined;
      const startNs = (stat.startTicks * 1_000_000_000n) / BigInt(this.clkTck);
      if (stat.kthread) {
        // most of /proc on an idle host: no exe (readlink throws), no argv, root's ids, no login,
        // cwd / and the root cgroup, so stat alone describes it (six reads and a thrown error
        // fewer per kernel thread at every start)
        return {
          pid, ppid: stat.ppid, startNs, exe: '', argv: [], cwd: '/', tty: stat.tty, loginUid: NO_LOGIN_UID, sessionId: stat.session,
          uid: 0, gid: 0, cgroupId: 0n, cgroup: KTHREAD_CGROUP, origin: 'seed', exited: false,
        };
      }
      const status = fs.textSync(pid, 'status');
      const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const gid = Number(/^Gid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const exe = opt(() => fs.linkSync(pid, 'exe'), ''); // kernel threads have none
      const cmdline = opt(() => fs.textSync(pid, 'cmdline'), '');
      const cwd = opt(() => fs.linkSync(pid, 'cwd'), '');
      const loginUid = Number(opt(() => fs.textSync(pid, 'loginuid'), String(NO_LOGIN_UID)));
      const cgroup = opt(() => fs.textSync(pid, 'cgroup'), '');
      const argv = cmdline ? cmdline.replace(/\0$/, '').split('\0') : [];
      return {
        pid, ppid: stat.ppid, startNs,
        exe: exe.replace(/ \(deleted\)$/, ''), argv, cwd, tty: stat.tty, loginUid, sessionId: stat.session, uid, gid,
        cgroupId: 0n, cgroup, origin: 'seed', exited: false,
      };
    } catch {
      return undefined; // gone
    }
  }

  get(pid: number): ProcEntry | undefined {
    return this.byPid.get(pid);
  }

  /** Parent chain, nearest first, up to the bound; stops at pid 0/1's parent or a cycle. */
  ancestors(pid: number): ProcEntry[] {
    const out: ProcEntry[] = [];
    let cur = this.byPid.get(pid);
    const seen = new Set<number>([pid]);
    while (cur && out.length < this.ancestryBound && cur.ppid > 0 && !seen.has(cur.ppid)) {
      seen.add(cur.ppid);
      cur = this.byPid.get(cur.ppid);
      if (cur) out.push(cur);
    }
    return out;
  }

  /** The entry a record's header refers to, created from the header when the pid is new. */
  private subject(h: ProcHeader, cgroupId: bigint): ProcEntry {
    let e = this.byPid.get(h.pid);
    if (!e || (e.exited && e.startNs !== h.procStart && e.origin !== 'seed')) {
      // never seen (started before seeding finished, or its fork was lost): inherit what a
      // fork would have from the parent, if the parent is known
      const p = this.byPid.get(h.ppid);
      this.stats.unknownPids++;
      e = {
        pid: h.pid, ppid: h.ppid, startNs: h.procStart, exe: '', argv: [], cwd: p?.cwd ?? '', tty: p?.tty ?? 0,
        loginUid: p?.loginUid ?? NO_LOGIN_UID, sessionId: p?.sessionId ?? 0, uid: h.uid, gid: h.gid,
        cgroupId, cgroup: p?.cgroup ?? '', origin: 'record', exited: false,
      };
      this.put(e);
    } else if (e.uid !== h.uid || e.gid !== h.gid || (cgroupId !== 0n && e.cgroupId !== cgroupId) || e.ppid !== h.ppid) {
      e = { ...e, uid: h.uid, gid: h.gid, ppid: h.ppid, cgroupId: cgroupId !== 0n ? cgroupId : e.cgroupId };
      this.put(e);
    }
    return e;
  }

  private put(e: ProcEntry): void {
    if (!this.byPid.has(e.pid) && this.byPid.size >= this.maxEntries) this.evict();
    this.byPid.set(e.pid, e);
    this.version++;
  }

  /** The entry of `pid` with its ancestors, shared between records while nothing changed. */
  enrichment(pid: number): ProcessEnrichment | undefined {
    const c = this.enrichCache.get(pid);
    // nothing changed in the table since: the cached answer is the table's (the fast path)
    if (c !== undefined && c.version === this.version) return c.value;
    const e = this.byPid.get(pid);
    if (!e) return undefined;
    if (c !== undefined && c.entry === e && this.sameAncestors(e, c.value.ancestors)) {
      c.version = this.version;
      return c.value;
    }
    const value: ProcessEnrichment = Object.freeze({ ...e, ancestors: Object.freeze(this.ancestors(pid)) });
    if (c !== undefined) { c.entry = e; c.version = this.version; c.value = value; }
    else this.enrichCache.set(pid, { entry: e, version: this.version, value });
    return value;
  }

  /**
   * Would ancestors(e.pid) return exactly these entries (the same objects)? Entries are
   * immutable (a change puts a new object), so a cached enrichment stays valid while its entry
   * and every ancestor are still the table's: other processes' changes do not rebuild it.
   * Walks the chain as ancestors() does, without allocating.
   */
  private sameAncestors(e: ProcEntry, cached: readonly ProcEntry[]): boolean {
    let cur: ProcEntry | undefined = e;
    let n = 0;
    while (cur && n < this.ancestryBound && cur.ppid > 0) {
      const ppid: number = cur.ppid;
      // ancestors() stops at a pid already on the chain (a cycle)
      if (ppid === e.pid) break;
      let seen = false;
      for (let i = 0; i < n; i++) if (cached[i]!.pid === ppid) { seen = true; break; }
      if (seen) break;
      cur = this.byPid.get(ppid);
      if (cur) {
        if (cached[n] !== cur) return false;
        n++;
      }
    }
    return n === cached.length;
  }

  private evict(): void {
    // oldest exited first, then the oldest entry at all
    this.sweep(Infinity);
    if (this.byPid.size >= this.maxEntries) {
      const first = this.byPid.keys().next().value;
      if (first !== undefined) { this.byPid.delete(first); this.enrichCache.delete(first); this.stats.evicted++; this.version++; }
    }
  }

  /** Removes exited processes whose grace period is over (cheap; called per batch). */
  sweep(now = this.now()): void {
    while (this.exitHead < this.exits.length) {
      const x = this.exits[this.exitHead]!;
      if (now !== Infinity && now - x.at < this.graceMs) break;
      this.exitHead++;
      // only if the pid still holds the process that exited (not a reused pid)
      const cur = this.byPid.get(x.entry.pid);
      if (cur && cur.exited && cur.startNs === x.entry.startNs) { this.byPid.delete(x.entry.pid); this.enrichCache.delete(x.entry.pid); this.stats.removed++; this.version++; }
      if (now === Infinity) break;
    }
    if (this.exitHead > 4096 && this.exitHead * 2 > this.exits.length) {
      this.exits.splice(0, this.exitHead);
      this.exitHead = 0;
    }
  }

  /** Applies one process monitor record. */
  apply(r: ProcRecord): void {
    if (r.event === 'THROTTLED') return;
    const e = this.subject(r.hdr, r.cgroupId);
    switch (r.event) {
      case 'FORK': this.fork(r, e); break;
      case 'EXEC':
        if (r.exec && r.ret === 0n) {
          this.stats.execs++;
          this.put({ ...e, exe: r.exec.exePath, argv: r.exec.argv, startNs: r.hdr.procStart, origin: 'exec', exited: false });
        }
        break;
      case 'EXIT':
        if (r.exit && !r.exit.threadExit) {
          this.stats.exits++;
          const x = { ...e, exited: true };
          this.put(x);
          this.exits.push({ at: this.now(), entry: x });
        }
        break;
      case 'CHDIR':
        if (r.ret === 0n && r.file?.path) this.put({ ...e, cwd: r.file.path });
        break;
    }
  }

  private fork(r: ProcEventRecord, parent: ProcEntry): void {
    const f = r.fork;
    if (!f || f.thread || f.failed) return;
    this.stats.forks++;
    const ppid = (f.cloneFlags & CLONE_PARENT) !== 0n ? r.hdr.ppid : parent.pid;
    this.put({ ...parent, pid: f.childPid, ppid, startNs: f.childStart, origin: 'fork', exited: false });
  }
}

/** The process facts the live SysFlow mapper asks for (src/sysflow/live-mapper.ts). */
export interface ProcessDetails { exe: string; args: string[]; cwd?: string; tty: boolean }

/** Provider for SysFlowOutput: the table instead of /proc. */
export function processDetailsFrom(table: ProcessTable): (pid: number) => ProcessDetails | undefined {
  return (pid) => {
    const e = table.get(pid);
    if (!e || !e.exe) return undefined;
    return { exe: e.exe, args: e.argv.slice(1), cwd: e.cwd || undefined, tty: e.tty !== 0 };
  };
}

export interface ProcessStageOptions extends ProcessTableOptions {
  /** wait for the /proc seed before the first batch (default true) */
  seedFirst?: boolean;
}

/**
 * Feeds process records into the table and attaches env.enrich.process (the record's process,
 * with its ancestors) to every record with a process header.
 */
export class ProcessStage implements Stage {
  readonly name = 'process';
  readonly table: ProcessTable;
  private seeding: Promise<void> | undefined;

  constructor(private readonly opts: ProcessStageOptions = {}) {
    this.table = new ProcessTable(opts);
  }

  start(ctx?: StageContext): Promise<void> {
    this.seeding ??= this.table.seed().then(() => ctx?.log(`process table: ${this.table.stats.seeded} processes from /proc`));
    return this.opts.seedFirst === false ? Promise.resolve() : this.seeding;
  }

  process(batch: Envelope[]): Envelope[] | Promise<Envelope[]> {
    if (!this.seeding) return this.start().then(() => this.attach(batch));
    return this.attach(batch);
  }

  private attach(batch: Envelope[]): Envelope[] {
    this.table.sweep();
    for (const env of batch) {
      const rec = env.rec as { type?: string; hdr?: ProcHeader };
      if (!rec.hdr) continue;
      if (env.kind === 'process' || rec.type === 'proc') this.table.apply(env.rec as ProcRecord);
      const p = this.table.enrichment(rec.hdr.pid);
      if (p) (env.enrich ??= {})['process'] = p;
    }
    return batch;
  }
}
