// kflowd JSON keys that come from enrichment, written from env.enrich (never looked up here):
//   -v  ProcVersion (right after Proc), FileVersion (right after File/FileOrigin, executables)
//   -c  FileMD5, FileSHA256 (last keys of a file record, executables); kflowd prints empty
//       strings when it has no digest, and so do we; a digest still being computed (or that
//       failed) adds FileChecksumState "pending" / "error" (a falconet addition)
//   containers: ContainerId (12-char short id, as docker ps), ContainerName, ContainerImage,
//       right after ProcAge, only when the record's process is in a container
// Versions are dpkg/rpm's exactly (epoch included; kflowd's README sample shows one too).
import type { FileRecord } from '../model/records.js';
import type { Envelope } from '../pipeline/types.js';
import type { JObject, JValue } from '../format/json.js';
import type { KflowdFileExtras } from '../format/kflowd-min-bytes.js';
import type { ChecksumEnrichment } from './checksums.js';
import type { ContainerEnrichment } from './containers.js';
import type { PackageEnrichment } from './packages.js';

export interface KflowdEnrichmentFlags {
  /** -v */
  versions?: boolean;
  /** -c */
  checksums?: boolean;
  /** container keys */
  containers?: boolean;
}

type Entries = ReadonlyArray<readonly [string, JValue]>;

/**
 * Inserts each group of entries after the first existing key of its anchors (or at the end),
 * keeping order, with at most one rebuild of the map for all groups.
 */
function insertAll(o: JObject, groups: ReadonlyArray<{ anchors: readonly string[]; entries: Entries }>): void {
  const at = new Map<string, Entries[]>();
  const tail: Entries[] = [];
  let rebuild = false;
  let last: string | undefined;
  for (const k of o.keys()) last = k;
  for (const g of groups) {
    if (!g.entries.length) continue;
    const anchor = g.anchors.find((a) => o.has(a));
    if (anchor === undefined || anchor === last) { tail.push(g.entries); continue; }
    rebuild = true;
    const list = at.get(anchor);
    if (list) list.push(g.entries);
    else at.set(anchor, [g.entries]);
  }
  if (rebuild) {
    const all = [...o];
    o.clear();
    for (const [k, v] of all) {
      o.set(k, v);
      const ins = at.get(k);
      if (ins) for (const es of ins) for (const [ek, ev] of es) o.set(ek, ev);
    }
  }
  for (const es of tail) for (const [k, v] of es) o.set(k, v);
}

const isExec = (env: Envelope): boolean => {
  if (env.kind !== 'file') return false;
  const m = (env.rec as FileRecord).mode;
  return (m & 0o170000) === 0o100000 && (m & 0o111) !== 0;
};

/** Adds the enrichment keys to a kflowd record object built by the kflowd encoder. */
export function addKflowdEnrichmentKeys(o: JObject, env: Envelope, flags: KflowdEnrichmentFlags): void {
  const e = env.enrich ?? {};
  const exec = isExec(env);
  const groups: Array<{ anchors: readonly string[]; entries: Entries }> = [];
  if (flags.versions) {
    const pk = e['packages'] as PackageEnrichment | undefined;
    groups.push({ anchors: ['Proc'], entries: [['ProcVersion', pk?.procVersion ?? '']] });
    if (exec) groups.push({ anchors: ['FileOrigin', 'File'], entries: [['FileVersion', pk?.fileVersion ?? '']] });
  }
  if (flags.containers) {
    const c = e['container'] as ContainerEnrichment | undefined;
    if (c) groups.push({ anchors: ['ProcAge'], entries: [['ContainerId', c.shortId], ['ContainerName', c.name ?? ''], ['ContainerImage', c.image ?? '']] });
  }
  if (groups.length) insertAll(o, groups);
  if (flags.checksums && exec) {
    const cs = e['checksums'] as ChecksumEnrichment | undefined;
    const done = cs?.state === 'done' ? cs : undefined;
    o.set('FileMD5', done?.md5 ?? '');
    o.set('FileSHA256', done?.sha256 ?? '');
    if (cs && cs.state !== 'done') o.set('FileChecksumState', cs.state);
  }
}

const scratch: KflowdFileExtras = {
  procVersion: undefined, containerId: undefined, containerName: '', containerImage: '', fileVersion: undefined,
  md5: undefined, sha256: '', checksumState: undefined,
};

/**
 * The keys addKflowdEnrichmentKeys(o, env, kflowdEnrichmentFlags(env)) adds to a file record, as
 * the json-min byte writer takes them (it writes them in place: no Map is rebuilt). Fills and
 * returns one reused object, valid until the next call.
 */
export function kflowdFileExtras(env: Envelope): KflowdFileExtras {
  const e = env.enrich ?? {};
  const x = scratch;
  const exec = isExec(env);
  if (e['packages'] !== undefined) {
    const pk = e['packages'] as PackageEnrichment | undefined;
    x.procVersion = pk?.procVersion ?? '';
    x.fileVersion = exec ? pk?.fileVersion ?? '' : undefined;
  } else x.procVersion = x.fileVersion = undefined;
  const c = e['container'] as ContainerEnrichment | undefined;
  if (c) {
    x.containerId = c.shortId;
    x.containerName = c.name ?? '';
    x.containerImage = c.image ?? '';
  } else x.containerId = undefined;
  if (e['checksums'] !== undefined && exec) {
    const cs = e['checksums'] as ChecksumEnrichment | undefined;
    const done = cs?.state === 'done' ? cs : undefined;
    x.md5 = done?.md5 ?? '';
    x.sha256 = done?.sha256 ?? '';
    x.checksumState = cs && cs.state !== 'done' ? cs.state : undefined;
  } else x.md5 = x.checksumState = undefined;
  return x;
}

/** Did an enricher behind -v, -c or --containers attach anything to this record? */
export function hasKflowdEnrichment(env: Envelope): boolean {
  const e = env.enrich;
  return e !== undefined && (e['packages'] !== undefined || e['checksums'] !== undefined || e['container'] !== undefined);
}

/** The flags a record's enrichment stands for: a stage that ran attached its key. */
export function kflowdEnrichmentFlags(env: Envelope): KflowdEnrichmentFlags {
  const e = env.enrich ?? {};
  return { versions: e['packages'] !== undefined, checksums: e['checksums'] !== undefined || false, containers: e['container'] !== undefined };
}
