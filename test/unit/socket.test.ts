// Socket decoder and kflowd formatter on synthetic records (no root, no kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeRecords } from '../../src/sensor/decode.js';
import { ipv6Text, tcpFlagName } from '../../src/sensor/decode-socket.js';
import { REC_HDR, RecType, SF, SOCK_DIR, SOCK_RECORD } from '../../src/sensor/layout.js';
import { kflowdSocketRecord } from '../../src/format/kflowd-socket.js';
import { SOCKET_LEGEND } from '../../src/format/legend-socket.js';
import { toMinJson } from '../../src/format/json.js';
import type { KflowdFacts } from '../../src/format/context.js';
import { Interfaces } from '../../src/enrich/interfaces.js';
import type { SockRecord } from '../../src/model/socket-record.js';
import { scratchDir } from '../lib/temp-dir.js';

// formatters read what enrichment attached; no names known here (as with empty /etc files)
const ctx: KflowdFacts = {
  host: { hostName: 'h', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_700_000_000_000_000_000n, startBootNs: 1_000_000_000n },
  users: { user: '', group: '' },
};

const R = SOCK_RECORD.fields;
const D = SOCK_DIR.fields;
const H = REC_HDR.fields;
const at = (f: Record<string, readonly [number, number]>, k: string) => f[k]![0];

interface Dir { tsFirst: bigint; ts: bigint; packets: number; data: number; bytes: number; ifindex: number; flags?: [number, number][]; order?: number[] }

function putDir(b: Buffer, base: number, d: Dir): void {
  b.writeBigUInt64LE(d.tsFirst, base + at(D, 'ts_first'));
  b.writeBigUInt64LE(d.ts, base + at(D, 'ts'));
  b.writeBigUInt64LE(BigInt(d.packets), base + at(D, 'packets'));
  b.writeBigUInt64LE(BigInt(d.data), base + at(D, 'data_packets'));
  b.writeBigUInt64LE(BigInt(d.bytes), base + at(D, 'bytes'));
  b.writeUInt32LE(d.ifindex, base + at(D, 'ifindex'));
  for (const [c, n] of d.flags ?? []) b.writeBigUInt64LE(BigInt(n), base + at(D, 'flags') + 8 * c);
  const order = d.order ?? (d.flags ?? []).map(([c]) => c);
  order.forEach((c, i) => { b[base + at(D, 'flag_order') + i] = c; });
  b.writeBigUInt64LE(BigInt(order.length), base + at(D, 'nflags'));
}

interface Spec {
  flags: number; family: number; protocol: number; role: number; state: number; sotype: number;
  laddr?: number[]; raddr?: number[]; lport?: number; rport?: number; path?: string;
  tx: Dir; rx: Dir; u64?: Record<string, number | bigint>;
}

function record(s: Spec): Buffer {
  const b = Buffer.alloc(SOCK_RECORD.size);
  b.writeUInt16LE(RecType.Sock, 0);
  b.writeUInt16LE(SOCK_RECORD.size, 2);
  b.writeUInt32LE(s.flags, at(H, 'flags'));
  b.writeUInt32LE(4242, at(H, 'pid'));
  b.writeUInt32LE(4243, at(H, 'tid'));
  b.writeUInt32LE(1, at(H, 'ppid'));
  b.writeBigUInt64LE(2_000_000_000n, at(H, 'ts_first'));
  b.writeBigUInt64LE(2_500_000_000n, at(H, 'ts'));
  b.writeBigUInt64LE(1_500_000_000n, at(H, 'proc_start'));
  b.write('curl', at(H, 'comm'));
  b.write('curl', at(H, 'exe'));
  b.write('bash', at(H, 'parent_exe'));
  b.writeUInt16LE(s.family, at(R, 'family'));
  b.writeUInt16LE(s.protocol, at(R, 'protocol'));
  b[at(R, 'role')] = s.role;
  b[at(R, 'state')] = s.state;
  b[at(R, 'sotype')] = s.sotype;
  b.writeUInt16LE(s.lport ?? 0, at(R, 'lport'));
  b.writeUInt16LE(s.rport ?? 0, at(R, 'rport'));
  Buffer.from(s.laddr ?? []).copy(b, at(R, 'laddr'));
  Buffer.from(s.raddr ?? []).copy(b, at(R, 'raddr'));
  if (s.path !== undefined) {
    const p = Buffer.from(s.path.startsWith('@') ? '\0' + s.path.slice(1) : s.path + '\0');
    p.copy(b, at(R, 'path'));
    b.writeUInt16LE(p.length, at(R, 'path_len'));
  }
  putDir(b, at(R, 'tx'), s.tx);
  putDir(b, at(R, 'rx'), s.rx);
  for (const [k, v] of Object.entries(s.u64 ?? {})) b.writeBigUInt64LE(BigInt(v), at(R, k));
  return b;
}

function one(b: Buffer): SockRecord {
  const recs = decodeRecords(b);
  assert.equal(recs.length, 1);
  const r = recs[0]!;
  assert.equal(r.type, 'sock');
  return r as SockRecord;
}

const sockPart = (o: Map<string, unknown>) => new Map([...o].filter(([k]) => k.startsWith('Sock')));

const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01, RST = 0x04;

test('TCP client record: kflowd keys, order and formats; Tx before Rx', () => {
  const r = one(record({
    flags: SF.CLOSED | SF.FINAL, family: 2, protocol: 6, role: 0, state: 7, sotype: 1,
    laddr: [192, 168, 1, 5], raddr: [15, 197, 142, 173], lport: 43302, rport: 80,
    tx: { tsFirst: 2_000_000_000n, ts: 2_057_274_799n, packets: 6, data: 1, bytes: 72, ifindex: 0,
      flags: [[SYN, 1], [ACK, 3], [PSH | ACK, 1], [FIN | ACK, 1]] },
    rx: { tsFirst: 2_000_077_400n, ts: 2_057_274_799n, packets: 4, data: 1, bytes: 342, ifindex: 0,
      flags: [[SYN | ACK, 1], [ACK, 1], [PSH | ACK, 1], [FIN | ACK, 1]] },
    u64: { bytes_acked: 74, rto_us: 204000, rtt_ns: 450625, ttl_sum: 185 * 4, ttl_count: 4, bytes_received: 343, drops: 0 },
  }));
  assert.equal(r.reason, 'close');
  const o = kflowdSocketRecord(r, 7, ctx);
  assert.equal(o.get('InfoMonitor'), 'socket');
  assert.equal(o.get('ProcPID'), 4242);
  assert.equal(toMinJson(sockPart(o) as never),
    '{"SockProtocol": "TCP", "SockRole": "CLIENT", "SockState": "TCP_CLOSE", "SockFamily": "AF_INET", ' +
    '"SockLocalIP": "192.168.1.5", "SockLocalPort": 43302, "SockRemoteIP": "15.197.142.173", "SockRemotePort": 80, ' +
    '"SockTxInterface": "", "SockTxDataPackets": 1, "SockTxPackets": 6, "SockTxPacketsRetrans": 0, "SockTxPacketsDups": 0, ' +
    '"SockTxFlags": {"SYN": 1, "ACK": 3, "PSH-ACK": 1, "FIN-ACK": 1}, "SockTxDuration": 0.057274799, "SockTxBytes": 72, ' +
    '"SockTxBytesAcked": 74, "SockTxBytesRetrans": 0, "SockTxRTO": 204, ' +
    '"SockRxInterface": "", "SockRxDataPackets": 1, "SockRxPackets": 4, "SockRxPacketsQueued": 0, "SockRxPacketsDrop": 0, ' +
    '"SockRxPacketsReorder": 0, "SockRxPacketsFrag": 0, "SockRxFlags": {"SYN-ACK": 1, "ACK": 1, "PSH-ACK": 1, "FIN-ACK": 1}, ' +
    '"SockRxDuration": 0.057197399, "SockRxBytes": 342, "SockRxTTL": 185, "SockRTT": 0.000450625, "SockAge": 0.500000000}');
});

test('TCP server: Rx before Tx; retransmitted bytes are not stream bytes; flags order falls back to counts', () => {
  const r = one(record({
    flags: SF.ACTIVE, family: 10, protocol: 6, role: 1, state: 1, sotype: 1,
    laddr: [...Array(15).fill(0), 1], raddr: [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 5], lport: 443, rport: 50000,
    // RST-ACK was counted but is missing from the order list (an export raced that packet)
    tx: { tsFirst: 2_000_000_000n, ts: 2_100_000_000n, packets: 5, data: 3, bytes: 3000, ifindex: 0,
      flags: [[SYN | ACK, 1], [PSH | ACK, 3], [RST | ACK, 1]], order: [SYN | ACK, PSH | ACK] },
    rx: { tsFirst: 2_000_000_000n, ts: 2_000_000_000n, packets: 2, data: 0, bytes: 0, ifindex: 0, flags: [[SYN, 1], [ACK, 1]] },
    u64: { retrans_packets: 1, retrans_bytes: 1000, bytes_received: 0 },
  }));
  assert.equal(r.reason, 'active');
  assert.equal(r.localIP, '::1');
  assert.equal(r.remoteIP, '2001:db8::5');
  const o = kflowdSocketRecord(r, 1, ctx);
  const keys = [...o.keys()].filter((k) => k.startsWith('Sock'));
  assert.ok(keys.indexOf('SockRxPackets') < keys.indexOf('SockTxPackets'));
  assert.equal(o.get('SockState'), 'TCP_ESTABLISHED');
  assert.equal(o.get('SockTxBytes'), 2000);
  assert.equal(o.get('SockTxBytesRetrans'), 1000);
  assert.deepEqual([...(o.get('SockTxFlags') as Map<string, number>)], [['SYN-ACK', 1], ['PSH-ACK', 3], ['RST-ACK', 1]]);
  assert.equal(toMinJson(o.get('SockRxDuration')!), '0.000000000');
  assert.equal(o.get('SockTxPacketsRetrans'), 1);
});

test('TCP rx stream bytes: the FIN sequence number is not a byte', () => {
  const r = one(record({
    flags: SF.CLOSED, family: 2, protocol: 6, role: 1, state: 7, sotype: 1,
    tx: { tsFirst: 0n, ts: 0n, packets: 0, data: 0, bytes: 0, ifindex: 0 },
    rx: { tsFirst: 1n, ts: 2n, packets: 3, data: 1, bytes: 100, ifindex: 0, flags: [[PSH | ACK, 1], [FIN | ACK, 1], [ACK, 1]] },
    u64: { bytes_received: 101 },
  }));
  const o = kflowdSocketRecord(r, 1, ctx);
  assert.equal(o.get('SockRxBytes'), 100);
  assert.ok(!o.has('SockTxPackets'), 'no Tx block without sent packets');
});

test('UDP per-peer record: TCP-only keys omitted, interface resolved', () => {
  const root = scratchDir('fn-net-');
  mkdirSync(path.join(root, 'enp5s0'));
  writeFileSync(path.join(root, 'enp5s0/ifindex'), '4\n');
  writeFileSync(path.join(root, 'enp5s0/address'), '0c:c4:7a:88:84:c2\n');
  const ifs = new Interfaces(root, 0);
  assert.equal(ifs.describe(4), '4:enp5s0:0c:c4:7a:88:84:c2');
  assert.equal(ifs.describe(0), '');
  assert.equal(ifs.describe(99), '99::');
  const r = one(record({
    flags: SF.IDLE | SF.PER_PEER, family: 2, protocol: 17, role: 0, state: 7, sotype: 2,
    laddr: [38, 110, 1, 24], raddr: [8, 8, 4, 4], lport: 56664, rport: 53,
    tx: { tsFirst: 10n, ts: 48_500n, packets: 2, data: 2, bytes: 52, ifindex: 0, flags: [[ACK, 9]] },
    rx: { tsFirst: 100n, ts: 200n, packets: 2, data: 2, bytes: 155, ifindex: 0 },
    u64: { ttl_sum: 250, ttl_count: 2, rx_queued: 0 },
  }));
  assert.equal(r.perPeer, true);
  assert.deepEqual(r.tx.flags, [], 'UDP has no flag histogram');
  const o = kflowdSocketRecord(r, 1, ctx);
  assert.deepEqual([...o.keys()].filter((k) => k.startsWith('Sock')), [
    'SockProtocol', 'SockRole', 'SockState', 'SockFamily', 'SockLocalIP', 'SockLocalPort', 'SockRemoteIP', 'SockRemotePort',
    'SockTxInterface', 'SockTxPackets', 'SockTxDuration', 'SockTxBytes',
    'SockRxInterface', 'SockRxPackets', 'SockRxPacketsQueued', 'SockRxPacketsDrop', 'SockRxPacketsFrag', 'SockRxDuration',
    'SockRxBytes', 'SockRxTTL', 'SockAge',
  ]);
  assert.equal(o.get('SockState'), 'UDP_CLOSE');
  assert.equal(o.get('SockRxTTL'), 125);
  assert.equal(toMinJson(o.get('SockTxDuration')!), '0.000048490');
});

test('UNIX records: SockAddress (pathname and abstract), bytes only', () => {
  const mk = (p: string, role: number) => one(record({
    flags: SF.CLOSED, family: 1, protocol: 0, role, state: 0, sotype: 2, path: p,
    tx: { tsFirst: 1n, ts: 1n, packets: 1, data: 1, bytes: 192, ifindex: 0 },
    rx: { tsFirst: 0n, ts: 0n, packets: 0, data: 0, bytes: 0, ifindex: 0 },
  }));
  const o = kflowdSocketRecord(mk('/run/systemd/journal/dev-log', 0), 1, ctx);
  assert.equal(toMinJson(sockPart(o) as never),
    '{"SockRole": "CLIENT", "SockAddress": "/run/systemd/journal/dev-log", "SockFamily": "AF_UNIX", "SockTxBytes": 192, "SockAge": 0.500000000}');
  assert.equal(mk('@abstract', 1).path, '@abstract');
  // the socket inode in raddr[8..16] (the UNIX syslog payload join); IP records have none
  const withIno = one(record({
    flags: SF.CLOSED, family: 1, protocol: 0, role: 0, state: 0, sotype: 2, path: '/dev/log', raddr: [...Array(8).fill(0), 0x39, 0x30, 0, 0, 0, 0, 0, 0],
    tx: { tsFirst: 1n, ts: 1n, packets: 1, data: 1, bytes: 10, ifindex: 0 }, rx: { tsFirst: 0n, ts: 0n, packets: 0, data: 0, bytes: 0, ifindex: 0 },
  }));
  assert.equal(withIno.skIno, 12345n);
  assert.equal(withIno.remoteIP, '');
});

test('flag names, IPv6 text', () => {
  assert.equal(tcpFlagName(0x12), 'SYN-ACK');
  assert.equal(tcpFlagName(0x19), 'FIN-PSH-ACK');
  assert.equal(tcpFlagName(0x14), 'RST-ACK');
  assert.equal(tcpFlagName(0x20), 'URG');
  const v6 = (s: number[]) => ipv6Text(Uint8Array.from(s));
  assert.equal(v6([...Array(16).fill(0)]), '::');
  assert.equal(v6([...Array(10).fill(0), 0xff, 0xff, 127, 0, 0, 1]), '::ffff:127.0.0.1');
  assert.equal(v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), '2001:db8:0:1::1');
  assert.equal(v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), '2001:db8::1:0:0:1');
});

test('every socket key the formatter writes has a legend entry', () => {
  const legend = new Set(SOCKET_LEGEND.map(([k]) => k));
  const all = one(record({
    flags: SF.CLOSED, family: 2, protocol: 6, role: 0, state: 7, sotype: 1,
    tx: { tsFirst: 1n, ts: 2n, packets: 1, data: 0, bytes: 0, ifindex: 0, flags: [[SYN, 1]] },
    rx: { tsFirst: 1n, ts: 2n, packets: 1, data: 0, bytes: 0, ifindex: 0, flags: [[RST | ACK, 1]] },
  }));
  const unix = one(record({
    flags: 0, family: 1, protocol: 0, role: 0, state: 0, sotype: 1, path: '/x',
    tx: { tsFirst: 0n, ts: 0n, packets: 0, data: 0, bytes: 0, ifindex: 0 },
    rx: { tsFirst: 0n, ts: 0n, packets: 0, data: 0, bytes: 0, ifindex: 0 },
  }));
  for (const r of [all, unix]) {
    for (const k of kflowdSocketRecord(r, 1, ctx).keys()) if (k.startsWith('Sock')) assert.ok(legend.has(k), `legend lacks ${k}`);
  }
  assert.ok(SOCKET_LEGEND.find(([k]) => k === 'SockTxRTO')![1].includes('milliseconds'));
});

test('a socket record shorter than the struct is rejected', () => {
  const b = record({
    flags: 0, family: 2, protocol: 6, role: 0, state: 1, sotype: 1,
    tx: { tsFirst: 0n, ts: 0n, packets: 0, data: 0, bytes: 0, ifindex: 0 },
    rx: { tsFirst: 0n, ts: 0n, packets: 0, data: 0, bytes: 0, ifindex: 0 },
  });
  b.writeUInt16LE(REC_HDR.size + 8, 2);
  assert.throws(() => decodeRecords(b.subarray(0, REC_HDR.size + 8)), /socket record too short/);
});
