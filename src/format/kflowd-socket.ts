// kflowd's socket record (src/kflowd.c:531-654): keys, order and formats. Differences on
// purpose: the rx block names its interface SockRxInterface (kflowd's README shows the Tx key
// twice), SockTxRTO is milliseconds (kflowd: raw jiffies), unconnected UDP sockets get one
// record per peer, and TCP byte counts are stream bytes (kflowd adds retransmitted and duplicate
// segments into SockTx/RxBytes; here they are only in SockTxBytesRetrans and the packet counts).
import type { SockDirection, SockRecord } from '../model/socket-record.js';
import type { KflowdFacts } from './context.js';
import type { JObject, JValue } from './json.js';
import { infoKeys, procKeys } from './proc-keys.js';
import { seconds } from './time.js';

function duration(d: SockDirection): ReturnType<typeof seconds> {
  return seconds(d.tsFirst && d.ts > d.tsFirst ? d.ts - d.tsFirst : 0n);
}

function flagsObject(d: SockDirection): JObject {
  return new Map(d.flags);
}

/** Stream bytes received: tcp_sock.bytes_received advances with rcv_nxt, which counts a FIN as
 * one sequence number; never more than the payload the packets carried. */
export function tcpRxBytes(r: SockRecord): number {
  const fin = r.rx.flags.some(([name]) => name.split('-').includes('FIN'));
  return Math.max(0, Math.min(r.rx.bytes, r.bytesReceived - (fin ? 1 : 0)));
}

function txBlock(o: JObject, r: SockRecord, f: KflowdFacts): void {
  const d = r.tx;
  if (d.packets === 0) return;
  if (r.family === 'AF_UNIX') { o.set('SockTxBytes', d.bytes); return; }
  const tcp = r.protocol === 'TCP';
  o.set('SockTxInterface', f.interfaces?.tx ?? interfaceFallback(d.ifindex));
  if (tcp) o.set('SockTxDataPackets', d.dataPackets);
  o.set('SockTxPackets', d.packets);
  if (tcp) {
    o.set('SockTxPacketsRetrans', r.retransPackets);
    o.set('SockTxPacketsDups', r.dups);
    o.set('SockTxFlags', flagsObject(d));
  }
  o.set('SockTxDuration', duration(d));
  // TCP: bytes of the stream, once (retransmissions have their own key); UDP: payload sent
  o.set('SockTxBytes', tcp ? Math.max(0, d.bytes - r.retransBytes) : d.bytes);
  if (tcp) {
    o.set('SockTxBytesAcked', r.bytesAcked);
    o.set('SockTxBytesRetrans', r.retransBytes);
    o.set('SockTxRTO', r.rtoMs);
  }
}

function rxBlock(o: JObject, r: SockRecord, f: KflowdFacts): void {
  const d = r.rx;
  if (d.packets === 0) return;
  if (r.family === 'AF_UNIX') { o.set('SockRxBytes', d.bytes); return; }
  const tcp = r.protocol === 'TCP';
  o.set('SockRxInterface', f.interfaces?.rx ?? interfaceFallback(d.ifindex));
  if (tcp) o.set('SockRxDataPackets', d.dataPackets);
  o.set('SockRxPackets', d.packets);
  o.set('SockRxPacketsQueued', r.rxQueued);
  o.set('SockRxPacketsDrop', r.drops);
  if (tcp) o.set('SockRxPacketsReorder', r.reorder);
  o.set('SockRxPacketsFrag', r.frags);
  if (tcp) o.set('SockRxFlags', flagsObject(d));
  o.set('SockRxDuration', duration(d));
  o.set('SockRxBytes', tcp ? tcpRxBytes(r) : d.bytes);
  o.set('SockRxTTL', r.rxTtl);
  if (tcp) o.set('SockRTT', seconds(r.rttNs));
}

/** An interface no enricher named: kflowd's form with the name and MAC left empty. */
export function interfaceFallback(index: number): string {
  return index ? `${index}::` : '';
}

export function kflowdSocketRecord(r: SockRecord, seq: number, f: KflowdFacts): JObject {
  const o: JObject = new Map();
  infoKeys(o, seq, 'socket', r.hdr.ts, f.host);
  procKeys(o, r.hdr, f.users);
  socketKeys(o, r, f);
  return o;
}

/** The Sock* and App* keys that follow the Info* and Proc* keys. */
export function socketKeys(o: JObject, r: SockRecord, f: KflowdFacts): void {
  if (r.family === 'AF_UNIX') {
    o.set('SockRole', r.role);
    o.set('SockAddress', r.path);
    o.set('SockFamily', r.family);
  } else {
    o.set('SockProtocol', r.protocol);
    o.set('SockRole', r.role);
    o.set('SockState', r.state);
    o.set('SockFamily', r.family);
    o.set('SockLocalIP', r.localIP);
    o.set('SockLocalPort', r.localPort);
    o.set('SockRemoteIP', r.remoteIP);
    o.set('SockRemotePort', r.remotePort);
    if (r.remoteNames) o.set('SockRemoteNames', r.remoteNames); // src/protocols/join.ts
  }
  // a client speaks first, a server listens first
  if (r.role === 'CLIENT') { txBlock(o, r, f); rxBlock(o, r, f); } else { rxBlock(o, r, f); txBlock(o, r, f); }
  o.set('SockAge', seconds(r.hdr.ts > r.hdr.tsFirst ? r.hdr.ts - r.hdr.tsFirst : 0n));
  for (const [k, v] of r.appKeys ?? []) o.set(k, v as JValue); // App, AppTx*, AppRx* (src/protocols/app.ts)
}
