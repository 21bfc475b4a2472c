// The entities a SysFlow trace sink (trace-sink.ts) keeps live, and what each output segment
// (a trace file, or a socket connection's stream since its header) has written: an event or flow
// whose process, file or container the segment has not written yet gets that entity (REUP)
// just before it, ancestors and containers first; a new segment starts with every live
// container, pod and process. Processes leave the live set at the rotation after their main
// thread's EXIT; the process and file tables are bounded (least recently used go first).
import { OP } from './flags.js';
import { oidKey } from './oid.js';
import type { Container, File, OID, Pod, Process, SFHeader, SfObject } from './types.js';

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
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  entries(): IterableIterator<[string, V]> {
    return this.m.entries();
  }
}

/** One output's state: what has been written since its last header. */
export class Segment {
  readonly procs = new Set<string>();
  readonly files = new Set<string>();
  readonly conts = new Set<string>();
  readonly pods = new Set<string>();
  constructor(readonly emit: (obj: SfObject) => void) {}
}

/** Counts the entity tables keep (part of the sink's stats). */
export interface EntityStats {
  /** Entities written again (REUP) to keep files self-contained. */
  reemitted: number;
  /** References to entities the sink never saw (written anyway). */
  danglingRefs: number;
  /** Header objects passed in by the caller (ignored: the sink writes its own). */
  ignoredHeaders: number;
}

const reup = <T extends { state: string }>(r: T): T => (r.state === 'REUP' ? r : { ...r, state: 'REUP' });

export class LiveEntities {
  private readonly processes: Lru<Process>;
  private readonly files: Lru<File>;
  private readonly containers = new Map<string, Container>();
  private readonly pods = new Map<string, Pod>();
  /** OID keys whose main thread exited; dropped from the live set at the next rotation. */
  private readonly exited = new Set<string>();

  constructor(private readonly stats: EntityStats, maxProcesses: number, maxFiles: number) {
    this.processes = new Lru<Process>(maxProcesses);
    this.files = new Lru<File>(maxFiles);
  }

  /** Starts a segment: its header, then every live container, pod and process. */
  startSegment(seg: Segment, header: SFHeader): void {
    seg.emit({ type: 'H', rec: header });
    for (const id of this.pods.keys()) this.ensurePod(seg, id);
    for (const id of this.containers.keys()) this.ensureContainer(seg, id);
    for (const [k, p] of this.processes.entries()) if (!this.exited.has(k)) this.ensureProcess(seg, p.oid);
  }

  /** A rotation: processes whose exit was seen during the finished segment leave the live set. */
  forgetExited(): void {
    for (const k of this.exited) this.processes.delete(k);
    this.exited.clear();
  }

  /** Writes obj to each segment, preceded by the entities it refers to that a segment lacks;
   * false for a header (the sink writes its own). */
  write(obj: SfObject, segs: readonly Segment[]): boolean {
    switch (obj.type) {
      case 'H':
        this.stats.ignoredHeaders++;
        return false;
      case 'C':
        this.containers.set(obj.rec.id, obj.rec);
        for (const s of segs) {
          if (obj.rec.podId) this.ensurePod(s, obj.rec.podId);
          s.conts.add(obj.rec.id);
          s.emit(obj);
        }
        break;
      case 'POD':
        this.pods.set(obj.rec.id, obj.rec);
        for (const s of segs) {
          s.pods.add(obj.rec.id);
          s.emit(obj);
        }
        break;
      case 'P': {
        const k = oidKey(obj.rec.oid);
        this.processes.set(k, obj.rec);
        this.exited.delete(k);
        for (const s of segs) {
          if (obj.rec.poid !== null) this.ensureProcess(s, obj.rec.poid, 1);
          this.ensureContainer(s, obj.rec.containerId);
          s.procs.add(k);
          s.emit(obj);
        }
        break;
      }
      case 'F':
        this.files.set(obj.rec.oid, obj.rec);
        for (const s of segs) {
          this.ensureContainer(s, obj.rec.containerId);
          s.files.add(obj.rec.oid);
          s.emit(obj);
        }
        break;
      case 'KE':
        for (const s of segs) s.emit(obj);
        break;
      default: {
        const r = obj.rec;
        for (const s of segs) {
          this.ensureProcess(s, r.procOID);
          if (obj.type === 'FF') this.ensureFile(s, obj.rec.fileOID);
          else if (obj.type === 'FE') {
            this.ensureFile(s, obj.rec.fileOID);
            if (obj.rec.newFileOID !== null) this.ensureFile(s, obj.rec.newFileOID);
          }
          s.emit(obj);
        }
        if (obj.type === 'PE' && obj.rec.opFlags & OP.EXIT && obj.rec.tid === r.procOID.hpid) this.exited.add(oidKey(r.procOID));
      }
    }
    return true;
  }

  private ensureContainer(seg: Segment, id: string | null): void {
    if (id === null || id === '' || seg.conts.has(id)) return;
    const c = this.containers.get(id);
    if (!c) {
      this.stats.danglingRefs++;
      return;
    }
    if (c.podId !== null && c.podId !== '') this.ensurePod(seg, c.podId);
    seg.conts.add(id);
    seg.emit({ type: 'C', rec: c });
    this.stats.reemitted++;
  }

  private ensurePod(seg: Segment, id: string): void {
    if (seg.pods.has(id)) return;
    const p = this.pods.get(id);
    if (!p) {
      this.stats.danglingRefs++;
      return;
    }
    seg.pods.add(id);
    seg.emit({ type: 'POD', rec: p });
    this.stats.reemitted++;
  }

  /** Emits the process (REUP) with its ancestors and container first, unless already written. */
  private ensureProcess(seg: Segment, oid: OID, depth = 0): void {
    const k = oidKey(oid);
    if (seg.procs.has(k)) return;
    const p = this.processes.get(k);
    if (!p) {
      if (depth === 0) this.stats.danglingRefs++;
      return; // an unknown ancestor is normal (poid of a process started before capture)
    }
    seg.procs.add(k); // before recursing: OID reuse can form cycles
    if (p.poid !== null && depth < 64) this.ensureProcess(seg, p.poid, depth + 1);
    this.ensureContainer(seg, p.containerId);
    seg.emit({ type: 'P', rec: reup(p) });
    this.stats.reemitted++;
  }

  private ensureFile(seg: Segment, foid: string): void {
    if (seg.files.has(foid)) return;
    const f = this.files.get(foid);
    if (!f) {
      this.stats.danglingRefs++;
      return;
    }
    this.ensureContainer(seg, f.containerId);
    seg.files.add(foid);
    seg.emit({ type: 'F', rec: reup(f) });
    this.stats.reemitted++;
  }
}
