// Community ID v1 (https://github.com/corelight/community-id-spec): a flow hash that Zeek,
// Suricata, Auditbeat and Elastic agree on, so one flow can be joined across tools.
//   sha1(seed:u16be | saddr | daddr | proto:u8 | 0:u8 | sport:u16be | dport:u16be)
// with the endpoints ordered (smaller address, then smaller port, first) and ICMP type/code
// mapped to port equivalents so that a request and its reply hash the same.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMP6 = 58;
export const PROTO_SCTP = 132;

// request/reply pairs: the "port" pair of a two-way message is (type, counterpart type)
const ICMP4_PAIRS: [number, number][] = [[8, 0], [13, 14], [15, 16], [10, 9], [17, 18]];
const ICMP6_PAIRS: [number, number][] = [[128, 129], [130, 131], [133, 134], [135, 136], [139, 140], [144, 145]];

function pairMap(pairs: [number, number][]): Map<number, number> {
  const m = new Map<number, number>();
  for (const [a, b] of pairs) { m.set(a, b); m.set(b, a); }
  return m;
}
const ICMP4 = pairMap(ICMP4_PAIRS);
const ICMP6 = pairMap(ICMP6_PAIRS);

export interface FlowTuple {
  proto: number;
  saddr: string;
  daddr: string;
  /** transport ports; for ICMP/ICMPv6 sport is the type and dport the code */
  sport?: number;
  dport?: number;
}

export interface CommunityIdOptions {
  seed?: number;
  /** false: hex digest instead of base64 */
  base64?: boolean;
}

/** IPv4 (4 bytes) or IPv6 (16 bytes) in network order; IPv4-mapped IPv6 stays 16 bytes. */
export function ipBytes(ip: string, where = 'address'): Buffer {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ip.split('.').map((p) => Number(p)));
  if (v !== 6) throw new Error(`community-id: ${where} '${ip}' is not an IP address`);
  let text = ip;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // a trailing dotted quad (::ffff:1.2.3.4) becomes two groups
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const b = ipBytes(quad[1]!, where);
    text = text.slice(0, quad.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function hasPorts(proto: number): boolean {
  return proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP || proto === PROTO_ICMP || proto === PROTO_ICMP6;
}

/** Community ID v1 string, e.g. "1:LQU9qZlK+B5F3KDmev6m5PMibrg=". */
export function communityId(t: FlowTuple, opts: CommunityIdOptions = {}): string {
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff) throw new Error(`community-id: seed ${seed} is not a 16-bit number`);
  if (!Number.isInteger(t.proto) || t.proto < 0 || t.proto > 255) throw new Error(`community-id: protocol ${t.proto} is not 0..255`);
  let sa = ipBytes(t.saddr, 'source address');
  let da = ipBytes(t.daddr, 'destination address');
  if (sa.length !== da.length) throw new Error(`community-id: ${t.saddr} and ${t.daddr} are of different families`);
  const ports = hasPorts(t.proto) && t.sport !== undefined && t.dport !== undefined;
  let sp = t.sport ?? 0;
  let dp = t.dport ?? 0;
  if (ports) {
    for (const [p, name] of [[sp, 'source port'], [dp, 'destination port']] as const) {
      if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new Error(`community-id: ${name} ${p} is not 0..65535`);
    }
  }
  let oneWay = false;
  if (ports && (t.proto === PROTO_ICMP || t.proto === PROTO_ICMP6)) {
    const counterpart = (t.proto === PROTO_ICMP ? ICMP4 : ICMP6).get(sp);
    if (counterpart === undefined) oneWay = true;
    else dp = counterpart;
  }
  // order the endpoints unless the message is one-way (then the sender stays first)
  const cmp = Buffer.compare(sa, da);
  if (!oneWay && (cmp > 0 || (cmp === 0 && ports && sp > dp))) {
    [sa, da] = [da, sa];
    [sp, dp] = [dp, sp];
  }
  const head = Buffer.alloc(2);
  head.writeUInt16BE(seed);
  const mid = Buffer.from([t.proto, 0]);
  const h = createHash('sha1').update(head).update(sa).update(da).update(mid);
  if (ports) {
    const p = Buffer.alloc(4);
    p.writeUInt16BE(sp, 0);
    p.writeUInt16BE(dp, 2);
    h.update(p);
  }
  return `1:${h.digest(opts.base64 === false ? 'hex' : 'base64')}`;
}
