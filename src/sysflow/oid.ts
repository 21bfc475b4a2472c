// Object identifiers: process OIDs {createTS, hpid} and file FOIDs (SHA-1 of path + container id).
import { createHash } from 'node:crypto';
import type { FOID, OID } from './types.js';

/** Composite map key for a process OID ("hpid:createTS"); OIDs are only unique per moment. */
export function oidKey(oid: OID): string {
  return `${oid.hpid}:${oid.createTS}`;
}

export function oidEquals(a: OID | null, b: OID | null): boolean {
  if (a === null || b === null) return a === b;
  return a.hpid === b.hpid && a.createTS === b.createTS;
}

/**
 * FOID as the collector computes it: SHA-1 over the path bytes followed by the container id
 * bytes (empty when the file is on the host). Returned as 40 lowercase hex chars.
 */
export function computeFoid(path: string, containerId: string | null): FOID {
  const h = createHash('sha1');
  h.update(path, 'utf8');
  if (containerId) h.update(containerId, 'utf8');
  return h.digest('hex');
}

export function foidToBuffer(foid: FOID): Buffer {
  if (!/^[0-9a-f]{40}$/.test(foid)) throw new Error(`invalid FOID ${JSON.stringify(foid)}: want 40 lowercase hex chars`);
  return Buffer.from(foid, 'hex');
}
