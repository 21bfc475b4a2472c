// Full path of a file record for the enrichers that open or look up the file (packages,
// checksums). Kernel paths are absolute unless the sensor flagged them filesystem-relative;
// those get their mount point from /proc/self/mountinfo (Mounts).
import type { FileRecord } from '../model/records.js';
import { FF } from '../sensor/layout.js';
import { Mounts } from './mounts.js';

let sharedMounts: Mounts | undefined;

export function fileRecordPath(r: FileRecord, mounts?: Mounts): string {
  const full = r.dir + r.name;
  if (!(r.hdr.flags & FF.PATH_FSREL)) return full;
  mounts ??= sharedMounts ??= new Mounts();
  return mounts.absolute(r.dev, full);
}

/** Any of the u/g/o execute bits on a regular file (kflowd's -c and -v FileVersion condition). */
export function isExecutableFile(r: FileRecord): boolean {
  return (r.mode & 0o170000) === 0o100000 && (r.mode & 0o111) !== 0;
}
