// kflowd's socket record (src/kflowd.c:531-654): keys, order and formats. Differences on
// purpose: the rx block names its interface SockRxInterface (kflowd's README shows the Tx key
// twice), SockTxRTO is milliseconds (kflowd: raw jiffies), unconnected UDP sockets get one
// record per peer, and TCP byte counts are stream bytes (kflowd adds retransmitted and duplicate
// segments into SockTx/RxBytes; here they are only in SockTxBytesRetrans and the packet counts).
import type { SockDirection, SockRecord } from '../model/socket-record.js';
import type { KflowdFacts } from './context.js';
import { minValue, type JObject, type JValue } from './json.js';
import { infoKeys, procKeys } from './proc-keys.js';
import { seconds, secondsText } from './time.js';

/** ns between a direction's first and last packet since the last export */
export function spanNs(d: SockDirection): bigint {
  return d.tsFirst && d.ts > d.tsFirst ? d.ts - d.tsFirst : 0n;
}

/** ns since the socket was first seen (SockAge) */
export function ageNs(r: SockRecord): bigint {
  return r.hdr.ts > r.hdr.tsFirst ? r.hdr.ts - r.hdr.tsFirst : 0n;
}

function flagsObject(d: SockDirection): JObject {
  return new Map(d.flags);
}

/** Stream bytes received: tcp_sock.bytes_received advances with rcv_nxt, which counts a FIN as
 * one sequence number; never more than the payload the packets carried. */
export function tcpRxBytes(r: SockRecord): number {
  // combination names join FIN, SYN, RST, PSH, ACK, URG with '-': only FIN contains "FIN"
  const fin = r.rx.flags.some(([name]) => name.includes('FIN'));
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
  o.set('SockTxDuration', seconds(spanNs(d)));
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
  o.set('SockRxDuration', seconds(spanNs(d)));
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
  o.set('SockAge', seconds(ageNs(r)));
  for (const [k, v] of r.appKeys ?? []) o.set(k, v as JValue); // App, AppTx*, AppRx* (src/protocols/app.ts)
  return o;
}

type Parts = (string | number)[];
const qs = JSON.stringify;

/** kflowdSocketRecord()'s keys after Proc*, written without the Map: `, "Key": value` parts, byte-identical
 * (test/unit/kflowd-min.test.ts). A connection storm is two of these per connection. Every
 * value's type is fixed by SockRecord (numbers from the decoder are finite), so they are written
 * directly; the protocols stage's names and keys go through the generic writer. */
export function socketTailParts(r: SockRecord, f: KflowdFacts, p: Parts): void {
  if (r.family === 'AF_UNIX') {
    p.push(', "SockRole": ', qs(r.role), ', "SockAddress": ', qs(r.path), ', "SockFamily": ', qs(r.family));
  } else {
    p.push(', "SockProtocol": ', qs(r.protocol), ', "SockRole": ', qs(r.role), ', "SockState": ', qs(r.state),
      ', "SockFamily": ', qs(r.family), ', "SockLocalIP": ', qs(r.localIP), ', "SockLocalPort": ', r.localPort,
      ', "SockRemoteIP": ', qs(r.remoteIP), ', "SockRemotePort": ', r.remotePort);
    if (r.remoteNames) { p.push(', "SockRemoteNames": '); minValue(r.remoteNames, p); }
  }
  if (r.role === 'CLIENT') { txParts(r, f, p); rxParts(r, f, p); } else { rxParts(r, f, p); txParts(r, f, p); }
  p.push(', "SockAge": ', secondsText(ageNs(r)));
  for (const [k, v] of r.appKeys ?? []) { p.push(', ', qs(k), ': '); minValue(v as JValue, p); }
}

function flagsParts(d: SockDirection, p: Parts): void {
  p.push('{');
  for (let i = 0; i < d.flags.length; i++) {
    const [k, n] = d.flags[i]!;
    p.push(i ? ', ' : '', qs(k), ': ', n);
  }
  p.push('}');
}

function txParts(r: SockRecord, f: KflowdFacts, p: Parts): void {
  const d = r.tx;
  if (d.packets === 0) return;
  if (r.family === 'AF_UNIX') { p.push(', "SockTxBytes": ', d.bytes); return; }
  const tcp = r.protocol === 'TCP';
  p.push(', "SockTxInterface": ', qs(f.interfaces?.tx ?? interfaceFallback(d.ifindex)));
  if (tcp) p.push(', "SockTxDataPackets": ', d.dataPackets);
  p.push(', "SockTxPackets": ', d.packets);
  if (tcp) {
    p.push(', "SockTxPacketsRetrans": ', r.retransPackets, ', "SockTxPacketsDups": ', r.dups, ', "SockTxFlags": ');
    flagsParts(d, p);
  }
  p.push(', "SockTxDuration": ', secondsText(spanNs(d)), ', "SockTxBytes": ', tcp ? Math.max(0, d.bytes - r.retransBytes) : d.bytes);
  if (tcp) p.push(', "SockTxBytesAcked": ', r.bytesAcked, ', "SockTxBytesRetrans": ', r.retransBytes, ', "SockTxRTO": ', r.rtoMs);
}

function rxParts(r: SockRecord, f: KflowdFacts, p: Parts): void {
  const d = r.rx;
  if (d.packets === 0) return;
  if (r.family === 'AF_UNIX') { p.push(', "SockRxBytes": ', d.bytes); return; }
  const tcp = r.protocol === 'TCP';
  p.push(', "SockRxInterface": ', qs(f.interfaces?.rx ?? interfaceFallback(d.ifindex)));
  if (tcp) p.push(', "SockRxDataPackets": ', d.dataPackets);
  p.push(', "SockRxPackets": ', d.packets, ', "SockRxPacketsQueued": ', r.rxQueued, ', "SockRxPacketsDrop": ', r.drops);
  if (tcp) p.push(', "SockRxPacketsReorder": ', r.reorder);
  p.push(', "SockRxPacketsFrag": ', r.frags);
  if (tcp) {
    p.push(', "SockRxFlags": ');
    flagsParts(d, p);
  }
  p.push(', "SockRxDuration": ', secondsText(spanNs(d)), ', "SockRxBytes": ', tcp ? tcpRxBytes(r) : d.bytes, ', "SockRxTTL": ', r.rxTtl);
  if (tcp) p.push(', "SockRTT": ', secondsText(r.rttNs));
}
