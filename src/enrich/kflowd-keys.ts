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

/** Inserts `entries` after the first existing key of `anchors` (or at the end), keeping order. */
function insertAfter(o: JObject, anchors: readonly string[], entries: ReadonlyArray<readonly [string, JValue]>): void {
  if (!entries.length) return;
  const anchor = anchors.find((a) => o.has(a));
  if (anchor === undefined || [...o.keys()].at(-1) === anchor) {
    for (const [k, v] of entries) o.set(k, v);
    return;
  }
  const rest: Array<[string, JValue]> = [];
  let after = false;
  for (const [k, v] of o) {
    if (after) rest.push([k, v]);
    else if (k === anchor) after = true;
  }
  for (const [k] of rest) o.delete(k);
  for (const [k, v] of entries) o.set(k, v);
  for (const [k, v] of rest) o.set(k, v);
}

const isExec = (env: Envelope): boolean => {
  if (env.kind !== 'file') return false;
  const m = (env.rec as FileRecord).mode;
  return (m & 0o170000) === 0o100000 && (m & 0o111) !== 0;
};

/** Adds the enrichment keys to a kflowd record object built by the kflowd encoder. */
export function addKflowdEnrichmentKeys(o: JObject, env: Envelope, flags: KflowdEnrichmentFlags): void {
  const e = env.enrich ?? {};
  if (flags.versions) {
    const pk = e['packages'] as PackageEnrichment | undefined;
    insertAfter(o, ['Proc'], [['ProcVersion', pk?.procVersion ?? '']]);
    if (isExec(env)) insertAfter(o, ['FileOrigin', 'File'], [['FileVersion', pk?.fileVersion ?? '']]);
  }
  if (flags.containers) {
    const c = e['container'] as ContainerEnrichment | undefined;
    if (c) insertAfter(o, ['ProcAge'], [['ContainerId', c.shortId], ['ContainerName', c.name ?? ''], ['ContainerImage', c.image ?? '']]);
  }
  if (flags.checksums && isExec(env)) {
    const cs = e['checksums'] as ChecksumEnrichment | undefined;
    const done = cs?.state === 'done' ? cs : undefined;
    o.set('FileMD5', done?.md5 ?? '');
    o.set('FileSHA256', done?.sha256 ?? '');
    if (cs && cs.state !== 'done') o.set('FileChecksumState', cs.state);
  }
}
