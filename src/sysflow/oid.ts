// Object identifiers: process OIDs {createTS, hpid} and file FOIDs (SHA-1 of path + container id).
import * as crypto from 'node:crypto';
import type { FOID, OID } from './types.js';

/** Composite map key for a process OID ("hpid:createTS"); OIDs are only unique per moment. */
export function oidKey(oid: OID): string {
  return `${oid.hpid}:${oid.createTS}`;
}

export function oidEquals(a: OID | null, b: OID | null): boolean {
  if (a === null || b === null) return a === b;
  return a.hpid === b.hpid && a.createTS === b.createTS;
}

// crypto.hash (Node ≥ 20.12) hashes in one call, without a Hash object per file
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

/**
 * FOID as the collector computes it. The spec says "SHA-1 of path + container ID", but every
 * File record in the 30 sample traces (14,065 files, host and container) hashes the container id
 * bytes FIRST, then the path bytes; a host file has no container id, so it is SHA-1(path).
 * Verified by test/sysflow/oid.test.ts. Returned as 40 lowercase hex chars.
 */
export function computeFoid(path: string, containerId: string | null): FOID {
  if (oneShot) return oneShot('sha1', containerId ? containerId + path : path, 'hex');
  const h = crypto.createHash('sha1');
  if (containerId) h.update(containerId, 'utf8');
  h.update(path, 'utf8');
  return h.digest('hex');
}

export function foidToBuffer(foid: FOID): Buffer {
  if (!/^[0-9a-f]{40}$/.test(foid)) throw new Error(`invalid FOID ${JSON.stringify(foid)}: want 40 lowercase hex chars`);
  return Buffer.from(foid, 'hex');
}

/**
 * Map keyed by process OID without building string keys (BigInt → string conversion per lookup
 * dominated the join cost). Two levels: hpid, then createTS; both compared by value.
 */
export class OidMap<V> {
  private readonly m = new Map<bigint, Map<bigint, V>>();
  private n = 0;
  /** bumped by every change: a memo of look-ups is valid while it stays the same */
  version = 0;
  get size(): number {
    return this.n;
  }
  get(oid: OID): V | undefined {
    return this.m.get(oid.hpid)?.get(oid.createTS);
  }
  has(oid: OID): boolean {
    return this.m.get(oid.hpid)?.has(oid.createTS) ?? false;
  }
  set(oid: OID, v: V): void {
    let inner = this.m.get(oid.hpid);
    if (!inner) this.m.set(oid.hpid, (inner = new Map()));
    if (!inner.has(oid.createTS)) this.n++;
    inner.set(oid.createTS, v);
    this.version++;
  }
  delete(oid: OID): boolean {
    const inner = this.m.get(oid.hpid);
    if (!inner || !inner.delete(oid.createTS)) return false;
    this.n--;
    this.version++;
    if (inner.size === 0) this.m.delete(oid.hpid);
    return true;
  }
  clear(): void {
    this.m.clear();
    this.n = 0;
    this.version++;
  }
  *values(): IterableIterator<V> {
    for (const inner of this.m.values()) yield* inner.values();
  }
}
