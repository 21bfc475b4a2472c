// The filesystem record exactly as kflowd prints it (keys, order, value formats), built from a
// decoded kernel file record.
import { FF, FILE_EVENTS } from '../sensor/layout.js';
import type { FileRecord } from '../model/records.js';
import type { FormatContext } from './context.js';
import type { JObject } from './json.js';
import { infoKeys, procKeys } from './proc-keys.js';
import { seconds, wallClock } from './time.js';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

export function fileMode(mode: number, nlink: number): string {
  if ((mode & S_IFMT) === S_IFLNK) return 'symlink';
  return nlink > 1 ? 'hardlink' : 'regular';
}

/** "%04o/%s": octal of mode & 07777 and an ls-style string (setuid/setgid/sticky not shown). */
export function permissions(mode: number): string {
  const rwx = (bits: number) => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  const type = (mode & S_IFMT) === S_IFLNK ? 'l' : '-';
  return `${(mode & 0o7777).toString(8).padStart(4, '0')}/${type}${rwx(mode >> 6)}${rwx(mode >> 3)}${rwx(mode)}`;
}

/** Absolute directory of the record (kernel paths are absolute unless flagged fs-relative). */
export function fileDir(r: FileRecord, ctx: FormatContext): string {
  if (!(r.hdr.flags & FF.PATH_FSREL)) return r.dir;
  const abs = ctx.mounts.absolute(r.dev, r.dir);
  return abs.endsWith('/') ? abs : abs + '/';
}

export function fileEventsObject(r: FileRecord): JObject {
  const ev: JObject = new Map();
  FILE_EVENTS.forEach((name, i) => {
    const n = r.event[i] ?? 0;
    if (n) ev.set(name, n);
  });
  return ev;
}

export function kflowdFileRecord(r: FileRecord, seq: number, ctx: FormatContext): JObject {
  const o: JObject = new Map();
  infoKeys(o, seq, 'filesystem', r.hdr.ts, ctx);
  procKeys(o, r.hdr, ctx);
  o.set('FilePath', fileDir(r, ctx));
  o.set('File', r.name);
  if (r.hdr.flags & FF.MOVED) o.set('FileOrigin', r.origin);
  o.set('FileMode', fileMode(r.mode, r.nlink));
  o.set('FileEventCount', r.events);
  o.set('FileEvents', fileEventsObject(r));
  o.set('FileEventsDuration', seconds(r.hdr.ts - r.hdr.tsFirst));
  o.set('FileInode', r.ino);
  o.set('FileInodeLinkCount', r.nlink);
  o.set('FileDevice', ctx.mounts.device(r.dev));
  o.set('FilePermissions', permissions(r.mode));
  o.set('FileUser', ctx.ids.user(r.iuid));
  o.set('FileGroup', ctx.ids.group(r.igid));
  o.set('FileUID', r.iuid);
  o.set('FileGID', r.igid);
  o.set('FileSize', r.size);
  if (r.size !== r.sizeFirst) o.set('FileSizeChange', r.size - r.sizeFirst);
  o.set('FileAccessTime', wallClock(r.atimeNs));
  o.set('FileStatusChangeTime', wallClock(r.ctimeNs));
  o.set('FileModificationTime', wallClock(r.mtimeNs));
  if (r.mtimeNs !== r.mtimeFirstNs) o.set('FileModificationTimeChange', seconds(r.mtimeNs - r.mtimeFirstNs));
  return o;
}
