// Kernel records → SysFlow objects (SysFlowMapper): what maps to what is in
// docs/sysflow-mapping.md and docs/process-events.md; this module only translates our records
// into the mapper's inputs. One mapper serves a whole runtime: the objects of a record are
// memoised on its envelope (enrich.sysflow), so the filter, the flattener and the trace writer
// share one mapping and the mapper sees every record once, in order.
import { readFileSync, readlinkSync } from 'node:fs';
import type { FileRecord, KernelRecord } from '../../model/records.js';
import type { ProcEventRecord } from '../../model/process-record.js';
import type { SockRecord } from '../../model/socket-record.js';
import { FF } from '../../sensor/layout.js';
import { SysFlowMapper, fileOps, type LiveContainerInfo, type LiveProcessInfo, type LiveFileOp, type LiveFileRecord, type LiveProcessLookup } from '../../sysflow/live-mapper.js';
import type { File, FileFlow, OID, SfObject } from '../../sysflow/types.js';
import type { Enrichment, Envelope } from '../types.js';
import type { ContainerEnrichment } from '../../enrich/containers.js';

const EV = { CREATE: 0, OPEN: 1, OPEN_EXEC: 2, ACCESS: 3, ATTRIB: 4, MODIFY: 5, CLOSE_WRITE: 6, CLOSE_NOWRITE: 7, MOVED_FROM: 8, MOVED_TO: 9, DELETE: 10 };

type Details = { exe: string; args: readonly string[]; cwd?: string; tty?: boolean; container?: LiveContainerInfo };

/** Executable path and arguments from /proc while the process lives; the basename otherwise. */
function procDetails(pid: number, exeBase: string, lookup?: LiveProcessLookup): Details {
  if (lookup) return lookup(pid) ?? { exe: exeBase, args: [] };
  try {
    const exe = readlinkSync(`/proc/${pid}/exe`);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => i < all.length - 1 || a);
    let cwd: string | undefined;
    try { cwd = readlinkSync(`/proc/${pid}/cwd`); } catch { /* gone or denied */ }
    return { exe, args: argv.slice(1), cwd };
  } catch {
    return { exe: exeBase, args: [] };
  }
}

/** uid/gid names for SysFlow's user/group fields. */
export interface IdLookup {
  user(uid: number): string;
  group(gid: number): string;
}

export class KernelToSysFlow {
  private readonly mapper = new SysFlowMapper();
  /** start time of each pid the mapper was told about (pid reuse gives another start time) */
  private readonly seen = new Map<number, bigint>();
  private out: SfObject[] = [];
  /** records SysFlow could not hold (reported once by the caller) */
  errors = 0;
  lastError = '';

  /** the enrichment of the record being mapped (process table and container stages) */
  private current: Enrichment | undefined;
  /** boot-time ns of the record being mapped (a pod's first-seen time) */
  private currentTs = 0n;
  private readonly lookup: LiveProcessLookup;

  /** `lookup`: process facts from the process table instead of /proc (src/enrich). */
  constructor(private readonly bootToRealNs: bigint, private readonly ids: IdLookup, private readonly table?: LiveProcessLookup) {
    this.lookup = (pid) => this.fromEnrichment(pid) ?? this.table?.(pid);
  }

  /** The record's own process snapshot (as it was when the record passed the process stage). */
  private fromEnrichment(pid: number): Details & { tty: boolean } | undefined {
    const p = this.current?.['process'] as { pid: number; exe: string; argv: readonly string[]; cwd: string; tty: number } | undefined;
    if (!p || p.pid !== pid || !p.exe) return undefined;
    const c = this.current?.['container'] as ContainerEnrichment | undefined;
    return {
      exe: p.exe, args: p.argv.slice(1), cwd: p.cwd || undefined, tty: p.tty !== 0,
      // SysFlow (and sf-collector) use the 12-character id
      container: c && {
        id: c.shortId, name: c.name, image: c.image, imageId: c.imageId, runtime: c.runtime, privileged: c.privileged,
        ...(c.pod?.uid ? { pod: { id: c.pod.uid, name: c.pod.name, namespace: c.pod.namespace, labels: c.pod.labels, ts: this.real(this.currentTs) } } : {}),
      },
    };
  }

  /** Container entity (emitted when new or changed) of a process the enrichment placed in one. */
  private containerOf(c: LiveContainerInfo | undefined): string | null {
    if (!c) return null;
    this.write(this.mapper.containerSeen(c));
    return c.id;
  }

  private get enriched(): LiveProcessLookup | undefined {
    return this.current?.['process'] || this.table ? this.lookup : undefined;
  }

  private write(objs: SfObject[]): void {
    for (const o of objs) this.out.push(o);
  }

  private real(bootNs: bigint): bigint {
    return bootNs + this.bootToRealNs;
  }

  /** Makes sure the mapper knows the process of a record (pid + start time identify it). */
  private processOf(r: KernelRecord): void {
    const h = r.hdr;
    if (this.seen.get(h.pid) === h.procStart) return;
    if (this.seen.size > 100_000) this.seen.clear();
    this.seen.set(h.pid, h.procStart);
    const exec = r.type === 'proc' && r.event === 'EXEC' ? r.exec : undefined;
    const t = this.enriched?.(h.pid);
    const d: Details = exec ? { exe: exec.exePath, args: exec.argv.slice(1), cwd: t?.cwd, tty: t?.tty, container: t?.container } : procDetails(h.pid, h.exe, this.enriched);
    const info: LiveProcessInfo = {
      pid: h.pid, ppid: h.ppid, exe: d.exe, args: d.args, uid: h.uid, gid: h.gid, cwd: d.cwd, containerId: this.containerOf(d.container),
      user: this.ids.user(h.uid), group: this.ids.group(h.gid), startTimeNs: this.real(h.procStart), tty: d.tty ?? false,
    };
    this.write(this.mapper.processSeen(info, this.real(h.ts)));
  }

  private fileInput(r: FileRecord): LiveFileRecord {
    const e = r.event;
    return {
      pid: r.hdr.pid, tid: r.hdr.tid, path: r.dir + r.name, firstTs: this.real(r.hdr.tsFirst), lastTs: this.real(r.hdr.ts),
      opens: (e[EV.OPEN] ?? 0) + (e[EV.OPEN_EXEC] ?? 0), reads: e[EV.ACCESS], writes: e[EV.MODIFY],
      closes: (e[EV.CLOSE_WRITE] ?? 0) + (e[EV.CLOSE_NOWRITE] ?? 0),
      bytesRead: r.bytesRead, bytesWritten: r.bytesWritten, openFlagsLinux: r.openFlags,
      restype: (r.mode & 0o170000) === 0o120000 ? 'l' : 'f',
      truncated: (r.hdr.flags & FF.SHUTDOWN) !== 0,
    };
  }

  private file(r: FileRecord): void {
    const path = r.dir + r.name;
    const e = r.event;
    this.write(this.mapper.fileRecord(this.fileInput(r)));
    const op = (o: LiveFileOp['op'], p: string, newPath?: string) =>
      this.write(this.mapper.fileOp({ op: o, ts: this.real(r.hdr.ts), pid: r.hdr.pid, tid: r.hdr.tid, path: p, newPath, ret: 0 }));
    if (r.hdr.flags & FF.MOVED) op('rename', r.dir + r.origin, path);
    if (e[EV.DELETE]) op('unlink', path);
  }

  private sock(r: SockRecord): void {
    if (r.family === 'AF_UNIX' || !r.protocol) return; // SysFlow NetworkFlow is IP-only
    this.write(this.mapper.networkRecord({
      pid: r.hdr.pid, tid: r.hdr.tid, proto: r.protocol === 'TCP' ? 'tcp' : 'udp',
      localIp: r.localIP, localPort: r.localPort, remoteIp: r.remoteIP, remotePort: r.remotePort,
      role: r.role === 'SERVER' ? 'accept' : 'connect',
      firstTs: this.real(r.hdr.tsFirst), lastTs: this.real(r.hdr.ts),
      bytesSent: r.tx.bytes, bytesReceived: r.rx.bytes, sendOps: r.tx.dataPackets, recvOps: r.rx.dataPackets,
      closed: r.reason === 'close', truncated: r.reason === 'shutdown',
    }));
  }

  private proc(r: ProcEventRecord): void {
    const h = r.hdr;
    const ts = this.real(h.ts);
    const ret = Number(r.ret);
    switch (r.event) {
      case 'FORK':
        if (!r.fork) return;
        if (r.fork.thread) this.write(this.mapper.lifecycle({ kind: 'thread', ts, pid: h.pid, tid: h.tid, newTid: r.fork.childTid }));
        else {
          // a forked child has its parent's image, cwd, tty and cgroup: the record's own process
          const d = this.current?.['process'] ? procDetails(h.pid, h.exe, this.enriched) : procDetails(r.fork.childPid, h.exe, this.enriched);
          this.write(this.mapper.lifecycle({
            kind: 'clone', ts, parentPid: h.pid, parentTid: h.tid, ret,
            child: { pid: r.fork.childPid, ppid: h.pid, exe: d.exe, args: d.args, uid: h.uid, gid: h.gid, startTimeNs: this.real(r.fork.childStart), tty: d.tty ?? false, cwd: d.cwd, containerId: this.containerOf(d.container) },
          }));
        }
        return;
      case 'EXEC': {
        if (!r.exec) return;
        const t = this.enriched?.(h.pid);
        this.write(this.mapper.lifecycle({
          kind: 'exec', ts, pid: h.pid, tid: h.tid, ret,
          process: { pid: h.pid, ppid: h.ppid, exe: r.exec.exePath, args: r.exec.argv.slice(1), uid: h.uid, gid: h.gid, startTimeNs: this.real(h.procStart), tty: t?.tty ?? false, cwd: t?.cwd, containerId: this.containerOf(t?.container) },
        }));
        return;
      }
      case 'EXIT':
        this.write(this.mapper.lifecycle({ kind: 'exit', ts, pid: h.pid, tid: h.tid, ret: r.exit?.code }));
        return;
      case 'SETUID': case 'SETREUID': case 'SETRESUID':
        if (r.cred) this.write(this.mapper.lifecycle({ kind: 'setuid', ts, pid: h.pid, tid: h.tid, uid: r.cred.new.effective, user: this.ids.user(r.cred.new.effective), ret }));
        return;
    }
    const ops: Partial<Record<string, LiveFileOp['op']>> = { MKDIR: 'mkdir', RMDIR: 'rmdir', LINK: 'link', SYMLINK: 'symlink', RENAME: 'rename', UNLINK: 'unlink' };
    const op = ops[r.event];
    if (op && r.file?.path) {
      this.write(this.mapper.fileOp({ op, ts, pid: h.pid, tid: h.tid, path: r.file.path, newPath: r.file.newPath ?? r.file.target, ret }));
    }
  }

  /** The SysFlow objects of one kernel record (internal notices map to none). `enrich`: what
   * the process table and container stages attached to it (then /proc is never read). */
  record(r: KernelRecord, enrich?: Enrichment): SfObject[] {
    this.out = [];
    this.current = enrich;
    this.currentTs = r.hdr.ts;
    if (r.type === 'pid_exit') return this.out;
    if (r.type === 'proc' && r.event === 'THROTTLED') return this.out;
    try {
      this.processOf(r);
      if (r.type === 'file') this.file(r);
      else if (r.type === 'sock') this.sock(r);
      else if (r.type === 'proc') this.proc(r);
    } catch (e) {
      // a record SysFlow cannot hold must not stop the other outputs
      this.errors++;
      this.lastError = (e as Error).message;
    }
    return this.out;
  }

  /**
   * The first half of record() for a file record that maps to exactly one FileFlow (no rename,
   * no delete): the process bookkeeping runs for real and its entities are returned, and the
   * FileFlow with its File is previewed without touching the file tables (see
   * SysFlowMapper.previewFileRecord). `flow` is null when the record needs the full mapping;
   * then record() gives the rest of its objects (the process part does not repeat). After a
   * failure (`failed`), the record maps to the entities only, as record() would have left it.
   * The answer is valid until the next call.
   */
  previewFile(r: KernelRecord, enrich?: Enrichment): FilePreview | null {
    const pv = this.previewFileProcess(r, enrich);
    if (pv !== null && !pv.failed) this.previewFileFlow(r as FileRecord);
    return pv;
  }

  /**
   * previewFile in two steps, so that a caller can decide from the process and the path alone
   * before any preview object is made: this one checks the record qualifies and does the
   * process bookkeeping (flow and file null, or failed); previewFileFlow then previews the
   * FileFlow into the same answer. Valid until the next call.
   */
  previewFileProcess(r: KernelRecord, enrich?: Enrichment): FilePreview | null {
    if (r.type !== 'file' || (r.hdr.flags & FF.MOVED) !== 0 || (r.event[EV.DELETE] ?? 0) !== 0) return null;
    // the entities and the answer are read before the next call: one array and object serve all
    const pv = this.preview;
    // setting an array's length is a runtime call even when it is 0 already
    if (pv.entities.length !== 0) pv.entities.length = 0;
    this.out = pv.entities;
    this.current = enrich;
    this.currentTs = r.hdr.ts;
    pv.flow = null;
    pv.file = null;
    try {
      this.processOf(r);
    } catch (e) {
      this.errors++;
      this.lastError = (e as Error).message;
      pv.failed = true;
      this.out = [];
      return pv;
    }
    this.out = [];
    pv.failed = false;
    return pv;
  }

  /** The second step of previewFile (after previewFileProcess accepted `r` without failing). */
  previewFileFlow(r: FileRecord): FilePreview {
    const pv = this.preview;
    const flow = this.mapper.previewFileRecord(new PreviewInput(r, this.bootToRealNs));
    pv.flow = flow;
    pv.file = flow === null ? null : flow.file;
    return pv;
  }

  /** The process OID of the FileFlow previewFileFlow would make of `r`, null if it would make none. */
  previewProcessOid(r: FileRecord): OID | null {
    return this.mapper.previewProcessOid(r.hdr.pid);
  }

  /** The opflags of that FileFlow. */
  previewOps(r: FileRecord): number {
    // nothing keeps the input: one serves every call
    const i = (this.opsInput ??= new PreviewInput(r, this.bootToRealNs));
    i.reset(r);
    return fileOps(i);
  }
  private opsInput: PreviewInput | undefined;

  /**
   * record() for a socket record whose NetworkFlow nobody needs: the process bookkeeping, no
   * flow. `flows`: NetworkFlows the record would have made (its ids are counted), or -1 when it
   * needs the full mapping (record() gives the rest). Valid until the next call.
   */
  skipSocket(r: KernelRecord, enrich?: Enrichment): SocketSkip | null {
    if (r.type !== 'sock') return null;
    const pv = this.skipped;
    if (pv.entities.length !== 0) pv.entities.length = 0;
    this.out = pv.entities;
    this.current = enrich;
    this.currentTs = r.hdr.ts;
    pv.failed = false;
    try {
      this.processOf(r);
      pv.flows = r.family === 'AF_UNIX' || !r.protocol ? 0 : this.mapper.skipNetworkRecord({ pid: r.hdr.pid, localIp: r.localIP, remoteIp: r.remoteIP }) ?? -1;
    } catch (e) {
      this.errors++;
      this.lastError = (e as Error).message;
      pv.failed = true;
      pv.flows = 0;
    }
    this.out = [];
    return pv;
  }

  private readonly preview: { entities: SfObject[]; flow: FileFlow | null; file: File | null; failed: boolean } = { entities: [], flow: null, file: null, failed: false };
  private readonly skipped: { entities: SfObject[]; flows: number; failed: boolean } = { entities: [], flows: 0, failed: false };
}

/**
 * fileInput(r) for previewFile, read on demand: the path is joined and the clocks converted
 * (BigInt sums) only if something reads them; a record the prefilter rejects mostly never does.
 * Same values as fileInput.
 */
class PreviewInput implements LiveFileRecord {
  private p: string | undefined;
  private first: bigint | undefined;
  private last: bigint | undefined;
  constructor(private r: FileRecord, private readonly bootToRealNs: bigint) {}
  /** The input of another record (previewOps reuses one). */
  reset(r: FileRecord): void {
    this.r = r;
    this.p = this.first = this.last = undefined;
  }
  get pid(): number { return this.r.hdr.pid; }
  get tid(): number { return this.r.hdr.tid; }
  get path(): string { return (this.p ??= this.r.dir + this.r.name); }
  get firstTs(): bigint { return (this.first ??= this.r.hdr.tsFirst + this.bootToRealNs); }
  get lastTs(): bigint { return (this.last ??= this.r.hdr.ts + this.bootToRealNs); }
  get opens(): number { const e = this.r.event; return (e[EV.OPEN] ?? 0) + (e[EV.OPEN_EXEC] ?? 0); }
  get reads(): number | undefined { return this.r.event[EV.ACCESS]; }
  get writes(): number | undefined { return this.r.event[EV.MODIFY]; }
  get closes(): number { const e = this.r.event; return (e[EV.CLOSE_WRITE] ?? 0) + (e[EV.CLOSE_NOWRITE] ?? 0); }
  get bytesRead(): number { return this.r.bytesRead; }
  get bytesWritten(): number { return this.r.bytesWritten; }
  get openFlagsLinux(): number { return this.r.openFlags; }
  get restype(): string { return (this.r.mode & 0o170000) === 0o120000 ? 'l' : 'f'; }
  get truncated(): boolean { return (this.r.hdr.flags & FF.SHUTDOWN) !== 0; }
}

/** A socket record's process entities and the NetworkFlows it would make (KernelToSysFlow.skipSocket). */
export interface SocketSkip {
  readonly entities: SfObject[];
  readonly flows: number;
  readonly failed: boolean;
}

/** A file record's process entities and its previewed FileFlow (KernelToSysFlow.previewFile). */
export interface FilePreview {
  readonly entities: SfObject[];
  readonly flow: FileFlow | null;
  readonly file: File | null;
  readonly failed: boolean;
}

const NO_OBJECTS: SfObject[] = [];

/** The SysFlow objects of an envelope, mapped once (memoised in enrich.sysflow). */
export function sysflowObjects(env: Envelope, mapper: KernelToSysFlow | undefined): SfObject[] {
  const e = env.enrich;
  const have = e?.['sysflow'] as SfObject[] | undefined;
  if (have !== undefined) return have;
  if (!mapper || env.kind === 'sysflow' || env.kind === 'alert') return NO_OBJECTS;
  const objs = mapper.record(env.rec as KernelRecord, e);
  if (e) e['sysflow'] = objs;
  else env.enrich = { sysflow: objs };
  return objs;
}

