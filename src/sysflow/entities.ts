// EntityTable: consumes SfObjects in stream order, keeps the entity tables (containers,
// processes, files, pods, header) and joins each event/flow with its entities into an
// SfRecordView (view.ts).
//
// Semantics (sysprint's FlattenedSFReader and sf-processor agree on these for well-formed files):
// - A header resets every table (each file/stream segment is self-contained).
// - The latest entity with a given key replaces the previous one (MODIFIED after CREATED etc.).
// - Keys: process OID (hpid, createTS) by value, file FOID hex, container id, pod id.
// - Missing references are counted in `missing` (sysprint prints a WARN and continues).
import { OidMap, oidKey } from './oid.js';
import { OldestFirst } from './evict.js';
import type { Container, File, OID, Pod, Process, SFHeader, SfEventFlowObject, SfEventFlowType, SfObject } from './types.js';
import type { SfRecordView } from './view.js';

export interface MissingCounts {
  process: number;
  parent: number;
  file: number;
  container: number;
  pod: number;
}

export class EntityTable {
  header: SFHeader | null = null;
  readonly processes = new OidMap<Process>();
  readonly files = new Map<string, File>();
  readonly containers = new Map<string, Container>();
  readonly pods = new Map<string, Pod>();
  /** Count of every record pushed (entities included); the next record's index. */
  index = 0;
  readonly missing: MissingCounts = { process: 0, parent: 0, file: 0, container: 0, pod: 0 };
  private readonly filesEvict = new OldestFirst(this.files);

  /**
   * maxFiles: a live stream (the flattener) forgets its oldest files beyond this many; the live
   * mapper sends a File entity again when a forgotten file comes back. Traces keep every file.
   */
  constructor(private readonly maxFiles = Infinity) {}

  reset(): void {
    this.header = null;
    this.processes.clear();
    this.files.clear();
    this.containers.clear();
    this.pods.clear();
  }

  /**
   * processes.get by the OID object: a live stream's records carry their process's one OID
   * object, and an identity look-up is several times cheaper than hashing two BigInts. Valid
   * while the table's processes do not change (OidMap.version).
   */
  private readonly byOidObject = new WeakMap<OID, { version: number; p: Process | null }>();
  processByOid(oid: OID): Process | null {
    const v = this.processes.version;
    const m = this.byOidObject.get(oid);
    if (m !== undefined && m.version === v) return m.p;
    const p = this.processes.get(oid) ?? null;
    if (m !== undefined) {
      m.version = v;
      m.p = p;
    } else this.byOidObject.set(oid, { version: v, p });
    return p;
  }

  getProcess(oid: OID | null): Process | null {
    return oid === null ? null : (this.processes.get(oid) ?? null);
  }
  getFile(foid: string | null): File | null {
    return foid === null ? null : (this.files.get(foid) ?? null);
  }
  getContainer(id: string | null): Container | null {
    return id === null || id === '' ? null : (this.containers.get(id) ?? null);
  }
  getPod(id: string | null): Pod | null {
    return id === null || id === '' ? null : (this.pods.get(id) ?? null);
  }

  /**
   * Consume one record. Entities update the tables and return null; events and flows return
   * their view. `index` counts all records, so views carry their position in the source.
   */
  push(obj: SfObject): SfRecordView | null {
    const index = this.index++;
    switch (obj.type) {
      case 'H':
        this.reset();
        this.header = obj.rec;
        return null;
      case 'C':
        this.containers.set(obj.rec.id, obj.rec);
        return null;
      case 'P':
        this.processes.set(obj.rec.oid, obj.rec);
        return null;
      case 'F':
        if (this.maxFiles !== Infinity) {
          // newest last, as the mapper orders them, so the table forgets only what it forgot;
          // a new file (the usual case) costs one probe: only a known one is moved
          const n = this.files.size;
          this.files.set(obj.rec.oid, obj.rec);
          if (this.files.size === n) {
            this.files.delete(obj.rec.oid);
            this.files.set(obj.rec.oid, obj.rec);
          } else if (this.files.size > this.maxFiles) this.filesEvict.evict();
        } else this.files.set(obj.rec.oid, obj.rec);
        return null;
      case 'POD':
        this.pods.set(obj.rec.id, obj.rec);
        return null;
      default:
        return this.view(obj, index);
    }
  }

  /**
   * Join an event/flow with the current tables (does not modify them). `fileEntity`: the File of
   * an FF that is not in the table (the live flattener's preview, stages/sysflow.ts).
   */
  view(obj: SfEventFlowObject, index: number, fileEntity?: File): SfRecordView {
    let proc: Process | null = null;
    let pproc: Process | null = null;
    let file: File | null = null;
    let newFile: File | null = null;
    if (obj.type !== 'KE') {
      proc = this.processByOid(obj.rec.procOID);
      if (proc === null) this.missing.process++;
      else if (proc.poid !== null) {
        pproc = this.processByOid(proc.poid);
        if (pproc === null) this.missing.parent++;
      }
    }
    if (obj.type === 'FF' || obj.type === 'FE') {
      file = fileEntity ?? this.files.get(obj.rec.fileOID) ?? null;
      if (file === null) this.missing.file++;
      if (obj.type === 'FE' && obj.rec.newFileOID !== null) {
        newFile = this.files.get(obj.rec.newFileOID) ?? null;
        if (newFile === null) this.missing.file++;
      }
    }
    const cid = proc ? proc.containerId : file ? file.containerId : null;
    let container: Container | null = null;
    if (cid !== null && cid !== '') {
      container = this.containers.get(cid) ?? null;
      if (container === null) this.missing.container++;
    }
    let pod: Pod | null = null;
    if (container !== null && container.podId !== null && container.podId !== '') {
      pod = this.pods.get(container.podId) ?? null;
      if (pod === null) this.missing.pod++;
    }
    return new RecordView(obj.type, obj, index, this.header, proc, pproc, file, newFile, container, pod, this.processes);
  }
}

class RecordView implements SfRecordView {
  private anc: Process[] | null = null;
  constructor(
    readonly type: SfEventFlowType,
    readonly obj: SfEventFlowObject,
    readonly index: number,
    readonly header: SFHeader | null,
    readonly proc: Process | null,
    readonly pproc: Process | null,
    readonly file: File | null,
    readonly newFile: File | null,
    readonly container: Container | null,
    readonly pod: Pod | null,
    // The live table, so ancestry reflects the state at evaluation time, like the processor.
    private readonly processes: OidMap<Process>,
  ) {}

  ancestors(): readonly Process[] {
    if (this.anc !== null) return this.anc;
    const out: Process[] = [];
    const seen = new Set<string>();
    if (this.proc !== null) seen.add(oidKey(this.proc.oid));
    let cur = this.pproc;
    while (cur !== null) {
      const k = oidKey(cur.oid);
      if (seen.has(k)) break; // OIDs can be reused; never loop
      seen.add(k);
      out.push(cur);
      cur = cur.poid === null ? null : (this.processes.get(cur.poid) ?? null);
    }
    this.anc = out;
    return out;
  }
}

/** Views of every event/flow in a stream of objects, joined in order. */
export function* viewsOf(objects: Iterable<SfObject>, table = new EntityTable()): Generator<SfRecordView> {
  for (const o of objects) {
    const v = table.push(o);
    if (v !== null) yield v;
  }
}
