// Payload records from the sensor stream (bpf/records_payload.h): fields, UDP peers, UNIX sender
// addresses, the counters record, and bounds (a record never reads past its size).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecords } from '../../src/sensor/decode.js';
import { PAYLOAD_RECORD, PAYLOAD_STATS_RECORD, REC_PAYLOAD, REC_PAYLOAD_STATS, REC_HDR } from '../../src/sensor/layout.js';
import { FrameError } from '../../src/sensor/frames.js';
import type { PayloadRecord, PayloadStatsRecord } from '../../src/model/payload-record.js';

const F = PAYLOAD_RECORD.fields;
const at = (k: string) => F[k]![0];

function rec(o: { app: number; transport: number; rx: boolean; family: number; raddr: number[]; rport: number; seq: number; wire: number; data: Buffer; capLen?: number }): Buffer {
  const size = at('data') + o.data.length;
  const b = Buffer.alloc((size + 7) & ~7);
  b.writeUInt16LE(REC_PAYLOAD, 0);
  b.writeUInt16LE(size, 2);
  b.writeUInt32LE(o.rx ? 1 : 0, REC_HDR.fields.flags![0]);
  b.writeBigUInt64LE(5_000n, REC_HDR.fields.ts![0]);
  b.writeBigUInt64LE(77n, at('cookie'));
  Buffer.from(o.raddr).copy(b, at('raddr'));
  b.writeUInt16LE(o.rport, at('rport'));
  b.writeUInt16LE(o.family, at('family'));
  b[at('app')] = o.app;
  b[at('transport')] = o.transport;
  b.writeUInt16LE(o.capLen ?? o.data.length, at('cap_len'));
  b.writeUInt32LE(o.wire, at('wire_len'));
  b.writeUInt32LE(o.seq, at('seq'));
  o.data.copy(b, at('data'));
  return b;
}

test('payload records: UDP peer, TCP sequence, UNIX sender address, counters', () => {
  const udp = rec({ app: 1, transport: 2, rx: true, family: 2, raddr: [127, 0, 0, 53], rport: 53, seq: 0, wire: 3, data: Buffer.from('abc') });
  const tcp = rec({ app: 2, transport: 1, rx: false, family: 10, raddr: [], rport: 0, seq: 0xfffffff0, wire: 5000, data: Buffer.from('GET /') });
  const unix = rec({ app: 3, transport: 3, rx: false, family: 1, raddr: [0x10, 0x20, 0, 0, 0, 0x88, 0xff, 0xff, 9, 0, 0, 0, 0, 0, 0, 0], rport: 0, seq: 0, wire: 2, data: Buffer.from('<1') });
  const st = Buffer.alloc(PAYLOAD_STATS_RECORD.size);
  st.writeUInt16LE(REC_PAYLOAD_STATS, 0);
  st.writeUInt16LE(PAYLOAD_STATS_RECORD.size, 2);
  for (let i = 0; i < 8; i++) st.writeBigUInt64LE(BigInt(i + 1), PAYLOAD_STATS_RECORD.fields.counters![0] + 8 * i);
  const body = Buffer.concat([udp, tcp, unix, st]);
  const [u, t, x, s] = decodeRecords(body) as [PayloadRecord, PayloadRecord, PayloadRecord, PayloadStatsRecord];
  // records keep no view of the frame: the live source reuses a frame's buffer (frames.ts reuseJoin)
  body.fill(0xee);
  assert.deepEqual({ ...u, hdr: undefined, bytes: Buffer.from(u.bytes).toString() }, {
    type: 'payload', hdr: undefined, ts: 5000n, cookie: 77n, app: 'DNS', transport: 'udp', rx: true, peerIP: '127.0.0.53', peerPort: 53,
    skAddr: 0n, seq: 0, wireLen: 3, bytes: 'abc',
  });
  assert.equal(t.app, 'HTTP');
  assert.equal(t.seq, 0xfffffff0);
  assert.equal(t.wireLen, 5000);
  assert.equal(t.peerIP, '');
  assert.equal(x.transport, 'unix');
  assert.equal(x.skAddr, 0xffff880000002010n);
  assert.equal(x.skIno, 9n, 'the sender socket inode (raddr[8..16])');
  assert.equal(u.skIno, undefined);
  assert.deepEqual(s.counters, { captured: 1, drop_ringbuf: 2, drop_flow_cap: 3, drop_flow_map: 4, drop_handshake: 5, skip_retrans: 6, drop_read: 7, unix_reader: 8 });
});

test('payload records: a length past the record is a frame error; an unknown app is skipped', () => {
  const bad = rec({ app: 1, transport: 2, rx: true, family: 2, raddr: [], rport: 1, seq: 0, wire: 9, data: Buffer.from('abc'), capLen: 300 });
  assert.throws(() => decodeRecords(bad), FrameError);
  const unknown = rec({ app: 9, transport: 2, rx: true, family: 2, raddr: [], rport: 1, seq: 0, wire: 3, data: Buffer.from('abc') });
  assert.deepEqual(decodeRecords(unknown), []);
});
