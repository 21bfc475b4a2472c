// kflowd's json-min file record written straight into bytes: the hot path of `-o json-min` to a
// file or socket. The string writer (kflowd-min.ts) builds a ~1 KB JS string per record that the
// runtime then encodes to UTF-8 and the GC collects; here the record goes once into a large slab
// that the sink writes as it is. Constant keys and per-host/per-process segments are cached as
// bytes; numbers and times are written digit by digit; strings that need no escaping (printable
// ASCII without quote or backslash) are copied, every other string goes through JSON.stringify,
// so any bytes stay valid JSON exactly as in the string writer. Output is byte-identical to
// KflowdMinWriter.file (test/unit/kflowd-min-bytes.test.ts).
// Enrichment keys (-v, -c, containers) are written in place, in kflowd's key order, from a
// KflowdFileExtras the encoder fills from the envelope (src/enrich/kflowd-keys.ts), so enriched
// records stay on this path; byte-identical to kflowdRecord + addKflowdEnrichmentKeys + toMinJson
// (test/enrich/kflowd-min-enriched.test.ts).
import type { FileRecord, ProcHeader } from '../model/records.js';
import { FF, FILE_EVENTS } from '../sensor/layout.js';
import type { HostFacts, KflowdFacts, UserFacts } from './context.js';
import { fileDevice, fileDir, fileMode, permissions } from './kflowd-file.js';
import { procName } from './proc-keys.js';
import { secondsText, wallClock } from './time.js';

const q = JSON.stringify;
const NS = 1_000_000_000;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
/** slabs are this large unless one record needs more; records never straddle two slabs */
const SLAB = 1 << 20;

const b = (s: string): Uint8Array => Buffer.from(s, 'utf8');
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

/** Where the writer puts records: a slab and a position in it. */
class Slab {
  buf: Buffer = Buffer.allocUnsafe(SLAB);
  pos = 0;
  /** Room for n more bytes, in a fresh slab if needed (earlier records keep their slab). */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.buf = Buffer.allocUnsafe(Math.max(SLAB, n));
    this.pos = 0;
  }
}

/** A wall-clock second's text up to the fraction ("Thu, Apr 04 2024 15:34:35."), cached. */
class SecondPrefix {
  private sec = -1;
  bytes: Uint8Array = new Uint8Array(0);
  get(sec: number): Uint8Array {
    if (sec !== this.sec) {
      const full = wallClock(BigInt(sec) * 1_000_000_000n);
      this.bytes = b(full.slice(0, full.length - 13));
      this.sec = sec;
    }
    return this.bytes;
  }
}

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

interface HostBytes { readonly h: HostFacts; readonly offSec: number; readonly offFrac: number; readonly utcFile: Uint8Array }
interface ProcBytes { readonly hdr: ProcHeader; readonly users: UserFacts | undefined; readonly version: string | undefined; readonly text: Uint8Array }
/** `, "ContainerId": … "ContainerImage": …` */
interface ContainerBytes { readonly id: string; readonly name: string; readonly image: string; readonly text: Uint8Array }
/** `, "FileDevice": … "FileSize": ` for one (device, mode, owner) */
interface OwnerBytes { readonly device: string; readonly mode: number; readonly user: string; readonly group: string; readonly uid: number; readonly gid: number; readonly text: Uint8Array }
/** `, "FileAccessTime": … "FileModificationTime": "…"` for one triple of inode times */
interface TimesBytes { readonly a: bigint; readonly c: bigint; readonly m: bigint; readonly text: Uint8Array }

export class KflowdMinBytes {
  private readonly s = new Slab();
  private readonly hosts = new WeakMap<HostFacts, HostBytes>();
  private readonly procs = new Map<number, ProcBytes>();
  private readonly prefix = new SecondPrefix();
  private lastDir = '';
  private lastDirBytes: Uint8Array = b('""');

  private host(h: HostFacts): HostBytes {
    let s = this.hosts.get(h);
    if (!s) {
      const tail = `"InfoHostName": ${q(h.hostName)}, "InfoHostIP": ${q(h.hostIP)}, ` +
        (h.token !== undefined ? `"InfoHostToken": ${q(h.token)}, ` : '') +
        `"InfoSystem": ${q(h.system)}, "InfoKernel": ${q(h.kernel)}, "InfoVersion": ${q(h.version)}, "InfoUptime": `;
      s = {
        h, offSec: Number(h.bootToRealNs / 1_000_000_000n), offFrac: Number(h.bootToRealNs % 1_000_000_000n),
        utcFile: b(` UTC", "InfoMonitor": "filesystem", ${tail}`),
      };
      this.hosts.set(h, s);
    }
    return s;
  }

  /** `, "ProcParent": … "ProcAge": ` cached per process and thread (one copy per record), with
   * ProcVersion after Proc when -v gave one. */
  private proc(p: ProcHeader, u: UserFacts | undefined, version: string | undefined): ProcBytes {
    const c = this.procs.get(p.pid);
    if (c && c.version === version && c.hdr.exe === p.exe && c.hdr.comm === p.comm && c.hdr.parentExe === p.parentExe && c.hdr.ppid === p.ppid &&
      c.hdr.tid === p.tid && c.hdr.uid === p.uid && c.hdr.gid === p.gid &&
      (c.users === u || ((c.users?.user ?? '') === (u?.user ?? '') && (c.users?.group ?? '') === (u?.group ?? '')))) return c;
    const text = b(`, "ProcParent": ${q(p.parentExe)}, "Proc": ${q(procName(p.exe, p.comm))}, ` +
      (version !== undefined ? `"ProcVersion": ${q(version)}, ` : '') + `"ProcUser": ${q(u?.user ?? '')}, ` +
      `"ProcGroup": ${q(u?.group ?? '')}, "ProcPPID": ${p.ppid}, "ProcPID": ${p.pid}, "ProcTID": ${p.tid}, "ProcUID": ${p.uid}, "ProcGID": ${p.gid}, "ProcAge": `);
    const s: ProcBytes = { hdr: p, users: u, version, text };
    if (this.procs.size >= 4096) this.procs.clear();
    this.procs.set(p.pid, s);
    return s;
  }

  /**
   * Nothing returned so far is referenced any more (the runtime's Encoder.release): the next
   * records are written from the start of the current slab instead of filling new ones, which
   * the GC would have to collect (1 MiB of external memory every ~900 records).
   */
  release(): void {
    this.s.pos = 0;
  }

  private put(x: Uint8Array): void {
    // TypedArray#set costs the same ~20 ns for 8 bytes or 200; a byte loop only wins below that
    const s = this.s;
    const n = x.length;
    if (n > 6) { s.buf.set(x, s.pos); s.pos += n; return; }
    const buf = s.buf;
    let p = s.pos;
    for (let i = 0; i < n; i++) buf[p++] = x[i]!;
    s.pos = p;
  }

  /** A number as String(n) writes it. Below 2^31 the digits come from int32 math (`%` on a
   * double is a call into the runtime). */
  private num(n: number): void {
    const s = this.s;
    if (!Number.isSafeInteger(n)) { s.pos += s.buf.write(String(n), s.pos, 'latin1'); return; }
    const buf = s.buf;
    if (n < 0) { buf[s.pos++] = 0x2d; n = -n; }
    if (n < 10) { buf[s.pos++] = 0x30 + n; return; }
    if (n >= 0x80000000) {
      // above int32: split off the low nine digits
      const hi = Math.floor(n / NS);
      this.num(hi);
      this.nine(n - hi * NS);
      return;
    }
    let v = n | 0;
    let digits = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
    let p = s.pos + digits;
    s.pos = p;
    do { const q = (v / 10) | 0; buf[--p] = 0x30 + v - q * 10; v = q; } while (v > 0);
  }

  /** n (0 ≤ n < 1e9) as exactly nine digits. */
  private nine(n: number): void {
    const buf = this.s.buf;
    let p = this.s.pos + 9;
    this.s.pos = p;
    let v = n | 0;
    for (let i = 0; i < 9; i++) { const q = (v / 10) | 0; buf[--p] = 0x30 + v - q * 10; v = q; }
  }

  /** "S.NNNNNNNNN" for the duration to - from in ns (secondsText's text); Number math (no
   * BigInt difference) when both stamps are exact doubles and the difference is not negative.
   * `toN`: Number(to), or -1 when `to` is above 2^53 (the record's stamp, converted once). */
  private secs(to: bigint, from: bigint, toN: number): void {
    if (toN < 0 || from < 0n || to < from) { this.ascii(secondsText(to - from)); return; }
    const n = toN - Number(from);
    const sec = Math.floor(n / NS);
    this.num(sec);
    this.s.buf[this.s.pos++] = 0x2e;
    this.nine(n - sec * NS);
  }

  /** Text known to be ASCII (formatted numbers and times). */
  private ascii(t: string): void {
    this.s.pos += this.s.buf.write(t, this.s.pos, 'latin1');
  }

  /** A JSON string: copied when it needs no escaping, JSON.stringify otherwise. */
  private str(v: string): void {
    const s = this.s;
    const buf = s.buf;
    const start = s.pos;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) { s.pos = start + buf.write(q(v), start, 'utf8'); return; }
    }
    buf[start] = 0x22;
    const n = buf.write(v, start + 1, 'latin1');
    buf[start + 1 + n] = 0x22;
    s.pos = start + n + 2;
  }

  /** The wall clock of a boot-time stamp (BootClock.text of the string writer) without " UTC". */
  private clock(hb: HostBytes, tsBoot: bigint, n: number): void {
    if (n < 0 || hb.offFrac < 0) { const w = wallClock(tsBoot + hb.h.bootToRealNs); this.ascii(w.slice(0, w.length - 4)); return; }
    let sec = Math.floor(n / NS);
    let frac = n - sec * NS + hb.offFrac;
    if (frac >= NS) { frac -= NS; sec += 1; }
    sec += hb.offSec;
    this.put(this.prefix.get(sec));
    this.nine(frac);
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
    const s = this.s;
    s.reserve(1024 + hb.utcFile.length + pb.text.length + ob.text.length + tb.text.length + eb.length +
      6 * (dir.length + r.name.length + r.origin.length) + 64 +
      (x ? (cb?.length ?? 0) + 6 * ((x.fileVersion?.length ?? 0) + (x.md5?.length ?? 0) + x.sha256.length + (x.checksumState?.length ?? 0)) + 128 : 0));
    const start = s.pos;
    // the record's stamp as a Number once (-1: above 2^53, or negative: the BigInt paths)
    const tsN = h.ts > MAX_EXACT ? -1 : Number(h.ts);
    this.put(K.open); this.num(seq); this.put(K.ts); this.clock(hb, h.ts, tsN); this.put(hb.utcFile);
    this.secs(h.ts, f.host.startBootNs, tsN);
    this.put(pb.text); this.secs(h.ts, h.procStart, tsN);
    if (cb) this.put(cb);
    if (dir !== this.lastDir) {
      // directories repeat in runs: the last one's segment is kept
      const st = s.pos;
      this.put(K.path); this.str(dir); this.put(K.file);
      this.lastDir = dir;
      this.lastDirBytes = new Uint8Array(s.buf.subarray(st, s.pos));
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
    s.buf[s.pos++] = 0x7d;
    const end = s.pos;
    s.buf[s.pos++] = 0x0a;
    return s.buf.subarray(start, end);
  }
}
