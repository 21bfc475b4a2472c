// Joins captured payloads to their socket records and names remote addresses. A payload record
// waits (bounded) until the socket record of its flow leaves the kernel; the record then gets
// the App keys of every payload held for it. DNS answers feed the name cache as they are
// captured. Within one batch all payloads are taken before any socket record is completed, so
// the outcome does not depend on the order of records in a batch.
// A UNIX datagram's payload captured on the reader side (6.1 has no sender side; on newer
// kernels, datagrams the sender side missed) comes when the receiver reads it, which can be after
// the sender closed and its last record left. The last records of senders to the configured
// syslog sockets are therefore held for a while (in stream time: the sensor's stats ticks), so
// a late payload still joins them.
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
  /** syslog UNIX socket paths whose senders' last records wait for late payloads */
  holdUnixPaths?: readonly string[];
  /** how long they wait, in stream time (ns; default HOLD_NS) */
  holdNs?: bigint;
}

/** Default hold: reader-side captures come when the receiver reads; a syslog daemon reads in
 * well under this. Counted from the first stats tick after the record (ticks are 1 s apart). */
export const HOLD_NS = 2_000_000_000n;

export interface JoinStats {
  payloads: number;
  attached: number;
  /** payloads whose flow was evicted before its record came, beyond perFlow, or that no record
   * took by the end of the stream */
  unmatched: number;
  /** last records of syslog senders held for late payloads (holdUnixPaths) */
  held: number;
}

/** TCP: the cookie; UDP: cookie and peer; UNIX: the sender's struct sock address and socket
 * inode (the kernel cannot always read the sender's cookie where it captures, and the address
 * alone names the previous socket too: a freed struct sock goes to the next socket at once).
 * A datagram read after its sender closed has no inode left (the socket is gone, the struct sock
 * lives on until the datagram is read): then the sender's cookie, never reused, is the key. */
function payloadKey(p: PayloadRecord): string {
  if (p.transport === 'unix') return !p.skIno && p.cookie ? `uc${p.cookie}` : `u${p.skAddr}:${p.skIno ?? 0n}`;
  return p.transport === 'udp' ? `${p.cookie}|${p.peerIP}|${p.peerPort}` : `${p.cookie}`;
}

/** The key under which a socket record's payloads wait (payloadKey); a UNIX sender's payloads
 * read after it closed wait under `uc<cookie>` too. */
function sockFlowKey(r: SockRecord): string {
  if (r.family === 'AF_UNIX') return `u${r.skAddr ?? 0n}:${r.skIno ?? 0n}`;
  return r.protocol === 'UDP' ? `${r.cookie}|${r.remoteIP}|${r.remotePort}` : `${r.cookie}`;
}

const byTs = (a: PayloadRecord, b: PayloadRecord): number => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0);

export class PayloadJoin {
  readonly cache: DnsNameCache;
  readonly stats: JoinStats = { payloads: 0, attached: 0, unmatched: 0, held: 0 };
  /** the sensor's capture counters (latest payload_stats record) */
  kernel?: Record<string, number>;
  private readonly pending = new Map<string, PayloadRecord[]>();
  private readonly maxFlows: number;
  private readonly perFlow: number;
  private readonly names: boolean;
  private readonly holdPaths: ReadonlySet<string>;
  private readonly holdNs: bigint;
  /** held records in arrival order; since: the first stats tick's time after the hold */
  private holding: { rec: SockRecord; since?: bigint }[] = [];

  constructor(opts: JoinOptions = {}) {
    this.cache = new DnsNameCache(opts.dnsCache);
    this.maxFlows = opts.maxFlows ?? 16384;
    this.perFlow = opts.perFlow ?? 16;
    this.names = opts.names ?? true;
    this.holdPaths = new Set(opts.holdUnixPaths ?? []);
    this.holdNs = opts.holdNs ?? HOLD_NS;
  }

  /** Records held for late payloads right now. */
  get heldNow(): number {
    return this.holding.length;
  }

  /** Takes the payload records out of a batch and completes its socket records. */
  process(batch: KernelRecord[]): KernelRecord[] {
    let out: KernelRecord[] | undefined;
    for (const r of batch) {
      if (r.type === 'payload') { this.add(r); out ??= []; }
      else if (r.type === 'payload_stats') this.kernel = r.counters;
    }
    // the common batch (no payload, no record to hold) goes on as it is
    if (!out && !batch.some((r) => r.type === 'sock' && this.holds(r))) {
      for (const r of batch) if (r.type === 'sock') this.complete(r);
      return batch;
    }
    out = [];
    for (const r of batch) {
      if (r.type === 'payload') continue;
      if (r.type === 'sock') {
        if (this.holds(r)) {
          this.holding.push({ rec: r });
          this.stats.held++;
          continue;
        }
        this.complete(r);
      }
      out.push(r);
    }
    return out;
  }

  /** A stats tick at stream time nowNs: the held records whose wait is over, completed. */
  tick(nowNs: bigint): SockRecord[] {
    const due: SockRecord[] = [];
    this.holding = this.holding.filter((h) => {
      if (h.since === undefined) { h.since = nowNs; return true; }
      if (nowNs - h.since < this.holdNs) return true;
      this.complete(h.rec);
      due.push(h.rec);
      return false;
    });
    return due;
  }

  /** End of the stream: every held record, completed; payloads no record took are unmatched. */
  flush(): SockRecord[] {
    const all = this.holding.map((h) => h.rec);
    this.holding = [];
    for (const r of all) this.complete(r);
    for (const caps of this.pending.values()) this.stats.unmatched += caps.length;
    this.pending.clear();
    return all;
  }

  /** A sender's last record to a syslog UNIX datagram socket: its payload may come later. */
  private holds(r: SockRecord): boolean {
    return this.holdPaths.size > 0 && r.family === 'AF_UNIX' && r.reason === 'close' && r.role === 'CLIENT' &&
      r.sockType === 'SOCK_DGRAM' && this.holdPaths.has(r.path);
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
    let caps = this.take(sockFlowKey(r));
    if (r.family === 'AF_UNIX') {
      const late = this.take(`uc${r.cookie}`);
      if (late) caps = caps ? [...caps, ...late].sort(byTs) : late;
    }
    if (!caps) return;
    this.stats.attached += caps.length;
    r.appKeys = appKeys(caps[0]!.app, caps[0]!.transport, caps, r.hdr.tsFirst);
  }

  private take(key: string): PayloadRecord[] | undefined {
    const caps = this.pending.get(key);
    if (caps) this.pending.delete(key);
    return caps;
  }
}
