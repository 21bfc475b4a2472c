// Decoder for socket records (bpf/records_socket.h): fixed offsets from layout.ts.
import type { SockDirection, SockExportReason, SockFamily, SockRecord } from '../model/socket-record.js';
import type { ProcHeader } from '../model/records.js';
import { SF, SOCK_DIR, SOCK_FLAGS, SOCK_PATH_LEN, SOCK_RECORD } from './layout.js';
import { FrameError } from './frames.js';
import { decodeBytes, u16le, u32le, u64le, u64leBig } from '../util/bytes.js';

const R = SOCK_RECORD.fields;
const D = SOCK_DIR.fields;
const o = (f: Record<string, readonly [number, number]>, k: string): number => f[k]![0];

/** TCP states by number (include/net/tcp_states.h), as kflowd names them. */
export const TCP_STATES = [
  '', 'TCP_ESTABLISHED', 'TCP_SYN_SENT', 'TCP_SYN_RECV', 'TCP_FIN_WAIT1', 'TCP_FIN_WAIT2',
  'TCP_TIME_WAIT', 'TCP_CLOSE', 'TCP_CLOSE_WAIT', 'TCP_LAST_ACK', 'TCP_LISTEN', 'TCP_CLOSING',
  'TCP_NEW_SYN_RECV',
] as const;

/** Flag bits as stored by the kernel (TCP header byte 13 & 0x3f), in kflowd's name order. */
const FLAG_NAMES: [number, string][] = [[0x01, 'FIN'], [0x02, 'SYN'], [0x04, 'RST'], [0x08, 'PSH'], [0x10, 'ACK'], [0x20, 'URG']];

function flagName(combo: number): string {
  const parts = FLAG_NAMES.filter(([bit]) => combo & bit).map(([, n]) => n);
  return parts.length ? parts.join('-') : 'NONE';
}
const FLAG_NAME_TABLE = Array.from({ length: 64 }, (_, c) => flagName(c));

export function tcpFlagName(combo: number): string {
  return FLAG_NAME_TABLE[combo & 63]!;
}

const SOCK_TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 5: 'SOCK_SEQPACKET' };

function family(n: number): SockFamily {
  return n === 2 ? 'AF_INET' : n === 10 ? 'AF_INET6' : n === 1 ? 'AF_UNIX' : 'AF_UNKNOWN';
}

/** RFC 5952 text of the 16-byte IPv6 address at b[o] (IPv4-mapped as ::ffff:a.b.c.d). */
export function ipv6Text(b: Uint8Array, o = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}`;
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The text of the address at b[o] (the record's 16-byte field; IPv4 in its first four bytes). */
export function ipText(fam: SockFamily, b: Uint8Array, o = 0): string {
  if (fam === 'AF_INET') return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  if (fam === 'AF_INET6') return ipv6Text(b, o);
  return '';
}

// Field offsets as numbers once: a look-up by name per field and record was a keyed load on the
// layout tables (~2 µs of a socket record's decode, warm).
const D_PACKETS = o(D, 'packets'), D_NFLAGS = o(D, 'nflags'), D_FLAGS = o(D, 'flags'), D_FLAG_ORDER = o(D, 'flag_order');
const D_TS_FIRST = o(D, 'ts_first'), D_TS = o(D, 'ts'), D_DATA_PACKETS = o(D, 'data_packets'), D_BYTES = o(D, 'bytes');
const D_IFINDEX = o(D, 'ifindex');
const R_FAMILY = o(R, 'family'), R_PROTOCOL = o(R, 'protocol'), R_STATE = o(R, 'state'), R_LADDR = o(R, 'laddr');
const R_RADDR = o(R, 'raddr'), R_TTL_COUNT = o(R, 'ttl_count'), R_RTO_US = o(R, 'rto_us'), R_COOKIE = o(R, 'cookie');
const R_ROLE = o(R, 'role'), R_SOTYPE = o(R, 'sotype'), R_LPORT = o(R, 'lport'), R_RPORT = o(R, 'rport');
const R_PATH = o(R, 'path'), R_PATH_LEN = o(R, 'path_len'), R_TX = o(R, 'tx'), R_RX = o(R, 'rx');
const R_RETRANS_PACKETS = o(R, 'retrans_packets'), R_RETRANS_BYTES = o(R, 'retrans_bytes'), R_DUPS = o(R, 'dups');
const R_BYTES_ACKED = o(R, 'bytes_acked'), R_REORDER = o(R, 'reorder'), R_DROPS = o(R, 'drops'), R_FRAGS = o(R, 'frags');
const R_TTL_SUM = o(R, 'ttl_sum'), R_RTT_NS = o(R, 'rtt_ns'), R_RX_QUEUED = o(R, 'rx_queued');
const R_BYTES_RECEIVED = o(R, 'bytes_received'), R_SK = o(R, 'sk');

// Counters are read with u64le: they fit in 2^53, so no BigInt per field (138 per record), and
// element loads rather than Buffer.readUInt32LE calls. Stamps and cookies with u64leBig.
function direction(b: Buffer, p: number, tcp: boolean): SockDirection {
  const packets = u64le(b, p + D_PACKETS);
  const flags: [string, number][] = [];
  if (tcp && packets > 0) {
    // first-seen order; every packet adds to exactly one combination, so when the ordered counts
    // fall short of the packets, a combination is missing from the order (an export raced its
    // first packet) and the counts are scanned. The 64 combinations seen: two 32-bit masks
    // (tested inline: a closure here was allocated per call, and is slow until optimised)
    let seenLo = 0, seenHi = 0;
    const n = Math.min(u64le(b, p + D_NFLAGS), SOCK_FLAGS);
    const fo = p + D_FLAGS;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const c = b[p + D_FLAG_ORDER + i]! & (SOCK_FLAGS - 1);
      const k = u64le(b, fo + 8 * c);
      if (k > 0 && ((c < 32 ? seenLo >>> c : seenHi >>> (c - 32)) & 1) === 0) {
        if (c < 32) seenLo |= 1 << c; else seenHi |= 1 << (c - 32);
        flags.push([tcpFlagName(c), k]);
        sum += k;
      }
    }
    if (sum < packets) {
      for (let c = 0; c < SOCK_FLAGS; c++) {
        const k = u64le(b, fo + 8 * c);
        if (k > 0 && ((c < 32 ? seenLo >>> c : seenHi >>> (c - 32)) & 1) === 0) flags.push([tcpFlagName(c), k]);
      }
    }
  }
  return {
    tsFirst: u64leBig(b, p + D_TS_FIRST),
    ts: u64leBig(b, p + D_TS),
    packets,
    dataPackets: u64le(b, p + D_DATA_PACKETS),
    bytes: u64le(b, p + D_BYTES),
    ifindex: u32le(b, p + D_IFINDEX),
    flags,
  };
}

function reason(flags: number): SockExportReason {
  if (flags & SF.CLOSED) return 'close';
  if (flags & SF.SHUTDOWN) return 'shutdown';
  if (flags & SF.IDLE) return 'idle';
  return 'active';
}

/** UNIX path: pathname sockets end at the first NUL; abstract names (leading NUL) are shown as "@name". */
function unixPath(b: Buffer, p: number, len: number): string {
  const n = Math.min(len, SOCK_PATH_LEN);
  if (n === 0) return '';
  if (b[p] === 0) return '@' + decodeBytes(b, p + 1, p + n);
  let end = p;
  while (end < p + n && b[end] !== 0) end++;
  return decodeBytes(b, p, end);
}

export function decodeSockRecord(b: Buffer, p: number, size: number, hdr: ProcHeader, frameOffset: number): SockRecord | undefined {
  if (size < SOCK_RECORD.size) throw new FrameError(`socket record too short (${size})`, frameOffset + p);
  const fam = family(u16le(b, p + R_FAMILY));
  const proto = u16le(b, p + R_PROTOCOL);
  const protocol = fam === 'AF_UNIX' ? '' : proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : '';
  const tcp = protocol === 'TCP';
  const stateNum = b[p + R_STATE]!;
  const state = fam === 'AF_UNIX' ? '' : tcp ? (TCP_STATES[stateNum] ?? `TCP_${stateNum}`) : stateNum === 1 ? 'UDP_ESTABLISHED' : 'UDP_CLOSE';
  const ttlCount = u64le(b, p + R_TTL_COUNT);
  const rtoRaw = u64le(b, p + R_RTO_US);
  const rtoIsJiffies = (hdr.flags & SF.RTO_JIFFIES) !== 0;
  const r: SockRecord = {
    type: 'sock',
    hdr,
    cookie: u64leBig(b, p + R_COOKIE),
    reason: reason(hdr.flags),
    noOwner: (hdr.flags & SF.NO_OWNER) !== 0,
    perPeer: (hdr.flags & SF.PER_PEER) !== 0,
    family: fam,
    protocol,
    role: b[p + R_ROLE] === 1 ? 'SERVER' : 'CLIENT',
    state,
    sockType: SOCK_TYPES[b[p + R_SOTYPE]!] ?? '',
    localIP: ipText(fam, b, p + R_LADDR),
    localPort: u16le(b, p + R_LPORT),
    remoteIP: ipText(fam, b, p + R_RADDR),
    remotePort: u16le(b, p + R_RPORT),
    path: fam === 'AF_UNIX' ? unixPath(b, p + R_PATH, u16le(b, p + R_PATH_LEN)) : '',
    tx: direction(b, p + R_TX, tcp),
    rx: direction(b, p + R_RX, tcp),
    retransPackets: u64le(b, p + R_RETRANS_PACKETS),
    retransBytes: u64le(b, p + R_RETRANS_BYTES),
    dups: u64le(b, p + R_DUPS),
    bytesAcked: u64le(b, p + R_BYTES_ACKED),
    reorder: u64le(b, p + R_REORDER),
    drops: u64le(b, p + R_DROPS),
    frags: u64le(b, p + R_FRAGS),
    rxTtl: ttlCount ? Math.floor(u64le(b, p + R_TTL_SUM) / ttlCount) : 0,
    rtoMs: rtoIsJiffies ? rtoRaw : Math.round(rtoRaw / 1000),
    rtoIsJiffies,
    rttNs: u64leBig(b, p + R_RTT_NS),
    rxQueued: u64le(b, p + R_RX_QUEUED),
    bytesReceived: u64le(b, p + R_BYTES_RECEIVED),
    skAddr: b.readBigUInt64LE(p + R_SK), // payload join (src/protocols/join.ts)
    // every record has every field, so they all share one shape: a field added later (the UNIX
    // inode, the join's names and App keys) gave some records another hidden class, and the
    // optimised code of every function that reads records was thrown away and compiled again
    skIno: fam === 'AF_UNIX' ? u64leBig(b, p + R_RADDR + 8) : undefined,
    remoteNames: undefined,
    appKeys: undefined,
  };
  return r;
}
