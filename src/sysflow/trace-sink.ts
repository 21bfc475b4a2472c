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
// are bounded (least recently used entries are forgotten first). The tables and the
// re-emission: trace-entities.ts; this module owns the outputs, their names and rotation.
import { hostname } from 'node:os';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SysFlowFileWriter } from './ocf-writer.js';
import type { OcfWriterOptions } from './ocf-writer.js';
import { SysFlowSocketOutput } from './socket-output.js';
import type { DatagramTransport } from './socket-output.js';
import type { SfObject } from './types.js';
import { LiveEntities, Segment, type EntityStats } from './trace-entities.js';

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

export interface SysFlowTraceSinkStats extends EntityStats {
  records: number;
  filesWritten: number;
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

export function createSysFlowTraceSink(opts: SysFlowTraceSinkOptions): SysFlowTraceSink {
  return new TraceSink(opts);
}

class TraceSink implements SysFlowTraceSink {
  readonly stats: SysFlowTraceSinkStats = { records: 0, reemitted: 0, danglingRefs: 0, filesWritten: 0, ignoredHeaders: 0 };
  readonly paths: string[] = [];
  private readonly now: () => number;
  private readonly rotateMs: number;
  private readonly exporter: string;
  private readonly isDir: boolean;
  private readonly live: LiveEntities;
  private readonly socketOut: SysFlowSocketOutput | null;
  private fileWriter: SysFlowFileWriter | null = null;
  private fileSeg: Segment | null = null;
  private sockSeg: Segment | null = null;
  /** the outputs a record goes to */
  private segs: Segment[] = [];
  private segmentStart = 0;
  private closed = false;
  private readonly timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: SysFlowTraceSinkOptions) {
    if (opts.output === undefined && opts.socket === undefined) throw new Error('SysFlow sink: need an output path (-w) or a socket');
    this.now = opts.now ?? Date.now;
    this.rotateMs = (opts.rotateSeconds ?? 0) * 1000;
    if (!(this.rotateMs >= 0) || !Number.isFinite(this.rotateMs)) throw new Error(`SysFlow sink: invalid rotation interval ${opts.rotateSeconds}`);
    this.exporter = opts.exporterId ?? hostname();
    this.isDir = opts.output !== undefined && opts.output.endsWith('/');
    if (opts.output !== undefined) mkdirSync(this.isDir ? opts.output : dirname(opts.output), { recursive: true });
    this.live = new LiveEntities(this.stats, opts.maxProcesses ?? 100_000, opts.maxFiles ?? 65_536);
    this.socketOut = opts.socket ? new SysFlowSocketOutput(opts.socket) : null;
    this.openSegments();
    const interval = opts.flushIntervalMs ?? 1000;
    if (interval > 0) {
      this.timer = setInterval(() => this.tick(), interval);
      this.timer.unref();
    }
  }

  get currentPath(): string | null {
    return this.fileWriter ? this.fileWriter.path : null;
  }

  write(obj: SfObject): void {
    if (this.closed) throw new Error('SysFlow sink is closed');
    this.maybeRotate();
    if (this.live.write(obj, this.segs)) this.stats.records++;
  }

  tick(): void {
    if (this.closed) return;
    this.maybeRotate();
    this.fileWriter?.flush();
  }

  flush(): void {
    this.fileWriter?.flush();
  }

  restartSocket(): void {
    if (this.closed) return;
    this.openSocketSegment();
    this.track();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.fileWriter?.close();
    this.socketOut?.close();
  }

  private pathFor(epochSec: number): string {
    const out = this.opts.output!;
    if (this.isDir) return join(out, String(epochSec));
    return this.rotateMs > 0 ? `${out}.${epochSec}` : out;
  }

  private start(seg: Segment, filename: string): Segment {
    this.live.startSegment(seg, { version: 5n, exporter: this.exporter, ip: this.opts.ip ?? 'NA', filename });
    return seg;
  }

  private openFile(): void {
    if (this.opts.output === undefined) return;
    const numbered = this.rotateMs > 0 || this.isDir;
    let sec = Math.floor(this.now() / 1000);
    let path = this.pathFor(sec);
    // Never clobber: a restart within the same second moves to the next free second.
    if (numbered) {
      while (existsSync(path)) path = this.pathFor(++sec);
    }
    const w = new SysFlowFileWriter(path, { codec: this.opts.codec, blockSize: this.opts.blockSize, overwrite: !numbered });
    this.fileWriter = w;
    this.paths.push(path);
    this.stats.filesWritten++;
    this.fileSeg = this.start(new Segment((o) => w.write(o)), path);
  }

  private openSocketSegment(): void {
    const out = this.socketOut;
    if (out) this.sockSeg = this.start(new Segment((o) => out.write(o)), '');
  }

  private openSegments(): void {
    this.segmentStart = this.now();
    this.openFile();
    this.openSocketSegment();
    this.track();
  }

  private track(): void {
    this.segs = [this.fileSeg, this.sockSeg].filter((s): s is Segment => s !== null);
  }

  private maybeRotate(): void {
    if (!(this.rotateMs > 0 && this.now() - this.segmentStart >= this.rotateMs)) return;
    this.live.forgetExited();
    this.fileWriter?.close();
    this.openSegments();
  }
}
