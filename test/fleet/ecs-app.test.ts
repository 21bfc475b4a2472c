// ECS for -p payloads and DNS names: socket records completed by the real protocol stage
// (PayloadJoin: capture bytes → kflowd's App keys, DNS answers → names) and encoded by the ECS
// encoder. Exact dns.*, http.*/url.*/user_agent.*, log.syslog.*/message, destination.domain and
// related.hosts; every field checked against the ECS reference.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { ecsDocument, type EcsDoc } from '../../src/format/ecs/encoder.js';
import { parseStructuredData } from '../../src/format/ecs/app.js';
import { PayloadJoin } from '../../src/protocols/join.js';
import type { PayloadRecord } from '../../src/model/payload-record.js';
import type { SockRecord } from '../../src/model/socket-record.js';
import type { KernelRecord } from '../../src/model/records.js';
import { CTX, env, hdr, sock } from './ecs-records.js';
import { validate } from './ecs-validate.js';
import { Rng, mutateBytes, randomBytes } from '../protocols/fuzz-bytes.js';

const T0 = 5_000_000_000n;
/** DNS header flag bits */
const RD = 0x0100, RA = 0x0080, AA = 0x0400;

function payload(p: Partial<PayloadRecord> & Pick<PayloadRecord, 'cookie' | 'app' | 'transport' | 'rx' | 'bytes'>): PayloadRecord {
  const ts = p.ts ?? T0 + 1000n;
  return { type: 'payload', hdr: hdr({ ts, tsFirst: ts }), ts, peerIP: '', peerPort: 0, skAddr: 0n, seq: 0, wireLen: p.bytes.length, ...p };
}

/** The socket record after the protocol stage, and its ECS document (validated). */
function encode(j: PayloadJoin, batch: KernelRecord[]): EcsDoc {
  const out = j.process(batch);
  const rec = out.find((r): r is SockRecord => r.type === 'sock')!;
  const doc = ecsDocument(env('socket', rec, 1), CTX)!;
  assert.deepEqual(validate(doc), []);
  return doc;
}

const dnsSock = (over: Partial<SockRecord> = {}) => sock({
  protocol: 'UDP', state: 'UDP_CLOSE', sockType: 'SOCK_DGRAM', cookie: 9n, localIP: '127.0.0.1', localPort: 40001,
  remoteIP: '127.0.0.53', remotePort: 53, perPeer: true, ...over,
});

describe('ECS: payload fields', () => {
  it('DNS over UDP: dns.* of the transaction, answers, resolved IPs; network.protocol', () => {
    const q = dnsPacket.encode({ type: 'query', id: 4711, flags: RD, questions: [{ type: 'A', name: 'www.a.test' }] });
    const r = dnsPacket.encode({
      type: 'response', id: 4711, flags: RD | RA | AA,
      questions: [{ type: 'A', name: 'www.a.test' }],
      answers: [{ type: 'CNAME', name: 'www.a.test', ttl: 300, data: 'a.test' }, { type: 'A', name: 'a.test', ttl: 300, data: '10.1.2.3' }],
    });
    const j = new PayloadJoin();
    const doc = encode(j, [
      payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: false, peerIP: '127.0.0.53', peerPort: 53, bytes: q }),
      payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: true, peerIP: '127.0.0.53', peerPort: 53, bytes: r, ts: T0 + 2000n }),
      dnsSock(),
    ]);
    assert.deepEqual(doc['dns'], {
      type: 'answer', id: '4711', op_code: 'QUERY', header_flags: ['QR', 'AA', 'RD', 'RA'], response_code: 'NOERROR',
      question: { name: 'www.a.test', type: 'A' },
      answers: [{ name: 'www.a.test', type: 'CNAME', class: 'IN', ttl: 300, data: 'a.test' }, { name: 'a.test', type: 'A', class: 'IN', ttl: 300, data: '10.1.2.3' }],
      resolved_ip: ['10.1.2.3'],
    });
    assert.equal((doc['network'] as EcsDoc)['protocol'], 'dns');
    assert.deepEqual((doc['falconet'] as EcsDoc)['app'], { tx_messages: 1, rx_messages: 1, exceptions: 0 });
    assert.deepEqual((doc['related'] as EcsDoc)['hosts'], ['www.a.test']);
  });

  it('DNS: a query alone is dns.type query; NXDOMAIN without answers; an undecodable message is counted', () => {
    const q = dnsPacket.encode({ type: 'query', id: 7, flags: RD, questions: [{ type: 'AAAA', name: 'x.nx.test' }] });
    const nx = dnsPacket.encode({ type: 'response', id: 7, flags: RD | 3, questions: [{ type: 'AAAA', name: 'x.nx.test' }] });
    let doc = encode(new PayloadJoin(), [payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: false, peerIP: '127.0.0.53', peerPort: 53, bytes: q }), dnsSock()]);
    assert.deepEqual(doc['dns'], { type: 'query', id: '7', op_code: 'QUERY', header_flags: ['RD'], question: { name: 'x.nx.test', type: 'AAAA' } });
    doc = encode(new PayloadJoin(), [
      payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: false, peerIP: '127.0.0.53', peerPort: 53, bytes: q }),
      payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: true, peerIP: '127.0.0.53', peerPort: 53, bytes: nx }),
      payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: true, peerIP: '127.0.0.53', peerPort: 53, bytes: Buffer.from([1, 2, 3]) }),
      dnsSock(),
    ]);
    assert.deepEqual(doc['dns'], { type: 'answer', id: '7', op_code: 'QUERY', header_flags: ['QR', 'RD'], response_code: 'NXDOMAIN', question: { name: 'x.nx.test', type: 'AAAA' } });
    assert.deepEqual((doc['falconet'] as EcsDoc)['app'], { tx_messages: 1, rx_messages: 2, exceptions: 1 });
  });

  it('a flow to an address a DNS answer named: destination.domain, server.domain, related.hosts (either batch order)', () => {
    const ans = dnsPacket.encode({
      type: 'response', id: 1, flags: RD | RA, questions: [{ type: 'A', name: 'www.web.test' }],
      answers: [{ type: 'CNAME', name: 'www.web.test', ttl: 60, data: 'web.test' }, { type: 'A', name: 'web.test', ttl: 60, data: '66.35.250.204' }],
    });
    for (const order of ['dns first', 'flow first']) {
      const j = new PayloadJoin();
      const p = payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: true, peerIP: '127.0.0.53', peerPort: 53, bytes: ans, ts: T0 - 1000n });
      const flow = sock({ cookie: 77n });
      const out = j.process(order === 'dns first' ? [p, flow] : [flow, p]);
      const rec = out.find((r): r is SockRecord => r.type === 'sock' && r.cookie === 77n)!;
      const doc = ecsDocument(env('socket', rec, 1), CTX)!;
      assert.deepEqual(validate(doc), []);
      assert.equal((doc['destination'] as EcsDoc)['domain'], 'www.web.test', order);
      assert.equal((doc['server'] as EcsDoc)['domain'], 'www.web.test');
      assert.equal((doc['source'] as EcsDoc)['domain'], undefined);
      assert.deepEqual((doc['related'] as EcsDoc)['hosts'], ['www.web.test', 'web.test']);
      assert.equal(doc['dns'], undefined, 'the named flow is not itself DNS');
    }
    // the server side of such a flow: the remote (named) side is the source
    const j = new PayloadJoin();
    j.process([payload({ cookie: 9n, app: 'DNS', transport: 'udp', rx: true, peerIP: '127.0.0.53', peerPort: 53, bytes: ans, ts: T0 - 1000n })]);
    const srv = j.process([sock({ cookie: 78n, role: 'SERVER', localIP: '10.0.0.1', localPort: 80, remoteIP: '66.35.250.204', remotePort: 40000 })])[0] as SockRecord;
    const doc = ecsDocument(env('socket', srv, 2), CTX)!;
    assert.equal((doc['source'] as EcsDoc)['domain'], 'www.web.test');
    assert.equal((doc['client'] as EcsDoc)['domain'], 'www.web.test');
    assert.equal((doc['destination'] as EcsDoc)['domain'], undefined);
  });

  it('HTTP over TCP (head split over two segments): http.*, url.*, user_agent.original', () => {
    const req = Buffer.from('GET /old/page?x=1&y=2 HTTP/1.1\r\nHost: web.test:8080\r\nUser-Agent: curl/7.88.1\r\nReferer: http://r.test/\r\nAccept: */*\r\n\r\n');
    const resp = Buffer.from('HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\nContent-Length: 169\r\nLocation: http://web.test:8080/new\r\n\r\n<html>');
    const j = new PayloadJoin();
    const doc = encode(j, [
      payload({ cookie: 4097n, app: 'HTTP', transport: 'tcp', rx: false, seq: 100, bytes: req.subarray(0, 40), wireLen: 40 }),
      payload({ cookie: 4097n, app: 'HTTP', transport: 'tcp', rx: false, seq: 140, bytes: req.subarray(40), wireLen: req.length - 40 }),
      payload({ cookie: 4097n, app: 'HTTP', transport: 'tcp', rx: true, seq: 9000, bytes: resp }),
      sock({ remotePort: 8080 }),
    ]);
    assert.deepEqual(doc['http'], {
      version: '1.1',
      request: { method: 'GET', referrer: 'http://r.test/' },
      response: { status_code: 301, mime_type: 'text/html', body: { bytes: 169 } },
    });
    assert.deepEqual(doc['url'], { original: '/old/page?x=1&y=2', path: '/old/page', query: 'x=1&y=2', domain: 'web.test', port: 8080 });
    assert.deepEqual(doc['user_agent'], { original: 'curl/7.88.1' });
    assert.equal((doc['network'] as EcsDoc)['protocol'], 'http');
    assert.deepEqual((doc['falconet'] as EcsDoc)['app'], { tx_messages: 1, rx_messages: 1, exceptions: 0 });
    assert.deepEqual((doc['related'] as EcsDoc)['hosts'], ['web.test']);
  });

  it('HTTP server side: the request is what arrived; a POST body length; an IPv6 Host', () => {
    const req = Buffer.from('POST /api HTTP/1.0\r\nhost: [::1]:81\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"a":"bcdef"}');
    const doc = encode(new PayloadJoin(), [
      payload({ cookie: 5n, app: 'HTTP', transport: 'tcp', rx: true, seq: 1, bytes: req }),
      sock({ cookie: 5n, role: 'SERVER', family: 'AF_INET6', localIP: '::1', localPort: 81, remoteIP: '::1', remotePort: 50000 }),
    ]);
    assert.deepEqual(doc['http'], { version: '1.0', request: { method: 'POST', mime_type: 'application/json', body: { bytes: 13 } } });
    assert.deepEqual(doc['url'], { original: '/api', path: '/api', domain: '::1', port: 81 });
  });

  it('SYSLOG RFC 5424 over UDP: log.syslog.* with structured data, message', () => {
    const msg = Buffer.from('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="Appl\\"ication"][x@1 a="b"] An application event');
    const doc = encode(new PayloadJoin(), [
      payload({ cookie: 9n, app: 'SYSLOG', transport: 'udp', rx: false, peerIP: '127.0.0.1', peerPort: 514, bytes: msg }),
      dnsSock({ remoteIP: '127.0.0.1', remotePort: 514 }),
    ]);
    assert.deepEqual((doc['log'] as EcsDoc)['syslog'], {
      priority: 165, facility: { code: 20, name: 'local4' }, severity: { code: 5, name: 'Notice' }, version: '1',
      appname: 'evntslog', hostname: 'mymachine.example.com', procid: '1234', msgid: 'ID47',
      structured_data: { 'exampleSDID@32473': { iut: '3', eventSource: 'Appl"ication' }, 'x@1': { a: 'b' } },
    });
    assert.equal(doc['message'], 'An application event');
    assert.equal((doc['network'] as EcsDoc)['protocol'], 'syslog');
  });

  it('SYSLOG BSD over a UNIX socket: no version; the UNIX flow keeps its path', () => {
    const msg = Buffer.from('<13>Dec  2 21:02:49 utag[12080]: hello unix');
    const doc = encode(new PayloadJoin(), [
      payload({ cookie: 0n, app: 'SYSLOG', transport: 'unix', rx: false, skAddr: 0xffff8880_01234500n, bytes: msg }),
      sock({ family: 'AF_UNIX', protocol: '', state: '', sockType: 'SOCK_DGRAM', path: '/dev/log', localIP: '', remoteIP: '', localPort: 0, remotePort: 0, skAddr: 0xffff8880_01234500n }),
    ]);
    assert.deepEqual((doc['log'] as EcsDoc)['syslog'], {
      priority: 13, facility: { code: 1, name: 'user' }, severity: { code: 5, name: 'Notice' }, appname: 'utag', procid: '12080',
    });
    assert.equal(doc['message'], 'hello unix');
    assert.deepEqual(doc['destination'], { address: '/dev/log' });
  });

  it('a record without payloads or names is unchanged', () => {
    const doc = ecsDocument(env('socket', sock(), 1), CTX)!;
    for (const k of ['dns', 'http', 'url', 'log', 'message', 'user_agent']) assert.equal(doc[k], undefined, k);
    assert.equal((doc['network'] as EcsDoc)['protocol'], undefined);
    assert.equal((doc['related'] as EcsDoc)['hosts'], undefined);
  });

  it('structured data: well-formed forms parse, anything else is left out', () => {
    assert.deepEqual(parseStructuredData('[a]'), { a: {} });
    assert.deepEqual(parseStructuredData('[a k="v\\]w\\\\"]'), { a: { k: 'v]w\\' } });
    for (const bad of ['', '-', '[', '[a k=v]', '[a k="v]', 'x[a]', '[a k="v"] [b]', '[ k="v"]']) assert.equal(parseStructuredData(bad), undefined, bad);
  });

  it('fuzz: 6,000 mutated DNS/HTTP/syslog payloads give valid ECS documents, never a throw', () => {
    const seeds: [PayloadRecord['app'], Buffer][] = [
      ['DNS', dnsPacket.encode({ type: 'response', id: 3, flags: RD | RA, questions: [{ type: 'A', name: 'a.test' }],
        answers: [{ type: 'A', name: 'a.test', ttl: 5, data: '10.0.0.1' }, { type: 'TXT', name: 'a.test', ttl: 5, data: 'x y' }] })],
      ['DNS', dnsPacket.encode({ type: 'query', id: 3, flags: RD, questions: [{ type: 'MX', name: 'a.test' }] })],
      ['HTTP', Buffer.from('GET /a?b HTTP/1.1\r\nHost: [::1]:80\r\nUser-Agent: u\r\nContent-Length: 3\r\n\r\nabc')],
      ['HTTP', Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: t/p\r\n\r\nbody')],
      ['SYSLOG', Buffer.from('<165>1 2003-10-11T22:14:15.003Z host app 12 ID [a b="c\\"d"][e@1] msg')],
      ['SYSLOG', Buffer.from('<13>Dec  2 21:02:49 h utag[1]: m')],
    ];
    const rng = new Rng(8017);
    for (let i = 0; i < 6000; i++) {
      const [app, seed] = rng.pick(seeds);
      const bytes = i % 10 === 0 ? randomBytes(rng, 80) : mutateBytes(rng, seed);
      const tcp = app === 'HTTP' || rng.int(2) === 0;
      const peer = tcp ? {} : { peerIP: '127.0.0.53', peerPort: 53 };
      try {
        const j = new PayloadJoin();
        const out = j.process([
          payload({ cookie: 9n, app, transport: tcp ? 'tcp' : 'udp', rx: rng.int(2) === 1, bytes, ...peer }),
          dnsSock(tcp ? { protocol: 'TCP', sockType: 'SOCK_STREAM', state: 'TCP_CLOSE', perPeer: false } : {}),
        ]);
        const rec = out.find((r): r is SockRecord => r.type === 'sock')!;
        const doc = ecsDocument(env('socket', rec, 1), CTX)!;
        const problems = validate(doc);
        if (problems.length) assert.fail(`case ${i}: ${problems.join('; ')} on ${bytes.toString('hex')}`);
        JSON.stringify(doc);
      } catch (e) {
        assert.fail(`case ${i}: ${(e as Error).stack} on ${bytes.toString('hex')}`);
      }
    }
  });
});
