// File records (one record aggregates a burst of inotify-like events on one file) → file.* and
// event.action. ECS wants one action per document: the most consequential event of the burst
// (deleted > renamed > created > modified > attributes changed > opened/read); event.type lists
// every ECS type the burst covered, falconet.file.events keeps the per-event counts.
import { FF, FILE_EVENTS } from '../../sensor/layout.js';
import type { FileRecord } from '../../model/records.js';
import type { Envelope } from '../../pipeline/types.js';
import { baseDoc, enrichment, eventBase, isoNs, num, processFields, realClock, type EcsContext, type EcsDoc } from './common.js';

type FileEvent = (typeof FILE_EVENTS)[number];

// by precedence: event name → [event.action, event.type]
const ACTIONS: [FileEvent, string, string][] = [
  ['DELETE', 'deleted', 'deletion'],
  ['MOVED_TO', 'renamed', 'change'],
  ['MOVED_FROM', 'renamed', 'change'],
  ['CREATE', 'created', 'creation'],
  ['MODIFY', 'modified', 'change'],
  ['CLOSE_WRITE', 'modified', 'change'],
  ['ATTRIB', 'attributes_modified', 'change'],
  ['OPEN_EXEC', 'executed', 'access'],
  ['ACCESS', 'read', 'access'],
  ['OPEN', 'opened', 'access'],
  ['CLOSE_NOWRITE', 'opened', 'access'],
];

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

function fileType(mode: number): string {
  const t = mode & S_IFMT;
  return t === S_IFLNK ? 'symlink' : t === S_IFDIR ? 'dir' : 'file';
}

function extension(name: string): string | undefined {
  const i = name.lastIndexOf('.');
  return i > 0 && i < name.length - 1 ? name.slice(i + 1) : undefined;
}

export function fileDoc(env: Envelope<FileRecord>, ctx: EcsContext): EcsDoc {
  const r = env.rec;
  const e = enrichment(env);
  const doc = baseDoc(env, ctx, r.hdr.ts);
  const counts: EcsDoc = {};
  const seen = new Set<FileEvent>();
  FILE_EVENTS.forEach((name, i) => {
    const n = r.event[i] ?? 0;
    if (n > 0) { counts[name.toLowerCase()] = n; seen.add(name); }
  });
  const hits = ACTIONS.filter(([n]) => seen.has(n));
  const event = eventBase(env, 'file');
  event['category'] = ['file'];
  event['type'] = hits.length ? [...new Set(hits.map(([, , t]) => t))] : ['info'];
  event['action'] = hits.length ? hits[0]![1] : 'observed';
  event['start'] = isoNs(r.hdr.tsFirst + realClock(env, ctx));
  event['end'] = isoNs(r.hdr.ts + realClock(env, ctx));
  event['duration'] = num(r.hdr.ts > r.hdr.tsFirst ? r.hdr.ts - r.hdr.tsFirst : 0n);
  doc['event'] = event;

  // the kernel's directory, made absolute by the mounts enricher when it was fs-relative
  const abs = e.mounts?.dir ?? r.dir;
  const dir = abs.endsWith('/') && abs.length > 1 ? abs.slice(0, -1) : abs;
  const path = abs.endsWith('/') ? abs + r.name : `${abs}/${r.name}`;
  const file: EcsDoc = {
    path,
    name: r.name,
    directory: dir,
    type: fileType(r.mode),
    inode: String(r.ino),
    device: `${r.dev >>> 20}:${r.dev & 0xfffff}`,
    mode: (r.mode & 0o7777).toString(8).padStart(4, '0'),
    uid: String(r.iuid),
    gid: String(r.igid),
    size: r.size,
    mtime: isoNs(r.mtimeNs),
    ctime: isoNs(r.ctimeNs),
    accessed: isoNs(r.atimeNs),
  };
  const ext = extension(r.name);
  if (ext) file['extension'] = ext;
  if (e.users?.fileUser) file['owner'] = e.users.fileUser;
  if (e.users?.fileGroup) file['group'] = e.users.fileGroup;
  doc['file'] = file;
  processFields(doc, env, ctx, r.hdr);
  const extra: EcsDoc = {
    events: counts,
    bytes_read: r.bytesRead,
    bytes_written: r.bytesWritten,
    size_change: r.size - r.sizeFirst,
  };
  if (r.hdr.flags & FF.MOVED) extra['origin'] = r.origin;
  doc['falconet'] = { file: extra };
  return doc;
}
