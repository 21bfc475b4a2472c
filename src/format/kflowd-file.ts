// The filesystem record exactly as kflowd prints it (keys, order, value formats), built from a
// decoded kernel file record.
import { FF, FILE_EVENTS } from '../sensor/layout.js';
import type { FileRecord } from '../model/records.js';
import type { KflowdFacts } from './context.js';
import { kflowdDevHex } from './device.js';
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

/** Absolute directory of the record: the mounts enricher's, else the kernel's. */
export function fileDir(r: FileRecord, f: KflowdFacts): string {
  return f.mounts?.dir ?? r.dir;
}

/** kflowd's FileDevice: the mounts enricher's, else the bare device number. */
export function fileDevice(r: FileRecord, f: KflowdFacts): string {
  return f.mounts?.device ?? `${kflowdDevHex(r.dev)}:::`;
}

export function fileEventsObject(r: FileRecord): JObject {
  const ev: JObject = new Map();
  FILE_EVENTS.forEach((name, i) => {
    const n = r.event[i] ?? 0;
    if (n) ev.set(name, n);
  });
  return ev;
}

export function kflowdFileRecord(r: FileRecord, seq: number, f: KflowdFacts): JObject {
  const o: JObject = new Map();
  infoKeys(o, seq, 'filesystem', r.hdr.ts, f.host);
  procKeys(o, r.hdr, f.users);
  o.set('FilePath', fileDir(r, f));
  o.set('File', r.name);
  if (r.hdr.flags & FF.MOVED) o.set('FileOrigin', r.origin);
  o.set('FileMode', fileMode(r.mode, r.nlink));
  o.set('FileEventCount', r.events);
  o.set('FileEvents', fileEventsObject(r));
  o.set('FileEventsDuration', seconds(r.hdr.ts - r.hdr.tsFirst));
  o.set('FileInode', r.ino);
  o.set('FileInodeLinkCount', r.nlink);
  o.set('FileDevice', fileDevice(r, f));
  o.set('FilePermissions', permissions(r.mode));
  o.set('FileUser', f.users?.fileUser ?? '');
  o.set('FileGroup', f.users?.fileGroup ?? '');
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
