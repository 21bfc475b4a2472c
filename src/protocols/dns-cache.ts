// IP → names learned from DNS answers seen on the host (Auditbeat's socket dataset does the
// same). A response's A/AAAA answers give the address the names it was asked and reached by:
// the answer's owner name and every alias of the CNAME chain that leads to it. Each name lives
// until its TTL runs out, measured from the capture; a flow is matched by its first event, so
// a name whose TTL ended before the flow began is not shown. Bounded: the least recently
// learned addresses go first, and each address keeps at most `namesPerIp` names.
import type { DnsMessage } from './dns.js';

interface NameEntry {
  /** CLOCK_BOOTTIME ns when the TTL ends */
  until: bigint;
}

export interface DnsCacheOptions {
  maxIps?: number;
  namesPerIp?: number;
  /** floor for short TTLs (a client connects right after the answer even with TTL 0) */
  minTtlSec?: number;
}

/** Canonical text of an address, so "::ffff:1.2.3.4" and "1.2.3.4" meet. */
export function canonicalIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return (m ? m[1]! : ip).toLowerCase();
}

export class DnsNameCache {
  private readonly ips = new Map<string, Map<string, NameEntry>>();
  private readonly maxIps: number;
  private readonly namesPerIp: number;
  private readonly minTtlNs: bigint;

  constructor(opts: DnsCacheOptions = {}) {
    this.maxIps = opts.maxIps ?? 65536;
    this.namesPerIp = opts.namesPerIp ?? 8;
    this.minTtlNs = BigInt(opts.minTtlSec ?? 5) * 1_000_000_000n;
  }

  get size(): number {
    return this.ips.size;
  }

  /** Learns the addresses of one decoded response captured at `ts` (CLOCK_BOOTTIME ns). */
  addResponse(m: DnsMessage, ts: bigint): void {
    if (!m.response || m.rcode !== 'NOERROR') return;
    // alias → canonical name, from the CNAME records of this answer
    const aliasesOf = new Map<string, string[]>();
    for (const a of m.answers) {
      if (a.type !== 'CNAME') continue;
      const target = a.data.toLowerCase();
      const list = aliasesOf.get(target) ?? [];
      list.push(a.name.toLowerCase());
      aliasesOf.set(target, list);
    }
    for (const a of m.answers) {
      if (a.type !== 'A' && a.type !== 'AAAA') continue;
      if (!/^[0-9a-fA-F:.]+$/.test(a.data)) continue;
      let ttl = BigInt(a.ttl) * 1_000_000_000n;
      if (ttl < this.minTtlNs) ttl = this.minTtlNs;
      // the chain, from the name asked to the owner of the address (bounded against loops)
      const names: string[] = [];
      const walk = (n: string) => {
        if (names.includes(n) || names.length >= this.namesPerIp) return;
        for (const alias of aliasesOf.get(n) ?? []) walk(alias);
        names.push(n);
      };
      walk(a.name.toLowerCase());
      this.add(canonicalIp(a.data), names, ts + ttl);
    }
  }

  private add(ip: string, names: string[], until: bigint): void {
    let entry = this.ips.get(ip);
    if (entry) this.ips.delete(ip); // re-insert: most recently learned last
    else entry = new Map();
    for (const n of names) {
      const old = entry.get(n);
      entry.delete(n);
      entry.set(n, { until: old && old.until > until ? old.until : until });
    }
    while (entry.size > this.namesPerIp) entry.delete(entry.keys().next().value!);
    this.ips.set(ip, entry);
    while (this.ips.size > this.maxIps) this.ips.delete(this.ips.keys().next().value!);
  }

  /** Names of `ip` whose TTL had not run out at `at` (CLOCK_BOOTTIME ns), in the order learned. */
  namesFor(ip: string, at: bigint): string[] {
    const entry = this.ips.get(canonicalIp(ip));
    if (!entry) return [];
    const out: string[] = [];
    for (const [n, e] of entry) if (at <= e.until) out.push(n);
    return out;
  }
}
