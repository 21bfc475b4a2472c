// Views of the FileFlow a file record would make (SysFlowMapper.previewFileRecord), for filters
// and policies that look at a record before it is mapped for real: the File's state, FOID and
// timestamps, and the flow's counters, are computed only when read, which a prefilter that
// rejects the record mostly never does.
import { OP, linuxOpenFlagsToSysFlow } from './flags.js';
import { computeFoid } from './oid.js';
import type { File, FileFlow, FOID, OID } from './types.js';
import type { LiveFileRecord } from './live-records.js';

/** a counter as SysFlow's long */
export const big = (v: bigint | number | undefined): bigint => (v === undefined ? 0n : typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));

/** The opflags of the FileFlow of a file record (fileRecord, previewFileRecord). */
export function fileOps(r: LiveFileRecord): number {
  let op = 0;
  if (r.opens) op |= OP.OPEN;
  if (r.reads) op |= OP.READ_RECV;
  if (r.writes) op |= OP.WRITE_SEND;
  if (r.closes) op |= OP.CLOSE;
  if (r.mmaps) op |= OP.MMAP;
  if (r.setns) op |= OP.SETNS;
  if (r.truncated) op |= OP.TRUNCATE;
  return op;
}

/**
 * The File that fileRecord would join (previewFileRecord): the known entity when the tables have
 * one for the path with this type, else the one it would create. Path, type and container are
 * the record's either way; state, FOID and ts need the table look-up (and a new file's FOID a
 * SHA-1), which are done only if read: a prefilter that rejects the record mostly never does.
 */
export class PreviewFile implements File {
  private looked = false;
  private known: File | undefined;
  private foid: FOID | null = null;
  private over: { state?: File['state']; oid?: FOID; ts?: bigint } | null = null;
  readonly path: string;
  constructor(
    private readonly files: ReadonlyMap<string, File>,
    private readonly r: LiveFileRecord,
    readonly restype: number,
    readonly containerId: string | null,
  ) {
    this.path = r.path;
  }
  /** the table's entity for this path (undefined: none); the entity itself when its type matches */
  private cur(): File | undefined {
    if (!this.looked) {
      this.looked = true;
      const cid = this.containerId;
      this.known = this.files.get(cid ? `${cid}\0${this.path}` : this.path);
    }
    return this.known;
  }
  get state(): File['state'] {
    if (this.over?.state !== undefined) return this.over.state;
    const c = this.cur();
    return c === undefined ? 'CREATED' : c.restype === this.restype ? c.state : 'MODIFIED';
  }
  set state(v: File['state']) {
    (this.over ??= {}).state = v;
  }
  get oid(): FOID {
    if (this.over?.oid !== undefined) return this.over.oid;
    const c = this.cur();
    return c !== undefined ? c.oid : (this.foid ??= computeFoid(this.path, this.containerId));
  }
  set oid(v: FOID) {
    (this.over ??= {}).oid = v;
  }
  get ts(): bigint {
    if (this.over?.ts !== undefined) return this.over.ts;
    const c = this.cur();
    return c !== undefined && c.restype === this.restype ? c.ts : this.r.firstTs;
  }
  set ts(v: bigint) {
    (this.over ??= {}).ts = v;
  }
}

/**
 * The FileFlow fileRecord would make; the FOID of its (possibly pending) File and the counters
 * (BigInts) are made when read, which a prefilter that rejects the record mostly never does.
 */
export class PreviewFileFlow implements FileFlow {
  readonly opFlags: number;
  readonly openFlags: number;
  readonly fd: number;
  constructor(private readonly r: LiveFileRecord, readonly procOID: OID, readonly file: File) {
    this.opFlags = fileOps(r);
    this.openFlags = r.openFlagsLinux === undefined ? 0 : linuxOpenFlagsToSysFlow(r.openFlagsLinux);
    this.fd = r.fd ?? -1;
  }
  get ts(): bigint { return this.r.firstTs; }
  get endTs(): bigint { return this.r.lastTs; }
  get fileOID(): FOID { return this.file.oid; }
  get tid(): bigint { return BigInt(this.r.tid); }
  get numRRecvOps(): bigint { return big(this.r.reads); }
  get numWSendOps(): bigint { return big(this.r.writes); }
  get numRRecvBytes(): bigint { return big(this.r.bytesRead); }
  get numWSendBytes(): bigint { return big(this.r.bytesWritten); }
}
