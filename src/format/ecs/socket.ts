// Socket records → ECS the way Auditbeat's socket dataset maps a flow: source/destination
// (and client/server) with per-side packets and bytes, network.* with the Community ID,
// event.category network / event.action network_flow, process.* and user.* of the owner.
// Counters that ECS has no field for travel under falconet.socket.* (see ecs-custom-fields.csv).
import type { SockRecord } from '../../model/socket-record.js';
import type { Envelope } from '../../pipeline/types.js';
import { communityId, PROTO_TCP, PROTO_UDP } from '../community-id.js';
import { appFields } from './app.js';
import { baseDoc, eventBase, isoNs, num, processFields, realClock, type EcsContext, type EcsDoc } from './common.js';

function side(ip: string, port: number, packets: number, bytes: number): EcsDoc {
  return { ip, port, address: ip, packets, bytes };
}

/** Payload bytes per direction as the kflowd encoder counts them (stream bytes for TCP). */
function sideBytes(r: SockRecord): { tx: number; rx: number } {
  if (r.protocol !== 'TCP') return { tx: r.tx.bytes, rx: r.rx.bytes };
  const fin = r.rx.flags.some(([n]) => n.split('-').includes('FIN'));
  return {
    tx: Math.max(0, r.tx.bytes - r.retransBytes),
    rx: Math.max(0, Math.min(r.rx.bytes, r.bytesReceived - (fin ? 1 : 0))),
  };
}

export function socketDoc(env: Envelope<SockRecord>, ctx: EcsContext): EcsDoc | null {
  const r = env.rec;
  const doc = baseDoc(env, ctx, r.hdr.ts);
  const clock = realClock(env, ctx);
  const ended = r.reason === 'close' || r.reason === 'shutdown';
  const event = eventBase(env, 'socket');
  event['category'] = ['network'];
  event['type'] = ['connection', ended ? 'end' : 'info'];
  event['action'] = 'network_flow';
  event['reason'] = r.reason;
  event['start'] = isoNs(r.hdr.tsFirst + clock);
  event['end'] = isoNs(r.hdr.ts + clock);
  event['duration'] = num(r.hdr.ts > r.hdr.tsFirst ? r.hdr.ts - r.hdr.tsFirst : 0n);
  doc['event'] = event;

  const bytes = sideBytes(r);
  const packets = r.tx.packets + r.rx.packets;
  if (r.family === 'AF_INET' || r.family === 'AF_INET6') {
    const local = side(r.localIP, r.localPort, r.tx.packets, bytes.tx);
    const remote = side(r.remoteIP, r.remotePort, r.rx.packets, bytes.rx);
    // the side that opened the flow is the source (Auditbeat: client → server)
    const client = r.role === 'CLIENT';
    doc['source'] = client ? local : remote;
    doc['destination'] = client ? remote : local;
    doc['client'] = client ? { ...local } : { ...remote };
    doc['server'] = client ? { ...remote } : { ...local };
    const proto = r.protocol === 'TCP' ? PROTO_TCP : PROTO_UDP;
    const network: EcsDoc = {
      type: r.family === 'AF_INET' ? 'ipv4' : 'ipv6',
      transport: r.protocol.toLowerCase(),
      iana_number: String(proto),
      direction: client ? 'egress' : 'ingress',
      packets,
      bytes: bytes.tx + bytes.rx,
    };
    if (r.remoteIP && r.localIP) {
      const [s, d] = client ? [local, remote] : [remote, local];
      network['community_id'] = communityId({
        proto, saddr: s['ip'] as string, daddr: d['ip'] as string, sport: s['port'] as number, dport: d['port'] as number,
      });
    }
    doc['network'] = network;
    doc['related'] = { ip: [...new Set([r.localIP, r.remoteIP].filter((x) => x))] };
  } else {
    // UNIX sockets: ECS's address fields may hold a socket path
    doc['destination'] = { address: r.path };
    doc['network'] = { packets, bytes: bytes.tx + bytes.rx, direction: r.role === 'CLIENT' ? 'egress' : 'ingress' };
  }
  if (!r.noOwner) {
    const related = doc['related'] as EcsDoc | undefined;
    processFields(doc, env, ctx, r.hdr);
    if (related) doc['related'] = { ...related, ...(doc['related'] as EcsDoc | undefined) };
  }
  const sock: EcsDoc = {
    family: r.family, role: r.role.toLowerCase(), state: r.state, type: r.sockType, cookie: r.cookie.toString(),
  };
  if (r.protocol === 'TCP') {
    sock['retransmitted_packets'] = r.retransPackets;
    sock['retransmitted_bytes'] = r.retransBytes;
    sock['rtt_us'] = num(r.rttNs / 1000n);
  }
  doc['falconet'] = { socket: sock };
  appFields(doc, r); // -p payloads and DNS names (app.ts)
  return doc;
}
