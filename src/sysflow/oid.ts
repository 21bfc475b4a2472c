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
 * FOID as the collector computes it. The spec says "SHA-1 of path + container ID", but every
 * File record in the 30 sample traces (14,065 files, host and container) hashes the container id
 * bytes FIRST, then the path bytes; a host file has no container id, so it is SHA-1(path).
 * Verified by test/sysflow/oid.test.ts. Returned as 40 lowercase hex chars.
 */
export function computeFoid(path: string, containerId: string | null): FOID {
  const h = createHash('sha1');
  if (containerId) h.update(containerId, 'utf8');
  h.update(path, 'utf8');
  return h.digest('hex');
}

export function foidToBuffer(foid: FOID): Buffer {
  if (!/^[0-9a-f]{40}$/.test(foid)) throw new Error(`invalid FOID ${JSON.stringify(foid)}: want 40 lowercase hex chars`);
  return Buffer.from(foid, 'hex');
}
