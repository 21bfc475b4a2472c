// The SysFlow trace sink the agent writes to: `-w DIR/` or `-w PATH`, `-G SECONDS` rotation,
// `--exporter-id`, and optionally the socket stream. It enforces the format's invariants
// whatever order the caller produces objects in:
//   - every file (and socket segment) starts with an SFHeader;
//   - an entity is written before any record that references it: a process's container and
//     its known ancestors go first, and an event/flow whose process/file/container was not yet
//     written in the current file gets that entity (re-)emitted with state REUP just before it;
//   - on rotation the new file starts with the header and every still-live container, pod and
//     process re-emitted as REUP (parents before children), so each file stands alone. File
//     entities are re-emitted lazily (on first reference in the new file): the sink cannot know
//     which files are still open, and lazily re-emitting keeps every referenced one present.
// Processes leave the live set one rotation after their main thread's EXIT event; the tables
// are bounded (least recently used entries are forgotten first).
import { hostname } from 'node:os';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OP } from './flags.js';
import { oidKey } from './oid.js';
import { SysFlowFileWriter } from './ocf-writer.js';
import type { OcfWriterOptions } from './ocf-writer.js';
import { SysFlowSocketOutput } from './socket-output.js';
import type { DatagramTransport } from './socket-output.js';
import type { Container, File, OID, Pod, Process, SFHeader, SfObject } from './types.js';

export interface SysFlowTraceSinkOptions {
  /**
   * `-w`: a path ending in "/" is a directory and files are named `<epoch seconds>` inside it
   * (the collector's and sf-exporter's convention); another path with rotation gives
   * `PATH.<epoch>`; without rotation, exactly PATH. Omit for socket-only output.
   */
  output?: string;
  /** `-G`: rotate every N seconds (0 or absent: one file). */
  rotateSeconds?: number;
  /** `--exporter-id`: SFHeader.exporter (default: the host name). */
  exporterId?: string;
  /** SFHeader.ip (default "NA", the schema default). */
  ip?: string;
  /** Socket stream output (see socket-output.ts for the SOCK_SEQPACKET gap). */
  socket?: DatagramTransport;
  codec?: OcfWriterOptions['codec'];
  blockSize?: number;
  /** Flush buffered blocks and check rotation on a timer (ms, default 1000; 0 = off). */
  flushIntervalMs?: number;
  /** Table bounds for re-emission (defaults 100,000 processes, 65,536 files). */
  maxProcesses?: number;
  maxFiles?: number;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
}

export interface SysFlowTraceSinkStats {
  records: number;
  /** Entities written again (REUP) to keep files self-contained. */
  reemitted: number;
  /** References to entities the sink never saw (written anyway). */
  danglingRefs: number;
  filesWritten: number;
  /** Header objects passed in by the caller (ignored: the sink writes its own). */
  ignoredHeaders: number;
}

export interface SysFlowTraceSink {
  /** Write one object (entity, event or flow). Throws on invalid values. */
  write(obj: SfObject): void;
  /** Rotate now if the interval has passed; flush buffered blocks. */
  tick(): void;
  flush(): void;
  close(): void;
  /** The socket's reader is a new one (the processor was restarted): start a new socket segment,
   * a header and every live container, pod and process again, as after a rotation. */
  restartSocket(): void;
  /** Path of the file being written (null for socket-only output). */
  readonly currentPath: string | null;
  /** Every trace file this sink created, in order. */
  readonly paths: readonly string[];
  readonly stats: SysFlowTraceSinkStats;
}

/** Map with LRU eviction: `get` and `set` refresh recency. */
class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  peek(k: string): V | undefined {
    return this.m.get(k);
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  values(): IterableIterator<V> {
    return this.m.values();
  }
  entries(): IterableIterator<[string, V]> {
    return this.m.entries();
  }
}

type Emit = (obj: SfObject) => void;

/** Per-output state: what has been written since this output's last header. */
class Segment {
  readonly procs = new Set<string>();
  readonly files = new Set<string>();
  readonly conts = new Set<string>();
  readonly pods = new Set<string>();
  constructor(readonly emit: Emit) {}
}

const reup = <T extends { state: string }>(r: T): T => (r.state === 'REUP' ? r : { ...r, state: 'REUP' });

export function createSysFlowTraceSink(opts: SysFlowTraceSinkOptions): SysFlowTraceSink {
  if (opts.output === undefined && opts.socket === undefined) throw new Error('SysFlow sink: need an output path (-w) or a socket');
  const now = opts.now ?? Date.now;
  const rotateMs = (opts.rotateSeconds ?? 0) * 1000;
  if (!(rotateMs >= 0) || !Number.isFinite(rotateMs)) throw new Error(`SysFlow sink: invalid rotation interval ${opts.rotateSeconds}`);
  const exporter = opts.exporterId ?? hostname();
  const ip = opts.ip ?? 'NA';
  const isDir = opts.output !== undefined && opts.output.endsWith('/');
  if (opts.output !== undefined) mkdirSync(isDir ? opts.output : dirname(opts.output), { recursive: true });

  const processes = new Lru<Process>(opts.maxProcesses ?? 100_000);
  const files = new Lru<File>(opts.maxFiles ?? 65_536);
  const containers = new Map<string, Container>();
  const pods = new Map<string, Pod>();
  /** OID keys whose main thread exited; dropped from the live set at the next rotation. */
  const exited = new Set<string>();
  const stats: SysFlowTraceSinkStats = { records: 0, reemitted: 0, danglingRefs: 0, filesWritten: 0, ignoredHeaders: 0 };
  const paths: string[] = [];

  let fileWriter: SysFlowFileWriter | null = null;
  let fileSeg: Segment | null = null;
  const socketOut = opts.socket ? new SysFlowSocketOutput(opts.socket) : null;
  let sockSeg: Segment | null = null;
  let segmentStart = 0;
  let closed = false;

  function pathFor(epochSec: number): string {
    const out = opts.output!;
    if (isDir) return join(out, String(epochSec));
    return rotateMs > 0 ? `${out}.${epochSec}` : out;
  }

  function header(filename: string): SfObject {
    const h: SFHeader = { version: 5n, exporter, ip, filename };
    return { type: 'H', rec: h };
  }

  function emitTo(seg: Segment, obj: SfObject): void {
    seg.emit(obj);
  }

  function ensureContainer(seg: Segment, id: string | null): void {
    if (id === null || id === '' || seg.conts.has(id)) return;
    const c = containers.get(id);
    if (!c) {
      stats.danglingRefs++;
      return;
    }
    if (c.podId !== null && c.podId !== '') ensurePod(seg, c.podId);
    seg.conts.add(id);
    emitTo(seg, { type: 'C', rec: c });
    stats.reemitted++;
  }

  function ensurePod(seg: Segment, id: string): void {
    if (seg.pods.has(id)) return;
    const p = pods.get(id);
    if (!p) {
      stats.danglingRefs++;
      return;
    }
    seg.pods.add(id);
    emitTo(seg, { type: 'POD', rec: p });
    stats.reemitted++;
  }

  /** Emit the process (REUP) with its ancestors and container first, unless already written. */
  function ensureProcess(seg: Segment, oid: OID, depth = 0): void {
    const k = oidKey(oid);
    if (seg.procs.has(k)) return;
    const p = processes.get(k);
    if (!p) {
      if (depth === 0) stats.danglingRefs++;
      return; // an unknown ancestor is normal (poid of a process started before capture)
    }
    seg.procs.add(k); // before recursing: OID reuse can form cycles
    if (p.poid !== null && depth < 64) ensureProcess(seg, p.poid, depth + 1);
    ensureContainer(seg, p.containerId);
    emitTo(seg, { type: 'P', rec: reup(p) });
    stats.reemitted++;
  }

  function ensureFile(seg: Segment, foid: string): void {
    if (seg.files.has(foid)) return;
    const f = files.get(foid);
    if (!f) {
      stats.danglingRefs++;
      return;
    }
    ensureContainer(seg, f.containerId);
    seg.files.add(foid);
    emitTo(seg, { type: 'F', rec: reup(f) });
    stats.reemitted++;
  }

  /** Start a segment on one output: header, then every live container, pod and process. */
  function startSegment(seg: Segment, filename: string): void {
    emitTo(seg, header(filename));
    for (const id of pods.keys()) ensurePod(seg, id);
    for (const id of containers.keys()) ensureContainer(seg, id);
    for (const [k, p] of processes.entries()) if (!exited.has(k)) ensureProcess(seg, p.oid);
  }

  function openFile(): void {
    if (opts.output === undefined) return;
    let sec = Math.floor(now() / 1000);
    let path = pathFor(sec);
    // Never clobber: a restart within the same second moves to the next free second.
    if (rotateMs > 0 || isDir) {
      while (existsSync(path)) path = pathFor(++sec);
    }
    const w = new SysFlowFileWriter(path, { codec: opts.codec, blockSize: opts.blockSize, overwrite: !(rotateMs > 0 || isDir) });
    fileWriter = w;
    paths.push(path);
    stats.filesWritten++;
    fileSeg = new Segment((o) => w.write(o));
    startSegment(fileSeg, path);
  }

  function openSocketSegment(): void {
    if (!socketOut) return;
    sockSeg = new Segment((o) => socketOut.write(o));
    startSegment(sockSeg, '');
  }

  function rotate(): void {
    // Drop processes whose exit was seen during the finished segment.
    for (const k of exited) processes.delete(k);
    exited.clear();
    if (fileWriter) fileWriter.close();
    segmentStart = now();
    openFile();
    openSocketSegment();
  }

  function maybeRotate(): void {
    if (rotateMs > 0 && now() - segmentStart >= rotateMs) rotate();
  }

  segmentStart = now();
  openFile();
  openSocketSegment();

  const segs = (): Segment[] => [fileSeg, sockSeg].filter((s): s is Segment => s !== null);

  function write(obj: SfObject): void {
    if (closed) throw new Error('SysFlow sink is closed');
    maybeRotate();
    switch (obj.type) {
      case 'H':
        stats.ignoredHeaders++;
        return;
      case 'C':
        containers.set(obj.rec.id, obj.rec);
        for (const s of segs()) {
          if (obj.rec.podId) ensurePod(s, obj.rec.podId);
          s.conts.add(obj.rec.id);
          s.emit(obj);
        }
        break;
      case 'POD':
        pods.set(obj.rec.id, obj.rec);
        for (const s of segs()) {
          s.pods.add(obj.rec.id);
          s.emit(obj);
        }
        break;
      case 'P': {
        const k = oidKey(obj.rec.oid);
        processes.set(k, obj.rec);
        exited.delete(k);
        for (const s of segs()) {
          if (obj.rec.poid !== null) ensureProcess(s, obj.rec.poid, 1);
          ensureContainer(s, obj.rec.containerId);
          s.procs.add(k);
          s.emit(obj);
        }
        break;
      }
      case 'F':
        files.set(obj.rec.oid, obj.rec);
        for (const s of segs()) {
          ensureContainer(s, obj.rec.containerId);
          s.files.add(obj.rec.oid);
          s.emit(obj);
        }
        break;
      case 'KE':
        for (const s of segs()) s.emit(obj);
        break;
      default: {
        const r = obj.rec;
        for (const s of segs()) {
          ensureProcess(s, r.procOID);
          if (obj.type === 'FF') ensureFile(s, obj.rec.fileOID);
          else if (obj.type === 'FE') {
            ensureFile(s, obj.rec.fileOID);
            if (obj.rec.newFileOID !== null) ensureFile(s, obj.rec.newFileOID);
          }
          s.emit(obj);
        }
        if (obj.type === 'PE' && obj.rec.opFlags & OP.EXIT && obj.rec.tid === r.procOID.hpid) exited.add(oidKey(r.procOID));
      }
    }
    stats.records++;
  }

  let timer: NodeJS.Timeout | null = null;
  const interval = opts.flushIntervalMs ?? 1000;
  const sink: SysFlowTraceSink = {
    write,
    tick() {
      if (closed) return;
      maybeRotate();
      fileWriter?.flush();
    },
    flush() {
      fileWriter?.flush();
    },
    restartSocket() {
      if (!closed) openSocketSegment();
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      fileWriter?.close();
      socketOut?.close();
    },
    get currentPath() {
      return fileWriter ? fileWriter.path : null;
    },
    paths,
    stats,
  };
  if (interval > 0) {
    timer = setInterval(() => sink.tick(), interval);
    timer.unref();
  }
  return sink;
}
