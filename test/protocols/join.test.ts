// The protocols stage on synthetic records: payloads join their socket record (TCP by cookie,
// UDP by cookie and peer), App keys land after SockAge, DNS answers name remote IPs whatever the
// order of records in a batch, TTLs and bounds hold; and the -p option rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { PayloadJoin } from '../../src/protocols/join.js';
import { kernelSource } from '../../src/pipeline/sources/kernel.js';
import type { SensorEvent, SensorStats } from '../../src/model/records.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { DnsNameCache } from '../../src/protocols/dns-cache.js';
import { parseDns } from '../../src/protocols/dns.js';
import { parseProtocolOption, resolveProtocols, appOfPorts, ProtocolOptionError, type ProtocolArgs } from '../../src/protocols/options.js';
import type { SockRecord } from '../../src/model/socket-record.js';
import type { PayloadRecord } from '../../src/model/payload-record.js';
import type { ProcHeader, KernelRecord } from '../../src/model/records.js';
import { kflowdSocketRecord } from '../../src/format/kflowd-socket.js';
import { toMinJson } from '../../src/format/json.js';
import type { KflowdFacts } from '../../src/format/context.js';

const ctx: KflowdFacts = {
  host: { hostName: 'h', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_700_000_000_000_000_000n, startBootNs: 1_000_000_000n },
};
const hdr = (ts: bigint): ProcHeader => ({ flags: 0, pid: 7, tid: 7, ppid: 1, uid: 0, gid: 0, tsFirst: ts, ts, procStart: 0n, comm: 'curl', exe: 'curl', parentExe: 'bash' });
const dir = () => ({ tsFirst: 0n, ts: 0n, packets: 0, dataPackets: 0, bytes: 0, ifindex: 0, flags: [] as [string, number][] });

function sock(cookie: bigint, protocol: 'TCP' | 'UDP', remoteIP: string, remotePort: number, tsFirst: bigint): SockRecord {
  return {
    type: 'sock', hdr: { ...hdr(tsFirst), ts: tsFirst + 1_000_000n }, cookie, reason: 'close', noOwner: false, perPeer: protocol === 'UDP',
    family: remoteIP.includes(':') ? 'AF_INET6' : 'AF_INET', protocol, role: 'CLIENT', state: protocol === 'TCP' ? 'TCP_CLOSE' : 'UDP_CLOSE',
    sockType: protocol === 'TCP' ? 'SOCK_STREAM' : 'SOCK_DGRAM', localIP: '127.0.0.1', localPort: 40000, remoteIP, remotePort, path: '',
    tx: dir(), rx: dir(), retransPackets: 0, retransBytes: 0, dups: 0, bytesAcked: 0, reorder: 0, drops: 0, frags: 0, rxTtl: 0,
    rtoMs: 0, rtoIsJiffies: false, rttNs: 0n, bytesReceived: 0, rxQueued: 0,
  };
}

function payload(p: Partial<PayloadRecord> & Pick<PayloadRecord, 'cookie' | 'app' | 'transport' | 'rx' | 'bytes' | 'ts'>): PayloadRecord {
  return { type: 'payload', hdr: hdr(p.ts), peerIP: '', peerPort: 0, skAddr: 0n, seq: 0, wireLen: p.bytes.length, ...p };
}

const answer = (id: number, name: string, ip: string, ttl = 300) => dnsPacket.encode({
  type: 'response', id, flags: 0x0180, questions: [{ type: 'A', name: `www.${name}` }],
  answers: [{ type: 'CNAME', name: `www.${name}`, ttl, data: name }, { type: 'A', name, ttl, data: ip }],
});
const ask = (id: number, name: string) => dnsPacket.encode({ type: 'query', id, flags: 0x0100, questions: [{ type: 'A', name }] });

describe('payload join and names', () => {
  it('UDP: joined by cookie and peer; a second peer of the same socket keeps its own messages', () => {
    const j = new PayloadJoin();
    const batch: KernelRecord[] = [
      payload({ cookie: 5n, app: 'DNS', transport: 'udp', rx: false, ts: 1_000_001_000n, peerIP: '127.0.0.53', peerPort: 53, bytes: ask(1, 'a.test') }),
      payload({ cookie: 5n, app: 'DNS', transport: 'udp', rx: false, ts: 1_000_002_000n, peerIP: '127.0.0.54', peerPort: 53, bytes: ask(2, 'b.test') }),
      sock(5n, 'UDP', '127.0.0.53', 53, 1_000_000_000n),
    ];
    const out = j.process(batch);
    assert.equal(out.length, 1);
    const o = JSON.parse(toMinJson(kflowdSocketRecord(out[0] as SockRecord, 1, ctx)));
    assert.deepEqual(o.AppTxDns, [{ _Timestamp: 0.000001, TransactionId: 1, OpCode: 'QUERY', Flags: ['RD'], ResourceRecords: [['A', 'a.test']] }]);
    assert.equal(Object.keys(o).slice(-3).join(), 'SockAge,App,AppTxDns');
    const other = j.process([sock(5n, 'UDP', '127.0.0.54', 53, 1_000_000_000n)])[0] as SockRecord;
    assert.equal((other.appKeys![1]![1] as Map<string, unknown>[])[0]!.get('TransactionId'), 2);
    assert.deepEqual(j.stats, { payloads: 2, attached: 2, unmatched: 0, held: 0 });
  });

  it('names: the TCP record to an answered IP carries the CNAME chain, in either batch order', () => {
    for (const order of ['dns-first', 'sock-first']) {
      const j = new PayloadJoin();
      const dns = payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: true, ts: 2_000_000_000n, peerIP: '127.0.0.1', peerPort: 53, bytes: answer(3, 'example.test', '127.0.0.2') });
      const tcp = sock(10n, 'TCP', '127.0.0.2', 80, 2_100_000_000n);
      const batch: KernelRecord[] = order === 'dns-first' ? [dns, tcp] : [tcp, dns];
      j.process(batch);
      assert.deepEqual(tcp.remoteNames, ['www.example.test', 'example.test'], order);
      const o = kflowdSocketRecord(tcp, 1, ctx);
      const keys = [...o.keys()];
      assert.equal(keys[keys.indexOf('SockRemotePort') + 1], 'SockRemoteNames');
    }
  });

  it('names: TTL measured from the capture, checked at the flow start; IPv4-mapped addresses match', () => {
    const c = new DnsNameCache({ minTtlSec: 0 });
    c.addResponse(parseDns(answer(1, 'x.test', '10.9.8.7', 10))!, 1_000_000_000n);
    assert.deepEqual(c.namesFor('10.9.8.7', 11_000_000_000n), ['www.x.test', 'x.test']);
    assert.deepEqual(c.namesFor('::ffff:10.9.8.7', 11_000_000_000n), ['www.x.test', 'x.test']);
    assert.deepEqual(c.namesFor('10.9.8.7', 11_000_000_001n), []);
    const floor = new DnsNameCache();
    floor.addResponse(parseDns(answer(1, 'y.test', '10.9.8.6', 0))!, 0n);
    assert.deepEqual(floor.namesFor('10.9.8.6', 4_000_000_000n), ['www.y.test', 'y.test']);
  });

  it('bounds: addresses and names per address', () => {
    const c = new DnsNameCache({ maxIps: 3, namesPerIp: 2 });
    for (let i = 0; i < 5; i++) c.addResponse(parseDns(answer(i, `n${i}.test`, `10.0.0.${i}`))!, 0n);
    assert.equal(c.size, 3);
    assert.deepEqual(c.namesFor('10.0.0.0', 0n), []);
    assert.deepEqual(c.namesFor('10.0.0.4', 0n), ['www.n4.test', 'n4.test']);
    c.addResponse(parseDns(answer(9, 'z.test', '10.0.0.4'))!, 0n);
    assert.deepEqual(c.namesFor('10.0.0.4', 0n), ['www.z.test', 'z.test']);
    const j = new PayloadJoin({ maxFlows: 2, perFlow: 1 });
    for (const ck of [1n, 2n, 3n, 3n]) j.add(payload({ cookie: ck, app: 'HTTP', transport: 'tcp', rx: true, ts: 1n, bytes: Buffer.from('x') }));
    assert.deepEqual(j.stats, { payloads: 4, attached: 0, unmatched: 2, held: 0 });
  });

  it('UNIX: a struct sock address reused by the next socket: the socket inode tells them apart', () => {
    const j = new PayloadJoin();
    const msg = Buffer.from('<13>Dec  2 21:02:49 t[1]: m');
    const unix = (cookie: bigint, skIno: bigint): SockRecord => ({
      ...sock(cookie, 'UDP', '', 0, 1_000_000_000n), family: 'AF_UNIX', protocol: '', state: '', path: '/dev/log', localIP: '', remoteIP: '', skAddr: 0xffff0001n, skIno,
    });
    // the earlier socket's record leaves after the later socket's message was captured
    const out = j.process([
      payload({ cookie: 0n, app: 'SYSLOG', transport: 'unix', rx: false, ts: 1_000_001_000n, skAddr: 0xffff0001n, skIno: 502n, bytes: msg }),
      unix(10n, 501n), unix(11n, 502n),
    ]) as SockRecord[];
    assert.equal(out[0]!.appKeys, undefined);
    assert.equal(out[1]!.appKeys?.[0]?.[1], 'SYSLOG');
    assert.deepEqual(j.stats, { payloads: 1, attached: 1, unmatched: 0, held: 0 });
  });
});

describe('late UNIX syslog payloads: senders\' last records wait (stream time)', () => {
  const msg = Buffer.from('<13>Dec  2 21:02:49 t[1]: late');
  const S = 1_000_000_000n;
  const unixRec = (skIno: bigint, over: Partial<SockRecord> = {}): SockRecord => ({
    ...sock(20n + skIno, 'UDP', '', 0, 1_000_000_000n), family: 'AF_UNIX', protocol: '', state: '', path: '/dev/log', localIP: '',
    remoteIP: '', skAddr: 0xffff0100n + skIno, skIno, ...over,
  });
  const late = (skIno: bigint, ts: bigint) => payload({ cookie: 0n, app: 'SYSLOG', transport: 'unix', rx: true, ts, skAddr: 0xffff0100n + skIno, skIno, bytes: msg });

  it('a closed sender to a held path waits 2 s of ticks; a payload read meanwhile joins it', () => {
    const j = new PayloadJoin({ holdUnixPaths: ['/dev/log'] });
    assert.deepEqual(j.process([unixRec(1n)]), []);
    assert.equal(j.heldNow, 1);
    assert.deepEqual(j.tick(10n * S), []); // the wait starts at the first tick after the record
    assert.deepEqual(j.process([late(1n, 10n * S + 5n)]), []);
    assert.deepEqual(j.tick(11n * S), []);
    assert.deepEqual(j.tick(12n * S - 1n), []);
    const out = j.tick(12n * S);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.appKeys?.[0]?.[1], 'SYSLOG');
    assert.equal(j.heldNow, 0);
    assert.deepEqual(j.stats, { payloads: 1, attached: 1, unmatched: 0, held: 1 });
  });

  it('a datagram read after its sender closed (no inode left) joins by the sender\'s cookie, never by the address alone', () => {
    const j = new PayloadJoin({ holdUnixPaths: ['/dev/log'] });
    const orphan = (skIno: bigint, cookie: bigint, ts: bigint) =>
      ({ ...late(skIno, ts), skIno: 0n, cookie, bytes: Buffer.from('<13>Dec  2 21:02:50 t[1]: after close') });
    assert.deepEqual(j.process([unixRec(1n), unixRec(2n), unixRec(3n)]), []);
    j.tick(10n * S);
    // 1: its cookie (21); 2: another socket's cookie at its address; 3: no cookie, only the address
    // (which a new socket may have by now). A payload the sender side saw (with the inode) and one
    // read after the close both join 1, in capture order
    j.process([orphan(1n, 21n, 10n * S + 2n), late(1n, 10n * S + 1n), orphan(2n, 99n, 10n * S + 3n), orphan(3n, 0n, 10n * S + 4n)]);
    const out = j.tick(12n * S);
    assert.deepEqual(out.map((r) => [r.skIno, r.appKeys?.length ?? 0]), [[1n, 2], [2n, 0], [3n, 0]]);
    const msgs = out[0]!.appKeys!.find(([k]) => k === 'AppRxSyslog')?.[1] as Map<string, unknown>[];
    assert.deepEqual(msgs.map((m) => m.get('Message')), ['late', 'after close']);
    assert.deepEqual(j.stats, { payloads: 4, attached: 2, unmatched: 0, held: 3 });
  });

  it('only a sender\'s (CLIENT) last (close) datagram record to a held path waits; flush() lets all go', () => {
    const j = new PayloadJoin({ holdUnixPaths: ['/dev/log'], holdNs: 5n * S });
    const pass = [
      unixRec(2n, { path: '/run/other.sock' }), unixRec(3n, { reason: 'idle' }), unixRec(4n, { role: 'SERVER' }),
      unixRec(5n, { sockType: 'SOCK_STREAM' }), sock(9n, 'UDP', '10.0.0.2', 514, S),
    ];
    assert.equal(j.process([...pass, unixRec(6n), unixRec(7n)]).length, pass.length);
    j.tick(1n * S);
    assert.deepEqual(j.tick(5n * S), []);
    assert.deepEqual(j.flush().map((r) => r.skIno), [6n, 7n]);
    assert.equal(j.heldNow, 0);
    assert.equal(new PayloadJoin().process([unixRec(8n)]).length, 1, 'no held paths: nothing waits');
  });

  it('kernelSource: held records leave at a later stats tick (or the end) with the next sequence numbers', async () => {
    const st = (bootNs: bigint): SensorEvent => ({ kind: 'stats', stats: { bootNs } as SensorStats });
    const events: SensorEvent[] = [
      { kind: 'hello', hello: { sensorPid: 1, bootToRealNs: 0n, startBootNs: 0n, monitors: 2, programsAttached: 1, programsSkipped: 0, kernelRelease: '6.1', hostname: 'h', programStatus: [] } },
      { kind: 'records', records: [unixRec(1n), sock(9n, 'UDP', '10.0.0.2', 514, S), unixRec(2n)] },
      st(10n * S),
      { kind: 'records', records: [late(1n, 10n * S + 1n), sock(10n, 'UDP', '10.0.0.3', 514, S)] },
      st(11n * S), st(12n * S),
      { kind: 'records', records: [late(2n, 12n * S + 1n)] }, // after the wait: unmatched
      { kind: 'end' },
    ];
    const rs = { async *[Symbol.asyncIterator]() { yield* events; }, stop() {} };
    const got: Envelope<KernelRecord>[] = [];
    const ks = kernelSource('t', rs, { holdUnixPaths: ['/dev/log'] });
    for await (const ev of ks) if (ev.kind === 'records') got.push(...ev.records);
    const show = got.map((e) => `${e.id?.seq}:${(e.rec as SockRecord).cookie}:${(e.rec as SockRecord).appKeys ? 'app' : '-'}`);
    // 9 at once; 21 (ino 1) and 22 (ino 2) held from tick 10 s, released at tick 12 s: 21 with its
    // payload; 22's payload came after its release and is left unmatched at the end
    assert.deepEqual(show, ['1:9:-', '2:10:-', '3:21:app', '4:22:-']);
    assert.deepEqual(ks.join.stats, { payloads: 2, attached: 1, unmatched: 1, held: 2 });
  });
});

describe('-p option', () => {
  const parse = (...vals: string[]) => vals.reduce<ProtocolArgs>((a, v) => parseProtocolOption(v, a), {});
  it("kflowd's defaults, =off, case, unix paths", () => {
    assert.deepEqual(resolveProtocols(), {
      ports: [
        { app: 'DNS', proto: 'udp', port: 53 }, { app: 'DNS', proto: 'tcp', port: 53 }, { app: 'HTTP', proto: 'tcp', port: 80 },
        { app: 'SYSLOG', proto: 'udp', port: 514 }, { app: 'SYSLOG', proto: 'tcp', port: 514 },
      ],
      syslogSockets: ['/dev/log', '/run/systemd/journal/dev-log', '/run/systemd/journal/syslog'],
    });
    const c = resolveProtocols(parse('DNS=UDP/5353', 'http=off', 'syslog=unix:/tmp/x/log,tcp/1514'));
    assert.deepEqual(c.ports, [{ app: 'DNS', proto: 'udp', port: 5353 }, { app: 'SYSLOG', proto: 'tcp', port: 1514 }]);
    assert.deepEqual(c.syslogSockets, ['/tmp/x/log']);
    assert.equal(appOfPorts(c, 'tcp', 40000, 1514), 'SYSLOG');
    assert.equal(appOfPorts(c, 'udp', 1514, 40000), undefined);
  });
  it('errors name the value', () => {
    const bad: [string[], RegExp][] = [
      [['ftp=tcp/21'], /expected dns=, http= or syslog=/],
      [['http=udp/80'], /HTTP is decoded over tcp only/],
      [['dns=tcp/0'], /'tcp\/0' is not/],
      [['dns=tcp/65536'], /'tcp\/65536' is not/],
      [['dns=unix'], /'unix' is not tcp\/PORT or udp\/PORT/],
      [['dns=tcp/53,tcp/53'], /given twice/],
      [['dns=off', 'dns=udp/53'], /-p dns is given twice/],
      [['dns=' + Array.from({ length: 9 }, (_, i) => `udp/${i + 1}`).join(',')], /at most 8/],
      [['syslog=unix:relative'], /must be absolute/],
      [['dns='], /expected PROTO\/PORT/],
    ];
    for (const [vals, re] of bad) assert.throws(() => parse(...vals), (e: Error) => e instanceof ProtocolOptionError && re.test(e.message), vals.join(' '));
    assert.throws(() => resolveProtocols(parse('dns=tcp/80')), /tcp\/80 is given for both dns and http/);
  });
});
