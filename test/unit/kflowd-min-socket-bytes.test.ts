// The byte writer of json-min socket records (two per connection in a connection storm) is
// byte-identical to the string writer, which test/unit/kflowd-min.test.ts ties to the reference
// formatter: TCP, UDP and UNIX, IPv4 and IPv6, flags in any order and count, counters beyond 2^53,
// stamps beyond Number's exact range, odd strings in paths, interfaces, DNS names and App keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecords } from '../../src/sensor/decode.js';
import type { SockRecord } from '../../src/model/socket-record.js';
import { KflowdMinWriter } from '../../src/format/kflowd-min.js';
import { KflowdMinBytes } from '../../src/format/kflowd-min-bytes.js';
import { tcpFlagName } from '../../src/sensor/decode-socket.js';
import type { KflowdFacts } from '../../src/format/context.js';
import { sockRecord } from './stream-builder.js';
import { Rng } from '../policy/fuzz-lib.js';

const host = { hostName: 'h"x', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_712_244_873_123_456_789n, startBootNs: 1_000_000_000n };
const odd = ['/run/a"b.sock', '@abstract', '', 'ctl\u0001x', 'é日本', '\ud800lone', 'back\\slash', 'x'.repeat(107)];
const big = (rng: Rng, n: number): number => (rng.int(30) === 0 ? 2 ** 53 + 2 * rng.int(1000) : rng.int(40) === 0 ? 2 ** 31 + rng.int(1e9) : rng.int(n));

test('json-min socket byte writer equals the string writer on 20,000 random socket records', () => {
  const rng = new Rng(11);
  const w = new KflowdMinWriter();
  const bw = new KflowdMinBytes();
  const seen = { tcp: 0, udp: 0, unix: 0, v6: 0, names: 0, app: 0, flags: 0 };
  for (let i = 0; i < 20_000; i++) {
    const combos = (): [number, number][] => Array.from({ length: rng.int(7) }, () => [rng.int(64), 1 + rng.int(5)]);
    const buf = sockRecord({
      pid: 100 + rng.int(20), tid: 100 + rng.int(40), uid: rng.int(3), gid: rng.int(3), exe: rng.pick(['redis-server', 'curl', 'x"y']),
      comm: rng.pick(['redis', 'curl', '']), parentExe: rng.pick(['sshd', 'init']), procStart: BigInt(rng.int(900_000_000)),
      tsFirst: BigInt(rng.int(1_000_000_000)) * (rng.int(10) === 0 ? 0n : 1n),
      ts: BigInt(1_000_000_000 + rng.int(2_000_000_000)) * (rng.int(50) === 0 ? 10_000_000n : 1n),
      protocol: rng.pick([6, 17]), laddr: [127, 0, 0, 1], raddr: [10, 0, rng.int(255), 1], lport: rng.int(65536), rport: rng.int(65536),
      role: rng.int(2), state: rng.int(14), txBytes: rng.int(4) ? big(rng, 10_000) : 0, rxBytes: rng.int(3) ? big(rng, 10_000) : 0,
      ...(rng.int(3) ? { txFlags: combos(), rxFlags: combos() } : {}),
    });
    const r = decodeRecords(buf)[0] as SockRecord;
    assert.equal(r.type, 'sock');
    // fields the stream builder does not set, as the decoder could give them
    r.retransPackets = big(rng, 5); r.retransBytes = big(rng, 50); r.dups = rng.int(3); r.bytesAcked = big(rng, 1e6);
    r.reorder = rng.int(3); r.drops = big(rng, 3); r.frags = rng.int(9); r.rxTtl = rng.pick([0, 64, 255]); r.rxQueued = big(rng, 100);
    r.rtoMs = rng.pick([0, 204, 2 ** 40]); r.bytesReceived = big(rng, 20_000);
    r.rttNs = rng.int(20) === 0 ? 2n ** 63n + BigInt(rng.int(1e6)) : BigInt(rng.int(1e9));
    r.tx.ifindex = rng.int(4); r.rx.ifindex = rng.int(4);
    for (const d of [r.tx, r.rx]) {
      // spans: none (no first packet), backwards, beyond 2^53 ns, ordinary
      if (rng.int(3) === 0) d.tsFirst = rng.pick([0n, 5n]);
      if (rng.int(3) === 0) d.ts = rng.pick([3n, 2n ** 60n, d.tsFirst + BigInt(rng.int(1e10))]);
    }
    if (rng.int(8) === 0) r.rx.flags = [[tcpFlagName(rng.int(64)), rng.int(3)], ['made"up', 2 ** 53 + 2]];
    if (rng.int(3) === 0) { r.remoteNames = rng.pick([[], ['example.org'], ['a"b', 'é.example', '\ud800']]); seen.names++; }
    if (rng.int(3) === 0) {
      r.appKeys = [['App', 'HTTP'], ['AppTxMethod', rng.pick(odd)], ['AppTxCount', 3], ['AppRxDns', [{ q: 'x', a: [1, 'b"'] }]]];
      seen.app++;
    }
    if (rng.int(6) === 0) {
      Object.assign(r, { family: 'AF_UNIX', protocol: '', state: '', localIP: '', remoteIP: '', path: rng.pick(odd) });
      seen.unix++;
    } else if (rng.int(5) === 0) {
      Object.assign(r, { family: 'AF_INET6', localIP: '::1', remoteIP: rng.pick(['fe80::1', '::ffff:10.0.0.1']) });
      seen.v6++;
    }
    if (r.protocol === 'TCP') seen.tcp++; else if (r.protocol === 'UDP') seen.udp++;
    if (r.tx.flags.length) seen.flags++;
    const facts: KflowdFacts = rng.int(5) === 0 ? { host } : {
      host: rng.int(2) ? host : { ...host, token: 'tok"en' },
      users: { user: rng.pick(['root', 'dirk', '']), group: rng.pick(['g', 'é']), fileUser: 'u', fileGroup: '' },
      ...(rng.int(2) ? { interfaces: { tx: '1:lo:00:00:00:00:00:00', rx: rng.pick(['2:eth"0:', '', '3:é:']) } } : {}),
    };
    const seq = rng.int(20) === 0 ? 2 ** 53 + 2 : 1 + rng.int(1e6);
    const want = w.record(r, seq, facts)!;
    const got = bw.socket(r, seq, facts);
    assert.equal(Buffer.from(got).toString('utf8'), want, `record ${i}`);
    assert.equal(new Uint8Array(got.buffer, got.byteOffset + got.length, 1)[0], 0x0a, 'a newline follows the record in the slab');
    JSON.parse(Buffer.from(got).toString('utf8'));
  }
  for (const [k, n] of Object.entries(seen)) assert.ok(n > 1000, `${k}: ${n} records`);
});

test('socket records written earlier keep their bytes while the writer fills new slabs', () => {
  const bw = new KflowdMinBytes();
  const facts: KflowdFacts = { host, interfaces: { tx: `1:${'l'.repeat(300)}:`, rx: '' } };
  const kept: { bytes: Uint8Array; text: string }[] = [];
  for (let i = 0; i < 3000; i++) {
    const r = decodeRecords(sockRecord({ laddr: [127, 0, 0, 1], raddr: [127, 0, 0, 1], lport: i, rport: 80, txFlags: [[2, 1], [16, i]] }))[0] as SockRecord;
    const bytes = bw.socket(r, i + 1, facts);
    kept.push({ bytes, text: Buffer.from(bytes).toString('utf8') });
  }
  for (const k of kept) assert.equal(Buffer.from(k.bytes).toString('utf8'), k.text);
  assert.ok(new Set(kept.map((k) => k.bytes.buffer)).size > 1, 'more than one slab was used');
});
