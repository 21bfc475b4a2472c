// DNS decoder: kflowd's shapes for queries and responses of every common type, more than 8
// answers, TCP framing, exceptions; and a fuzz run (no input throws, every result is a message
// object or kflowd's exception).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { dnsJson, parseDns, splitTcpDns, quoteCharString } from '../../src/protocols/dns.js';
import { appKeys, type AppCapture } from '../../src/protocols/app.js';
import { toMinJson } from '../../src/format/json.js';
import { Rng, mutateBytes, randomBytes } from './fuzz-bytes.js';

const RD = 1 << 8;
const query = (id: number, type: string, name: string) =>
  dnsPacket.encode({ type: 'query', id, flags: RD, questions: [{ type, name }] });

const response = (id: number, answers: unknown[], rcode = 0) =>
  dnsPacket.encode({
    type: 'response', id, flags: RD | (1 << 7) | (1 << 10) | rcode,
    questions: [{ type: 'A', name: 'example.test' }], answers,
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 }],
  });

const json = (b: Uint8Array) => {
  const m = parseDns(b);
  assert.ok(m, 'decodes');
  return JSON.parse(toMinJson(dnsJson(m)));
};

describe('dns decoder', () => {
  it('query: id, opcode, flags, question', () => {
    assert.deepEqual(json(query(56864, 'A', 'kflow.co')), {
      TransactionId: 56864, OpCode: 'QUERY', Flags: ['RD'], ResourceRecords: [['A', 'kflow.co']],
    });
    assert.deepEqual(json(query(1, 'SRV', '_sip._tcp.example.test')).ResourceRecords, [['SRV', '_sip._tcp.example.test']]);
  });

  it('response: every type in presentation form, no 8-answer cap', () => {
    const answers = [
      { type: 'A', name: 'example.test', ttl: 600, data: '192.0.2.1' },
      { type: 'AAAA', name: 'example.test', ttl: 600, data: '2001:db8::1' },
      { type: 'CNAME', name: 'www.example.test', ttl: 60, data: 'example.test' },
      { type: 'MX', name: 'example.test', ttl: 60, data: { preference: 10, exchange: 'mail.example.test' } },
      { type: 'TXT', name: 'example.test', ttl: 60, data: ['v=spf1 -all', 'say "hi"\\'] },
      { type: 'PTR', name: '1.2.0.192.in-addr.arpa', ttl: 60, data: 'host.example.test' },
      { type: 'SRV', name: '_sip._tcp.example.test', ttl: 60, data: { priority: 1, weight: 2, port: 5060, target: 'sip.example.test' } },
      { type: 'SOA', name: 'example.test', ttl: 60, data: { mname: 'ns.example.test', rname: 'admin.example.test', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 } },
      { type: 'CAA', name: 'example.test', ttl: 60, data: { flags: 0, tag: 'issue', value: 'ca.test' } },
      { type: 'NS', name: 'example.test', ttl: 60, data: 'ns.example.test' },
      { type: 'UNKNOWN_4660', name: 'example.test', ttl: 5, data: Buffer.from([1, 2, 0xab]) },
    ];
    const o = json(response(52515, answers));
    assert.equal(o.TransactionId, 52515);
    assert.equal(o.ResponseCode, 'NOERROR');
    assert.deepEqual(o.Flags, ['QR', 'AA', 'RD', 'RA']);
    assert.equal(o.AnswerCount, 11);
    assert.deepEqual(o.ResourceRecords, [
      ['A', 'example.test', 600, 'IN', '192.0.2.1'],
      ['AAAA', 'example.test', 600, 'IN', '2001:db8::1'],
      ['CNAME', 'www.example.test', 60, 'IN', 'example.test'],
      ['MX', 'example.test', 60, 'IN', '10 mail.example.test'],
      ['TXT', 'example.test', 60, 'IN', '"v=spf1 -all" "say \\"hi\\"\\\\"'],
      ['PTR', '1.2.0.192.in-addr.arpa', 60, 'IN', 'host.example.test'],
      ['SRV', '_sip._tcp.example.test', 60, 'IN', '1 2 5060 sip.example.test'],
      ['SOA', 'example.test', 60, 'IN', 'ns.example.test admin.example.test 7 1 2 3 4'],
      ['CAA', 'example.test', 60, 'IN', '0 issue "ca.test"'],
      ['NS', 'example.test', 60, 'IN', 'ns.example.test'],
      ['4660', 'example.test', 5, 'IN', '\\# 3 0102AB'],
    ]);
  });

  it('NXDOMAIN and the other rcodes by name (FORMERROR as kflowd spells it)', () => {
    assert.equal(json(response(9, [], 3)).ResponseCode, 'NXDOMAIN');
    assert.equal(json(response(9, [], 1)).ResponseCode, 'FORMERROR');
    assert.equal(json(response(9, [], 5)).ResponseCode, 'REFUSED');
    assert.deepEqual(json(response(9, [], 3)).ResourceRecords, []);
  });

  it('20 A answers are all listed', () => {
    const answers = Array.from({ length: 20 }, (_, i) => ({ type: 'A', name: 'many.test', ttl: 1, data: `10.0.0.${i}` }));
    const o = json(response(1, answers));
    assert.equal(o.ResourceRecords.length, 20);
    assert.deepEqual(o.ResourceRecords[19], ['A', 'many.test', 1, 'IN', '10.0.0.19']);
  });

  it('a response cut inside the additional section still shows its answers', () => {
    const b = response(3, [{ type: 'A', name: 'x.test', ttl: 1, data: '10.1.1.1' }]);
    assert.deepEqual(json(b.subarray(0, b.length - 3)).ResourceRecords, [['A', 'x.test', 1, 'IN', '10.1.1.1']]);
    assert.equal(parseDns(b.subarray(0, 40)), undefined);
    assert.equal(parseDns(Buffer.from('GET / HTTP/1.1\r\n')), undefined);
  });

  it('bad rdata lengths fall back to the generic form', () => {
    // an A record with a 3-byte rdata
    const b = response(4, [{ type: 'UNKNOWN_1', name: 'x.test', ttl: 1, data: Buffer.from([1, 2, 3]) }]);
    assert.deepEqual(json(b).ResourceRecords, [['A', 'x.test', 1, 'IN', '\\# 3 010203']]);
  });

  it('TCP: length-prefixed messages, split across segments, incomplete tail', () => {
    const a = dnsPacket.streamEncode({ type: 'query', id: 7, flags: RD, questions: [{ type: 'MX', name: 'a.test' }] });
    const b = dnsPacket.streamEncode({ type: 'query', id: 8, flags: RD, questions: [{ type: 'TXT', name: 'b.test' }] });
    const s = Buffer.concat([a, b, b.subarray(0, 5)]);
    const { messages, incomplete } = splitTcpDns(s);
    assert.deepEqual(messages.map((m) => m.at), [0, a.length]);
    assert.equal(incomplete, 5);
    // the second message spans two segments
    const cut = a.length + 4;
    const caps: AppCapture[] = [
      { ts: 1000n, rx: false, seq: 100, wireLen: cut, bytes: s.subarray(0, cut) },
      { ts: 2000n, rx: false, seq: 100 + cut, wireLen: a.length + b.length - cut, bytes: s.subarray(cut, a.length + b.length) },
    ];
    const keys = appKeys('DNS', 'tcp', caps, 500n);
    assert.equal(toMinJson(new Map(keys)), '{"App": "DNS", "AppTxDns": [' +
      '{"_Timestamp": 0.000000500, "TransactionId": 7, "OpCode": "QUERY", "Flags": ["RD"], "ResourceRecords": [["MX", "a.test"]]}, ' +
      '{"_Timestamp": 0.000000500, "TransactionId": 8, "OpCode": "QUERY", "Flags": ["RD"], "ResourceRecords": [["TXT", "b.test"]]}]}');
    // a gap in sequence space: the second segment is not joined, its message is an exception
    caps[1] = { ...caps[1]!, seq: caps[1]!.seq + 1 };
    const gap = JSON.parse(toMinJson(new Map(appKeys('DNS', 'tcp', caps, 500n))));
    assert.deepEqual(gap.AppTxDns.slice(1), [{ _Exception: 'DNS Message Decoder' }, { _Exception: 'DNS Message Decoder' }]);
  });

  it('UDP record: tx then rx, _Timestamp relative to the first event, exception object', () => {
    const caps: AppCapture[] = [
      { ts: 2_000_000_000n, rx: true, seq: 0, wireLen: 4, bytes: Buffer.from([1, 2, 3, 4]) },
      { ts: 1_000_001_177n, rx: false, seq: 0, wireLen: 26, bytes: query(56864, 'A', 'kflow.co') },
    ];
    assert.equal(toMinJson(new Map(appKeys('DNS', 'udp', caps, 1_000_000_000n))),
      '{"App": "DNS", "AppTxDns": [{"_Timestamp": 0.000001177, "TransactionId": 56864, "OpCode": "QUERY", "Flags": ["RD"], ' +
      '"ResourceRecords": [["A", "kflow.co"]]}], "AppRxDns": [{"_Exception": "DNS Message Decoder"}]}');
  });

  it('character strings are quoted and escaped', () => {
    assert.equal(quoteCharString(Buffer.from([0x61, 0x22, 0x5c, 0x00, 0xff])), '"a\\"\\\\\\000\\255"');
  });

  it('fuzz: 20,000 mutated and random inputs never throw', () => {
    const seeds = [
      query(1, 'A', 'a.test'),
      response(2, [{ type: 'MX', name: 'x.test', ttl: 1, data: { preference: 1, exchange: 'm.x.test' } },
        { type: 'SRV', name: 's.x.test', ttl: 1, data: { priority: 1, weight: 1, port: 1, target: 'x.test' } },
        { type: 'TXT', name: 'x.test', ttl: 1, data: ['abc'] }, { type: 'SOA', name: 'x.test', ttl: 1, data: { mname: 'a', rname: 'b', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 } }]),
      response(3, [{ type: 'AAAA', name: 'x.test', ttl: 1, data: '::1' }, { type: 'CNAME', name: 'y.test', ttl: 1, data: 'x.test' }]),
    ];
    const rng = new Rng(1414);
    for (let i = 0; i < 20000; i++) {
      const input = i % 10 === 0 ? randomBytes(rng, 64) : mutateBytes(rng, rng.pick(seeds));
      try {
        const m = parseDns(input);
        if (m) {
          const o = dnsJson(m);
          assert.equal(typeof o.get('TransactionId'), 'number');
          toMinJson(o);
        }
        const tcp = Buffer.concat([Buffer.from([input.length >> 8, input.length & 0xff]), input]);
        appKeys('DNS', 'tcp', [{ ts: 1n, rx: true, seq: 0, wireLen: tcp.length, bytes: tcp }], 0n);
      } catch (e) {
        assert.fail(`case ${i}: ${(e as Error).stack} on ${input.toString('hex')}`);
      }
    }
  });
});
