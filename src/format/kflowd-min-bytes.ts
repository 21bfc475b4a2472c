// kflowd's json-min file, socket and process records written straight into bytes
// (line-bytes.ts): the hot path of `-o json-min` to a file or socket. The string writer
// (kflowd-min.ts) builds a ~1 KB JS string per record that the runtime then encodes to UTF-8 and
// the GC collects; here the record goes once into a large slab that the sink writes as it is.
// Constant keys and per-host/per-thread segments are cached as bytes. Output is byte-identical to KflowdMinWriter
// (test/unit/kflowd-min-bytes.test.ts, test/unit/kflowd-min-socket-bytes.test.ts,
// test/unit/kflowd-min-process-bytes.test.ts).
// Enrichment keys (-v, -c, containers) are written in place, in kflowd's key order, from a
// KflowdFileExtras the encoder fills from the envelope (src/enrich/kflowd-keys.ts), so enriched
// records stay on this path; byte-identical to kflowdRecord + addKflowdEnrichmentKeys + toMinJson
// (test/enrich/kflowd-min-enriched.test.ts).
import type { FileRecord, ProcHeader } from '../model/records.js';
import type { ProcRecord } from '../model/process-record.js';
import type { SockRecord } from '../model/socket-record.js';
import { FF, FILE_EVENTS } from '../sensor/layout.js';
import type { HostFacts, KflowdFacts, UserFacts } from './context.js';
import { fileDevice, fileDir, fileMode, permissions } from './kflowd-file.js';
import { processTail, processTailBytes } from './kflowd-min-process-bytes.js';
import { socketTailBytes, socketTailTexts } from './kflowd-min-socket-bytes.js';
import { bootOffset, bytesOf as b, LineBytes, MAX_EXACT, type BootOffset } from './line-bytes.js';
import { procName } from './proc-keys.js';
import { secondsText, wallClock } from './time.js';

const q = JSON.stringify;

const K = {
  open: b('{"InfoSequenceNumber": '), ts: b(', "InfoTimestamp": "'), uid: b(', "ProcUID": '), gid: b(', "ProcGID": '),
  age: b(', "ProcAge": '), path: b(', "FilePath": '), file: b(', "File": '), origin: b(', "FileOrigin": '),
  mode: b(', "FileMode": "'), count: b('", "FileEventCount": '), events: b(', "FileEvents": {'), comma: b(', '),
  dur: b('}, "FileEventsDuration": '), ino: b(', "FileInode": '), nlink: b(', "FileInodeLinkCount": '),
  dev: b(', "FileDevice": '), perm: b(', "FilePermissions": '), fuser: b(', "FileUser": '), fgroup: b(', "FileGroup": '),
  fuid: b(', "FileUID": '), fgid: b(', "FileGID": '), size: b(', "FileSize": '), sizeChange: b(', "FileSizeChange": '),
  atime: b(', "FileAccessTime": "'), ctime: b('", "FileStatusChangeTime": "'), mtime: b('", "FileModificationTime": "'),
  mtimeEnd: b('"'), mtimeChange: b(', "FileModificationTimeChange": '), close: b('}'), utc: b(' UTC'),
};
const X = {
  fileVersion: b(', "FileVersion": '), md5: b(', "FileMD5": '), sha256: b(', "FileSHA256": '), state: b(', "FileChecksumState": '),
};
const EVENT_KEYS = FILE_EVENTS.map((n) => b(`${q(n)}: `));

/**
 * Enrichment keys of one file record; undefined leaves a key out. Strings are the key values.
 * `procVersion` goes right after Proc, the container keys right after ProcAge, `fileVersion`
 * right after File (or FileOrigin), the checksum keys last.
 */
export interface KflowdFileExtras {
  procVersion: string | undefined;
  /** ContainerId (short id); ContainerName and ContainerImage are written with it */
  containerId: string | undefined;
  containerName: string;
  containerImage: string;
  fileVersion: string | undefined;
  /** FileMD5 and FileSHA256, both or neither */
  md5: string | undefined;
  sha256: string;
  checksumState: string | undefined;
}

/** The host's clock offset and the text after each monitor's timestamp, up to InfoUptime's value. */
interface HostBytes extends BootOffset { readonly utcFile: Uint8Array; readonly utcSocket: Uint8Array; readonly utcProcess: Uint8Array }
interface ProcBytes { readonly hdr: ProcHeader; readonly users: UserFacts | undefined; readonly version: string | undefined; readonly text: Uint8Array }
/** `, "ContainerId": … "ContainerImage": …` */
interface ContainerBytes { readonly id: string; readonly name: string; readonly image: string; readonly text: Uint8Array }
/** `, "FileDevice": … "FileSize": ` for one (device, mode, owner) */
interface OwnerBytes { readonly device: string; readonly mode: number; readonly user: string; readonly group: string; readonly uid: number; readonly gid: number; readonly text: Uint8Array }
/** `, "FileAccessTime": … "FileModificationTime": "…"` for one triple of inode times */
interface TimesBytes { readonly a: bigint; readonly c: bigint; readonly m: bigint; readonly text: Uint8Array }

export class KflowdMinBytes extends LineBytes {
  private readonly hosts = new WeakMap<HostFacts, HostBytes>();
  private readonly procs = new Map<number, ProcBytes>();
  private lastDir = '';
  private lastDirBytes: Uint8Array = b('""');

  private host(h: HostFacts): HostBytes {
    let s = this.hosts.get(h);
    if (!s) {
      const tail = `"InfoHostName": ${q(h.hostName)}, "InfoHostIP": ${q(h.hostIP)}, ` +
        (h.token !== undefined ? `"InfoHostToken": ${q(h.token)}, ` : '') +
        `"InfoSystem": ${q(h.system)}, "InfoKernel": ${q(h.kernel)}, "InfoVersion": ${q(h.version)}, "InfoUptime": `;
      s = {
        ...bootOffset(h.bootToRealNs),
        utcFile: b(` UTC", "InfoMonitor": "filesystem", ${tail}`), utcSocket: b(` UTC", "InfoMonitor": "socket", ${tail}`),
        utcProcess: b(` UTC", "InfoMonitor": "process", ${tail}`),
      };
      this.hosts.set(h, s);
    }
    return s;
  }

  /** `, "ProcParent": … "ProcAge": ` cached per thread (one copy per record), with ProcVersion
   * after Proc when -v gave one. Keyed by thread: keyed by process, two threads taking turns (a
   * client and a server thread of one process) rebuilt the segment on every record. */
  private proc(p: ProcHeader, u: UserFacts | undefined, version: string | undefined): ProcBytes {
    const c = this.procs.get(p.tid);
    if (c && c.version === version && c.hdr.pid === p.pid && c.hdr.exe === p.exe && c.hdr.comm === p.comm && c.hdr.parentExe === p.parentExe && c.hdr.ppid === p.ppid &&
      c.hdr.tid === p.tid && c.hdr.uid === p.uid && c.hdr.gid === p.gid &&
      (c.users === u || ((c.users?.user ?? '') === (u?.user ?? '') && (c.users?.group ?? '') === (u?.group ?? '')))) return c;
    const text = b(`, "ProcParent": ${q(p.parentExe)}, "Proc": ${q(procName(p.exe, p.comm))}, ` +
      (version !== undefined ? `"ProcVersion": ${q(version)}, ` : '') + `"ProcUser": ${q(u?.user ?? '')}, ` +
      `"ProcGroup": ${q(u?.group ?? '')}, "ProcPPID": ${p.ppid}, "ProcPID": ${p.pid}, "ProcTID": ${p.tid}, "ProcUID": ${p.uid}, "ProcGID": ${p.gid}, "ProcAge": `);
    const s: ProcBytes = { hdr: p, users: u, version, text };
    if (this.procs.size >= 4096) this.procs.clear();
    this.procs.set(p.tid, s);
    return s;
  }

  private lastEvents: { mode: string; count: number; ev: number[]; text: Uint8Array } | undefined;
  /** `, "FileMode": … "FileEventsDuration": ` (mode, count and per-event counts): one segment
   * while they repeat, as they do for a workload's files. */
  private events(r: FileRecord): Uint8Array {
    const mode = fileMode(r.mode, r.nlink);
    const e = r.event;
    const n = Math.min(e.length, EVENT_KEYS.length);
    const l = this.lastEvents;
    if (l && l.mode === mode && l.count === r.events && l.ev.length === n) {
      let i = 0;
      while (i < n && l.ev[i] === e[i]) i++;
      if (i === n) return l.text;
    }
    const parts: string[] = [];
    for (let i = 0; i < n; i++) if (e[i]) parts.push(`${q(FILE_EVENTS[i]!)}: ${e[i]}`);
    const text = b(`, "FileMode": "${mode}", "FileEventCount": ${r.events}, "FileEvents": {${parts.join(', ')}}, "FileEventsDuration": `);
    this.lastEvents = { mode, count: r.events, ev: e.slice(0, n), text };
    return text;
  }

  private lastOwner: OwnerBytes | undefined;
  /** Device, permissions and owner of a file record: one segment while they repeat. */
  private owner(r: FileRecord, f: KflowdFacts): OwnerBytes {
    const device = fileDevice(r, f);
    const user = f.users?.fileUser ?? '';
    const group = f.users?.fileGroup ?? '';
    const o = this.lastOwner;
    if (o && o.device === device && o.mode === r.mode && o.user === user && o.group === group && o.uid === r.iuid && o.gid === r.igid) return o;
    const text = b(`, "FileDevice": ${q(device)}, "FilePermissions": ${q(permissions(r.mode))}, "FileUser": ${q(user)}, ` +
      `"FileGroup": ${q(group)}, "FileUID": ${r.iuid}, "FileGID": ${r.igid}, "FileSize": `);
    return (this.lastOwner = { device, mode: r.mode, user, group, uid: r.iuid, gid: r.igid, text });
  }

  private lastContainer: ContainerBytes | undefined;
  /** The container keys: one segment while the container repeats. */
  private container(id: string, name: string, image: string): Uint8Array {
    const c = this.lastContainer;
    if (c && c.id === id && c.name === name && c.image === image) return c.text;
    const text = b(`, "ContainerId": ${q(id)}, "ContainerName": ${q(name)}, "ContainerImage": ${q(image)}`);
    return (this.lastContainer = { id, name, image, text }).text;
  }

  private lastTimes: TimesBytes | undefined;
  /** The three inode times: one segment while they repeat. */
  private times(r: FileRecord): TimesBytes {
    const t = this.lastTimes;
    if (t && t.a === r.atimeNs && t.c === r.ctimeNs && t.m === r.mtimeNs) return t;
    const text = b(`, "FileAccessTime": "${wallClock(r.atimeNs)}", "FileStatusChangeTime": "${wallClock(r.ctimeNs)}", ` +
      `"FileModificationTime": "${wallClock(r.mtimeNs)}"`);
    return (this.lastTimes = { a: r.atimeNs, c: r.ctimeNs, m: r.mtimeNs, text });
  }

  /**
   * The record's json-min line, without its newline, as a view of the slab; the slab holds a
   * newline right after it, so a run of records is one contiguous write for line sinks.
   */
  file(r: FileRecord, seq: number, f: KflowdFacts, x?: KflowdFileExtras): Uint8Array {
    const h = r.hdr;
    const hb = this.host(f.host);
    const pb = this.proc(h, f.users, x?.procVersion);
    const dir = fileDir(r, f);
    const ob = this.owner(r, f);
    const tb = this.times(r);
    const eb = this.events(r);
    const cb = x?.containerId !== undefined ? this.container(x.containerId, x.containerName, x.containerImage) : undefined;
    // worst case: every string char escaped to 6 bytes, plus the fixed text and cached segments
    this.reserve(1024 + hb.utcFile.length + pb.text.length + ob.text.length + tb.text.length + eb.length +
      6 * (dir.length + r.name.length + r.origin.length) + 64 +
      (x ? (cb?.length ?? 0) + 6 * ((x.fileVersion?.length ?? 0) + (x.md5?.length ?? 0) + x.sha256.length + (x.checksumState?.length ?? 0)) + 128 : 0));
    const start = this.pos;
    // the record's stamp as a Number once (-1: above 2^53, or negative: the BigInt paths)
    const tsN = h.ts > MAX_EXACT ? -1 : Number(h.ts);
    this.put(K.open); this.num(seq); this.put(K.ts); this.clock(hb, h.ts, tsN); this.put(hb.utcFile);
    this.secs(h.ts, f.host.startBootNs, tsN);
    this.put(pb.text); this.secs(h.ts, h.procStart, tsN);
    if (cb) this.put(cb);
    if (dir !== this.lastDir) {
      // directories repeat in runs: the last one's segment is kept
      const st = this.pos;
      this.put(K.path); this.str(dir); this.put(K.file);
      this.lastDir = dir;
      this.lastDirBytes = new Uint8Array(this.buf.subarray(st, this.pos));
    } else this.put(this.lastDirBytes);
    this.str(r.name);
    if (h.flags & FF.MOVED) { this.put(K.origin); this.str(r.origin); }
    if (x?.fileVersion !== undefined) { this.put(X.fileVersion); this.str(x.fileVersion); }
    this.put(eb);
    this.secs(h.ts, h.tsFirst, tsN);
    this.put(K.ino); this.num(r.ino); this.put(K.nlink); this.num(r.nlink);
    this.put(ob.text); this.num(r.size);
    if (r.size !== r.sizeFirst) { this.put(K.sizeChange); this.num(r.size - r.sizeFirst); }
    this.put(tb.text);
    if (r.mtimeNs !== r.mtimeFirstNs) { this.put(K.mtimeChange); this.ascii(secondsText(r.mtimeNs - r.mtimeFirstNs)); }
    if (x?.md5 !== undefined) { this.put(X.md5); this.str(x.md5); this.put(X.sha256); this.str(x.sha256); }
    if (x?.checksumState !== undefined) { this.put(X.state); this.str(x.checksumState); }
    return this.close(start);
  }

  /** The Info* and Proc* keys of a socket or process record (no enrichment keys) up to ProcAge's
   * value, in a slab with room for `tail` more bytes; returns where the record begins. */
  private head(h: ProcHeader, seq: number, f: KflowdFacts, monitor: 'utcSocket' | 'utcProcess', tail: number): number {
    const hb = this.host(f.host);
    const pb = this.proc(h, f.users, undefined);
    const utc = hb[monitor];
    this.reserve(512 + utc.length + pb.text.length + tail);
    const start = this.pos;
    const tsN = h.ts > MAX_EXACT ? -1 : Number(h.ts);
    this.put(K.open); this.num(seq); this.put(K.ts); this.clock(hb, h.ts, tsN); this.put(utc);
    this.secs(h.ts, f.host.startBootNs, tsN);
    this.put(pb.text); this.secs(h.ts, h.procStart, tsN);
    return start;
  }

  /** A socket record's json-min line (no enrichment keys), as `file` writes one. */
  socket(r: SockRecord, seq: number, f: KflowdFacts): Uint8Array {
    const t = socketTailTexts(r, f);
    const start = this.head(r.hdr, seq, f, 'utcSocket', t.room);
    socketTailBytes(this, r, f, t);
    return this.close(start);
  }

  /** A process record's json-min line (no enrichment keys), as `file` writes one. */
  process(r: ProcRecord, seq: number, f: KflowdFacts): Uint8Array {
    const t = processTail(r);
    const start = this.head(r.hdr, seq, f, 'utcProcess', t.room);
    processTailBytes(this, r, t);
    return this.close(start);
  }
}
