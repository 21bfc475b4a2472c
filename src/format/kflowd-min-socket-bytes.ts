// A socket record's keys after Proc* in json-min, written as bytes (KflowdMinBytes.socket): the
// same keys, order and values as socketTailParts (kflowd-socket.ts), byte-identical
// (test/unit/kflowd-min-socket-bytes.test.ts). A connection storm is two of these per connection.
// The protocols stage's names and App keys are any JSON values: they go through the generic
// writer first (socketTailTexts), so the record's room is known before it is begun.
import type { SockDirection, SockRecord } from '../model/socket-record.js';
import type { KflowdFacts } from './context.js';
import { minValue, type JValue } from './json.js';
import { ageNs, interfaceFallback, spanNs, tcpRxBytes } from './kflowd-socket.js';
import { bytesOf as b, type LineBytes } from './line-bytes.js';

const q = JSON.stringify;

const K = {
  proto: b(', "SockProtocol": '), role: b(', "SockRole": '), state: b(', "SockState": '), family: b(', "SockFamily": '),
  lip: b(', "SockLocalIP": '), lport: b(', "SockLocalPort": '), rip: b(', "SockRemoteIP": '), rport: b(', "SockRemotePort": '),
  address: b(', "SockAddress": '), age: b(', "SockAge": '),
};
/** per direction, in kflowd's order */
const dirKeys = (x: 'Tx' | 'Rx') => ({
  bytes: b(`, "Sock${x}Bytes": `), iface: b(`, "Sock${x}Interface": `), data: b(`, "Sock${x}DataPackets": `),
  packets: b(`, "Sock${x}Packets": `), flags: b(`, "Sock${x}Flags": {`), duration: b(`, "Sock${x}Duration": `),
});
const TX = {
  ...dirKeys('Tx'), retrans: b(', "SockTxPacketsRetrans": '), dups: b(', "SockTxPacketsDups": '),
  acked: b(', "SockTxBytesAcked": '), bytesRetrans: b(', "SockTxBytesRetrans": '), rto: b(', "SockTxRTO": '),
};
const RX = {
  ...dirKeys('Rx'), queued: b(', "SockRxPacketsQueued": '), drop: b(', "SockRxPacketsDrop": '),
  reorder: b(', "SockRxPacketsReorder": '), frag: b(', "SockRxPacketsFrag": '), ttl: b(', "SockRxTTL": '), rtt: b(', "SockRTT": '),
};

/** `"SYN-ACK": ` by combination name (64 at most; names are the decoder's, ASCII) */
const flagKeys = new Map<string, Uint8Array>();
function flagKey(name: string): Uint8Array {
  let k = flagKeys.get(name);
  if (!k) { k = b(`${q(name)}: `); if (flagKeys.size < 256) flagKeys.set(name, k); }
  return k;
}
const COMMA = b(', ');

/** The generic parts of one socket record as JSON text, and the bytes the record may need. */
export interface SocketTailTexts { names: string; app: string; room: number }
const texts: SocketTailTexts = { names: '', app: '', room: 0 };
const parts: (string | number)[] = [];

/** Fills and returns one reused object, valid until the next call. */
export function socketTailTexts(r: SockRecord, f: KflowdFacts): SocketTailTexts {
  texts.names = texts.app = '';
  if (r.remoteNames && r.family !== 'AF_UNIX') {
    parts.length = 0;
    minValue(r.remoteNames, parts);
    texts.names = parts.join('');
  }
  if (r.appKeys?.length) {
    parts.length = 0;
    for (const [k, v] of r.appKeys) { parts.push(', ', q(k), ': '); minValue(v as JValue, parts); }
    texts.app = parts.join('');
  }
  // fixed text and numbers ~1.5 KB; strings at 6 bytes a character (escapes); UTF-8 text at 3
  texts.room = 2048 + 64 * 48 + 6 * (r.path.length + r.localIP.length + r.remoteIP.length + r.state.length +
    (f.interfaces?.tx.length ?? 0) + (f.interfaces?.rx.length ?? 0)) + 3 * (texts.names.length + texts.app.length) + 32;
  return texts;
}

function flags(w: LineBytes, key: Uint8Array, d: SockDirection): void {
  w.put(key);
  const fl = d.flags;
  for (let i = 0; i < fl.length; i++) {
    const [k, n] = fl[i]!;
    if (i) w.put(COMMA);
    w.put(flagKey(k));
    w.num(n);
  }
  w.buf[w.pos++] = 0x7d;
}

function tx(w: LineBytes, r: SockRecord, f: KflowdFacts): void {
  const d = r.tx;
  if (d.packets === 0) return;
  if (r.family === 'AF_UNIX') { w.put(TX.bytes); w.num(d.bytes); return; }
  const tcp = r.protocol === 'TCP';
  w.put(TX.iface); w.str(f.interfaces?.tx ?? interfaceFallback(d.ifindex));
  if (tcp) { w.put(TX.data); w.num(d.dataPackets); }
  w.put(TX.packets); w.num(d.packets);
  if (tcp) {
    w.put(TX.retrans); w.num(r.retransPackets); w.put(TX.dups); w.num(r.dups);
    flags(w, TX.flags, d);
  }
  w.put(TX.duration); w.dur(spanNs(d));
  w.put(TX.bytes); w.num(tcp ? Math.max(0, d.bytes - r.retransBytes) : d.bytes);
  if (tcp) { w.put(TX.acked); w.num(r.bytesAcked); w.put(TX.bytesRetrans); w.num(r.retransBytes); w.put(TX.rto); w.num(r.rtoMs); }
}

function rx(w: LineBytes, r: SockRecord, f: KflowdFacts): void {
  const d = r.rx;
  if (d.packets === 0) return;
  if (r.family === 'AF_UNIX') { w.put(RX.bytes); w.num(d.bytes); return; }
  const tcp = r.protocol === 'TCP';
  w.put(RX.iface); w.str(f.interfaces?.rx ?? interfaceFallback(d.ifindex));
  if (tcp) { w.put(RX.data); w.num(d.dataPackets); }
  w.put(RX.packets); w.num(d.packets); w.put(RX.queued); w.num(r.rxQueued); w.put(RX.drop); w.num(r.drops);
  if (tcp) { w.put(RX.reorder); w.num(r.reorder); }
  w.put(RX.frag); w.num(r.frags);
  if (tcp) flags(w, RX.flags, d);
  w.put(RX.duration); w.dur(spanNs(d));
  w.put(RX.bytes); w.num(tcp ? tcpRxBytes(r) : d.bytes);
  w.put(RX.ttl); w.num(r.rxTtl);
  if (tcp) { w.put(RX.rtt); w.dur(r.rttNs); }
}

/** Writes the keys after ProcAge's value; `t` from socketTailTexts for this record. */
export function socketTailBytes(w: LineBytes, r: SockRecord, f: KflowdFacts, t: SocketTailTexts): void {
  if (r.family === 'AF_UNIX') {
    w.put(K.role); w.str(r.role); w.put(K.address); w.str(r.path); w.put(K.family); w.str(r.family);
  } else {
    w.put(K.proto); w.str(r.protocol); w.put(K.role); w.str(r.role); w.put(K.state); w.str(r.state);
    w.put(K.family); w.str(r.family); w.put(K.lip); w.str(r.localIP); w.put(K.lport); w.num(r.localPort);
    w.put(K.rip); w.str(r.remoteIP); w.put(K.rport); w.num(r.remotePort);
    if (r.remoteNames) { w.ascii(', "SockRemoteNames": '); w.json(t.names); }
  }
  if (r.role === 'CLIENT') { tx(w, r, f); rx(w, r, f); } else { rx(w, r, f); tx(w, r, f); }
  w.put(K.age); w.dur(ageNs(r));
  if (t.app) w.json(t.app);
}
