// kflowd's one-line JSON (-o json-min) written directly as a string, per record shape: keys are
// precomputed prefixes, per-host and per-process segments are cached, times use Number math when
// exact. The output is byte-identical to toMinJson(kflowdRecord(...)) (test/unit/kflowd-min.test.ts
// compares both on every record kind); shapes without a hand-written writer go through that path.
import type { FileRecord, KernelRecord, ProcHeader } from '../model/records.js';
import type { SockRecord } from '../model/socket-record.js';
import type { ProcRecord } from '../model/process-record.js';
import { processKeys, processTailParts } from './kflowd-process.js';
import { socketTailParts } from './kflowd-socket.js';
import { FF, FILE_EVENTS } from '../sensor/layout.js';
import type { HostFacts, KflowdFacts, UserFacts } from './context.js';
import { minEntries, toMinJson, type JObject } from './json.js';
import { kflowdRecord } from './kflowd.js';
import { fileDevice, fileDir, fileMode, permissions } from './kflowd-file.js';
import { procName } from './proc-keys.js';
import { secondsText, wallClock } from './time.js';

const q = JSON.stringify;
const NS = 1_000_000_000;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** "S.NNNNNNNNN" for a duration in ns; Number math when exact, the bigint formatter otherwise. */
function secs(ns: bigint): string {
  if (ns < 0n || ns > MAX_EXACT) return secondsText(ns);
  const n = Number(ns);
  const s = Math.floor(n / NS);
  return `${s}.${String(n - s * NS + NS).slice(1)}`;
}

/** Wall clock of a boot-time stamp: Number math on the boot part, the realtime offset split once. */
class BootClock {
  private readonly offSec: number;
  private readonly offFrac: number;
  private lastSec = -1;
  private lastPrefix = '';
  constructor(readonly bootToRealNs: bigint) {
    this.offSec = Number(bootToRealNs / 1_000_000_000n);
    this.offFrac = Number(bootToRealNs % 1_000_000_000n);
  }
  text(tsBoot: bigint): string {
    if (tsBoot < 0n || tsBoot > MAX_EXACT || this.offFrac < 0) return wallClock(tsBoot + this.bootToRealNs);
    const n = Number(tsBoot);
    let sec = Math.floor(n / NS);
    let frac = n - sec * NS + this.offFrac;
    if (frac >= NS) { frac -= NS; sec += 1; }
    sec += this.offSec;
    if (sec !== this.lastSec) {
      // the prefix up to the seconds, from the shared formatter
      const full = wallClock(BigInt(sec) * 1_000_000_000n);
      this.lastPrefix = full.slice(0, full.length - 13);
      this.lastSec = sec;
    }
    return `${this.lastPrefix}${String(frac + NS).slice(1)} UTC`;
  }
}

/** One slot of last-value memory for realtime stamps that repeat (inode times). */
class WallSlot {
  private last = -1n;
  private text = '';
  get(ns: bigint): string {
    if (ns !== this.last) { this.last = ns; this.text = wallClock(ns); }
    return this.text;
  }
}

interface HostSegments { clock: BootClock; file: string; process: string; socket: string }

interface ProcSegment {
  hdr: ProcHeader; users: UserFacts | undefined; text: string;
}

const fileEventKeys = FILE_EVENTS.map((n) => `${q(n)}: `);
const permCache = new Map<number, string>();

export class KflowdMinWriter {
  private readonly hosts = new WeakMap<HostFacts, HostSegments>();
  private readonly procs = new Map<number, ProcSegment>();
  private readonly atime = new WallSlot();
  private readonly ctime = new WallSlot();
  private readonly mtime = new WallSlot();

  private host(h: HostFacts): HostSegments {
    let s = this.hosts.get(h);
    if (!s) {
      const tail = `"InfoHostName": ${q(h.hostName)}, "InfoHostIP": ${q(h.hostIP)}, ` +
        (h.token !== undefined ? `"InfoHostToken": ${q(h.token)}, ` : '') +
        `"InfoSystem": ${q(h.system)}, "InfoKernel": ${q(h.kernel)}, "InfoVersion": ${q(h.version)}, "InfoUptime": `;
      s = {
        clock: new BootClock(h.bootToRealNs), file: `", "InfoMonitor": "filesystem", ${tail}`,
        process: `", "InfoMonitor": "process", ${tail}`, socket: `", "InfoMonitor": "socket", ${tail}`,
      };
      this.hosts.set(h, s);
    }
    return s;
  }

  /** `"ProcParent": … "ProcGID": N, "ProcAge": ` minus the TID, cached per process. */
  private proc(p: ProcHeader, u: UserFacts | undefined): ProcSegment {
    const c = this.procs.get(p.pid);
    if (c && c.hdr.exe === p.exe && c.hdr.comm === p.comm && c.hdr.parentExe === p.parentExe && c.hdr.ppid === p.ppid &&
      c.hdr.uid === p.uid && c.hdr.gid === p.gid && (c.users?.user ?? '') === (u?.user ?? '') && (c.users?.group ?? '') === (u?.group ?? '')) return c;
    const text = `, "ProcParent": ${q(p.parentExe)}, "Proc": ${q(procName(p.exe, p.comm))}, "ProcUser": ${q(u?.user ?? '')}, ` +
      `"ProcGroup": ${q(u?.group ?? '')}, "ProcPPID": ${p.ppid}, "ProcPID": ${p.pid}, "ProcTID": `;
    const s: ProcSegment = { hdr: p, users: u, text };
    if (this.procs.size >= 4096) this.procs.clear();
    this.procs.set(p.pid, s);
    return s;
  }

  // Parts are joined once per record: a flat string of the right length, not a chain of
  // concatenations that the sink would have to flatten.
  private readonly parts: (string | number)[] = [];

  file(r: FileRecord, seq: number, f: KflowdFacts): string {
    const h = r.hdr;
    const hs = this.host(f.host);
    const ps = this.proc(h, f.users);
    const p = this.parts;
    p.length = 0;
    p.push('{"InfoSequenceNumber": ', seq, ', "InfoTimestamp": "', hs.clock.text(h.ts), hs.file, secs(h.ts - f.host.startBootNs),
      ps.text, h.tid, ', "ProcUID": ', h.uid, ', "ProcGID": ', h.gid, ', "ProcAge": ', secs(h.ts - h.procStart),
      ', "FilePath": ', q(fileDir(r, f)), ', "File": ', q(r.name));
    if (h.flags & FF.MOVED) p.push(', "FileOrigin": ', q(r.origin));
    p.push(', "FileMode": "', fileMode(r.mode, r.nlink), '", "FileEventCount": ', r.events, ', "FileEvents": {');
    const e = r.event;
    let first = true;
    for (let i = 0; i < e.length && i < fileEventKeys.length; i++) {
      const n = e[i]!;
      if (!n) continue;
      p.push(first ? fileEventKeys[i]! : ', ' + fileEventKeys[i]!, n);
      first = false;
    }
    let perm = permCache.get(r.mode);
    if (perm === undefined) { perm = q(permissions(r.mode)); if (permCache.size < 1024) permCache.set(r.mode, perm); }
    p.push('}, "FileEventsDuration": ', secs(h.ts - h.tsFirst), ', "FileInode": ', r.ino, ', "FileInodeLinkCount": ', r.nlink,
      ', "FileDevice": ', q(fileDevice(r, f)), ', "FilePermissions": ', perm, ', "FileUser": ', q(f.users?.fileUser ?? ''),
      ', "FileGroup": ', q(f.users?.fileGroup ?? ''), ', "FileUID": ', r.iuid, ', "FileGID": ', r.igid, ', "FileSize": ', r.size);
    if (r.size !== r.sizeFirst) p.push(', "FileSizeChange": ', r.size - r.sizeFirst);
    p.push(', "FileAccessTime": "', this.atime.get(r.atimeNs), '", "FileStatusChangeTime": "', this.ctime.get(r.ctimeNs),
      '", "FileModificationTime": "', this.mtime.get(r.mtimeNs), '"');
    if (r.mtimeNs !== r.mtimeFirstNs) p.push(', "FileModificationTimeChange": ', secondsText(r.mtimeNs - r.mtimeFirstNs));
    p.push('}');
    return p.join('');
  }

  /** Process and socket records: the Info* and Proc* keys from the cached segments, the rest
   * (per event type, fewer keys) through the Map writer. */
  private other(r: ProcRecord | SockRecord, seq: number, f: KflowdFacts): string {
    const h = r.hdr;
    const hs = this.host(f.host);
    const ps = this.proc(h, f.users);
    const p = this.parts;
    p.length = 0;
    p.push('{"InfoSequenceNumber": ', seq, ', "InfoTimestamp": "', hs.clock.text(h.ts), r.type === 'proc' ? hs.process : hs.socket,
      secs(h.ts - f.host.startBootNs), ps.text, h.tid, ', "ProcUID": ', h.uid, ', "ProcGID": ', h.gid, ', "ProcAge": ',
      secs(h.ts - h.procStart));
    if (r.type === 'sock') {
      socketTailParts(r, f, p);
    } else if (!processTailParts(r, p)) {
      const o: JObject = new Map();
      processKeys(o, r);
      minEntries(o, p);
    }
    p.push('}');
    return p.join('');
  }

  /** One record as kflowd's json-min line (without the newline); null for internal records. */
  record(r: KernelRecord, seq: number, f: KflowdFacts): string | null {
    if (r.type === 'file') return this.file(r, seq, f);
    if (r.type === 'proc' || r.type === 'sock') return this.other(r, seq, f);
    const o = kflowdRecord(r, seq, f);
    return o ? toMinJson(o) : null;
  }
}
