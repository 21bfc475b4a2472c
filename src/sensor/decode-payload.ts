// Payload capture records (bpf/records_payload.h) → PayloadRecord / PayloadStatsRecord.
import type { ProcHeader } from '../model/records.js';
import type { AppProto, AppTransport, PayloadRecord, PayloadStatsRecord } from '../model/payload-record.js';
import { PAYLOAD_MAX, PAYLOAD_RECORD, PAYLOAD_STATS, PAYLOAD_STATS_RECORD, PLF_RX } from './layout.js';
import { ipText } from './decode-socket.js';
import { FrameError } from './frames.js';

const F = PAYLOAD_RECORD.fields;
const o = (k: string) => F[k]![0];
const APPS: (AppProto | undefined)[] = [undefined, 'DNS', 'HTTP', 'SYSLOG'];
const TRANSPORTS: (AppTransport | undefined)[] = [undefined, 'tcp', 'udp', 'unix'];

export function decodePayloadRecord(b: Buffer, p: number, size: number, hdr: ProcHeader, frameOffset: number): PayloadRecord | undefined {
  const fixed = o('data');
  if (size < fixed) throw new FrameError(`payload record too short (${size})`, frameOffset + p);
  const capLen = b.readUInt16LE(p + o('cap_len'));
  if (capLen > PAYLOAD_MAX || fixed + capLen > size) throw new FrameError(`payload length ${capLen} exceeds record size ${size}`, frameOffset + p);
  const app = APPS[b[p + o('app')]!];
  const transport = TRANSPORTS[b[p + o('transport')]!];
  if (!app || !transport) return undefined; // a newer sensor's kind: skipped like unknown records
  const fam = b.readUInt16LE(p + o('family'));
  const raddr = b.subarray(p + o('raddr'), p + o('raddr') + 16);
  const udp = transport === 'udp';
  return {
    type: 'payload',
    hdr,
    ts: hdr.ts,
    cookie: b.readBigUInt64LE(p + o('cookie')),
    app,
    transport,
    rx: (hdr.flags & PLF_RX) !== 0,
    peerIP: udp ? ipText(fam === 10 ? 'AF_INET6' : 'AF_INET', raddr) : '',
    peerPort: udp ? b.readUInt16LE(p + o('rport')) : 0,
    skAddr: transport === 'unix' ? raddr.readBigUInt64LE(0) : 0n,
    ...(transport === 'unix' ? { skIno: raddr.readBigUInt64LE(8) } : {}),
    seq: b.readUInt32LE(p + o('seq')),
    wireLen: b.readUInt32LE(p + o('wire_len')),
    bytes: Buffer.from(b.subarray(p + fixed, p + fixed + capLen)),
  };
}

export function decodePayloadStats(b: Buffer, p: number, size: number, hdr: ProcHeader, frameOffset: number): PayloadStatsRecord {
  if (size < PAYLOAD_STATS_RECORD.size) throw new FrameError(`payload stats record too short (${size})`, frameOffset + p);
  const counters: Record<string, number> = {};
  PAYLOAD_STATS.forEach((name, i) => { counters[name] = Number(b.readBigUInt64LE(p + PAYLOAD_STATS_RECORD.fields.counters![0] + 8 * i)); });
  return { type: 'payload_stats', hdr, counters };
}
