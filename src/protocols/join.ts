// Joins captured payloads to their socket records and names remote addresses. A payload record
// waits (bounded) until the socket record of its flow leaves the kernel; the record then gets
// the App keys of every payload held for it. DNS answers feed the name cache as they are
// captured. Within one batch all payloads are taken before any socket record is completed, so
// the outcome does not depend on the order of records in a batch.
import type { KernelRecord } from '../model/records.js';
import type { SockRecord } from '../model/socket-record.js';
import type { PayloadRecord } from '../model/payload-record.js';
import { appKeys } from './app.js';
import { parseDns, splitTcpDns } from './dns.js';
import { DnsNameCache, type DnsCacheOptions } from './dns-cache.js';

export interface JoinOptions {
  /** flows with payloads waiting for their socket record */
  maxFlows?: number;
  /** payloads kept per flow until its record is exported (kflowd keeps 4) */
  perFlow?: number;
  dnsCache?: DnsCacheOptions;
  /** add SockRemoteNames from the DNS cache */
  names?: boolean;
}

export interface JoinStats {
  payloads: number;
  attached: number;
  /** payloads whose flow was evicted before its record came, or beyond perFlow */
  unmatched: number;
}

/** TCP: the cookie; UDP: cookie and peer; UNIX: the sender's struct sock address and socket
 * inode (the kernel cannot always read the sender's cookie where it captures, and the address
 * alone names the previous socket too: a freed struct sock goes to the next socket at once). */
function payloadKey(p: PayloadRecord): string {
  if (p.transport === 'unix') return `u${p.skAddr}:${p.skIno ?? 0n}`;
  return p.transport === 'udp' ? `${p.cookie}|${p.peerIP}|${p.peerPort}` : `${p.cookie}`;
}

function sockFlowKey(r: SockRecord): string {
  if (r.family === 'AF_UNIX') return `u${r.skAddr ?? 0n}:${r.skIno ?? 0n}`;
  return r.protocol === 'UDP' ? `${r.cookie}|${r.remoteIP}|${r.remotePort}` : `${r.cookie}`;
}

export class PayloadJoin {
  readonly cache: DnsNameCache;
  readonly stats: JoinStats = { payloads: 0, attached: 0, unmatched: 0 };
  /** the sensor's capture counters (latest payload_stats record) */
  kernel?: Record<string, number>;
  private readonly pending = new Map<string, PayloadRecord[]>();
  private readonly maxFlows: number;
  private readonly perFlow: number;
  private readonly names: boolean;

  constructor(opts: JoinOptions = {}) {
    this.cache = new DnsNameCache(opts.dnsCache);
    this.maxFlows = opts.maxFlows ?? 16384;
    this.perFlow = opts.perFlow ?? 16;
    this.names = opts.names ?? true;
  }

  /** Takes the payload records out of a batch and completes its socket records. */
  process(batch: KernelRecord[]): KernelRecord[] {
    let out: KernelRecord[] | undefined;
    for (const r of batch) {
      if (r.type === 'payload') { this.add(r); out ??= []; }
      else if (r.type === 'payload_stats') this.kernel = r.counters;
    }
    if (!out) {
      for (const r of batch) if (r.type === 'sock') this.complete(r);
      return batch;
    }
    for (const r of batch) {
      if (r.type === 'payload') continue;
      if (r.type === 'sock') this.complete(r);
      out.push(r);
    }
    return out;
  }

  add(p: PayloadRecord): void {
    this.stats.payloads++;
    if (p.app === 'DNS') this.learn(p);
    const key = payloadKey(p);
    let list = this.pending.get(key);
    if (!list) {
      list = [];
      this.pending.set(key, list);
      while (this.pending.size > this.maxFlows) {
        const oldest = this.pending.keys().next().value!;
        this.stats.unmatched += this.pending.get(oldest)!.length;
        this.pending.delete(oldest);
      }
    }
    if (list.length < this.perFlow) list.push(p);
    else this.stats.unmatched++;
  }

  private learn(p: PayloadRecord): void {
    const msgs = p.transport === 'tcp' ? splitTcpDns(p.bytes).messages.map((m) => m.bytes) : [p.bytes];
    for (const b of msgs) {
      const m = parseDns(b);
      if (m?.response) this.cache.addResponse(m, p.ts);
    }
  }

  /** Sets the App keys and remote names of a socket record. */
  complete(r: SockRecord): void {
    if (this.names && r.family !== 'AF_UNIX' && r.remoteIP) {
      const names = this.cache.namesFor(r.remoteIP, r.hdr.tsFirst);
      if (names.length) r.remoteNames = names;
    }
    const key = sockFlowKey(r);
    const caps = this.pending.get(key);
    if (!caps) return;
    this.pending.delete(key);
    this.stats.attached += caps.length;
    r.appKeys = appKeys(caps[0]!.app, caps[0]!.transport, caps, r.hdr.tsFirst);
  }
}
