// HTTP/1.x decoder: kflowd's keys for request and response heads, body start, continuation
// segments, heads reassembled across segments, exceptions; and a fuzz run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHttp, HTTP_LIMITS } from '../../src/protocols/http1.js';
import { appKeys, type AppCapture, HTTP_HEAD_LIMIT } from '../../src/protocols/app.js';
import { toMinJson } from '../../src/format/json.js';
import { Rng, mutateBytes, randomBytes } from './fuzz-bytes.js';

const obj = (s: string | Uint8Array, first = true) => JSON.parse(toMinJson(decodeHttp(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, first)));

const REQ = 'GET / HTTP/1.1\r\nHost: kflow.co\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';
const RES = 'HTTP/1.1 301 Moved Permanently\r\nContent-Length: 59\r\nLocation: https://kflowd.github.io\r\n\r\n' +
  '<a href="https://kflowd.github.io">Moved Permanently</a>.';

describe('http/1 decoder', () => {
  it('request head', () => {
    assert.equal(toMinJson(decodeHttp(Buffer.from(REQ), true)),
      '{"_Method": "GET", "_Url": "/", "_Version": "HTTP/1.1", "Host": "kflow.co", "User-Agent": "curl/7.88.1", "Accept": "*/*"}');
  });

  it('response head with body start', () => {
    assert.deepEqual(obj(RES), {
      _Version: 'HTTP/1.1', _Status: 301, _Reason: 'Moved Permanently', 'Content-Length': '59',
      Location: 'https://kflowd.github.io', _Body: '<a href="https://kflowd.github.io">Moved Permanently</a>.',
    });
  });

  it('limits: 32 headers, 256 characters per value, 128 of body; repeats joined; folding', () => {
    const many = Array.from({ length: 40 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    const o = obj(`HTTP/1.0 200 OK\r\n${many}Set-Cookie: a\r\nX-H0: again\r\nX-Long: ${'v'.repeat(300)}\r\n\r\n${'b'.repeat(200)}`);
    assert.equal(Object.keys(o).filter((k) => k.startsWith('X-H')).length, HTTP_LIMITS.headers);
    assert.equal(o['X-H0'], '0, again');
    assert.equal(o['Set-Cookie'], undefined);
    assert.equal(o._Body, 'b'.repeat(128));
    assert.deepEqual(obj('GET /x HTTP/1.1\r\nX-A: one\r\n  two\r\n\r\n')['X-A'], 'one two');
    assert.equal(obj(`GET / HTTP/1.1\r\nX-Long: ${'v'.repeat(300)}\r\n\r\n`)['X-Long'].length, 256);
  });

  it('a head cut short keeps its complete lines; LF-only lines work', () => {
    assert.deepEqual(obj('GET /a HTTP/1.1\r\nHost: h\r\nAcce'), { _Method: 'GET', _Url: '/a', _Version: 'HTTP/1.1', Host: 'h' });
    assert.deepEqual(obj('HTTP/1.1 204 No Content\nServer: s\n\n'), { _Version: 'HTTP/1.1', _Status: 204, _Reason: 'No Content', Server: 's' });
  });

  it('exception on a malformed first message, _Body on a continuation', () => {
    assert.deepEqual(obj('hello world\r\n'), { _Exception: 'HTTP Message Decoder' });
    assert.deepEqual(obj('GET / HTTP/1.1\r\nbad header line\r\n\r\n'), { _Exception: 'HTTP Message Decoder' });
    assert.deepEqual(obj('GET /  HTTP/1.1\r\n\r\n'), { _Exception: 'HTTP Message Decoder' });
    assert.deepEqual(obj('1a\r\nchunk data', false), { _Body: '1a\r\nchunk data' });
    assert.deepEqual(obj(Buffer.from([0xff, 0x41])), { _Exception: 'HTTP Message Decoder' });
    assert.deepEqual(obj(Buffer.from([0xff, 0x41]), false), { _Body: '\udcffA' });
  });

  it('record: a head over three segments is one message; the next segment is _Body; keep-alive heads', () => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n');
    const tail = Buffer.from('0\r\n\r\n');
    const seg = (ts: bigint, seq: number, b: Buffer): AppCapture => ({ ts, rx: true, seq, wireLen: b.length, bytes: b });
    const caps = [
      seg(10n, 1000, head.subarray(0, 10)), seg(20n, 1010, head.subarray(10, 30)), seg(30n, 1030, head.subarray(30)),
      seg(40n, 1000 + head.length, tail),
      seg(50n, 1000 + head.length + tail.length, Buffer.from('HTTP/1.1 304 Not Modified\r\n\r\n')),
      { ts: 5n, rx: false, seq: 1, wireLen: REQ.length, bytes: Buffer.from(REQ) },
    ];
    const o = JSON.parse(toMinJson(new Map(appKeys('HTTP', 'tcp', caps, 0n))));
    assert.deepEqual(Object.keys(o), ['App', 'AppTxHttp', 'AppRxHttp']);
    assert.equal(o.AppTxHttp.length, 1);
    assert.deepEqual(o.AppRxHttp, [
      { _Timestamp: 1e-8, _Version: 'HTTP/1.1', _Status: 200, _Reason: 'OK', 'Transfer-Encoding': 'chunked', 'Content-Type': 'text/plain', _Body: '5\r\nhello\r\n' },
      { _Timestamp: 4e-8, _Body: '0\r\n\r\n' },
      { _Timestamp: 5e-8, _Version: 'HTTP/1.1', _Status: 304, _Reason: 'Not Modified' },
    ]);
  });

  it('record: reassembly stops at the limit', () => {
    const caps: AppCapture[] = [];
    let seq = 0;
    const push = (s: string) => { const b = Buffer.from(s); caps.push({ ts: 1n, rx: false, seq, wireLen: b.length, bytes: b }); seq += b.length; };
    push('GET / HTTP/1.1\r\n');
    for (let i = 0; seq < HTTP_HEAD_LIMIT + 2000; i++) push(`X-Pad-${i}: ${'p'.repeat(200)}\r\n`);
    const o = JSON.parse(toMinJson(new Map(appKeys('HTTP', 'tcp', caps, 0n))));
    assert.ok(o.AppTxHttp.length > 1, 'the head was cut at the limit');
    assert.equal(o.AppTxHttp[0]._Method, 'GET');
    assert.equal(Object.keys(o.AppTxHttp[0]).length, 4 + HTTP_LIMITS.headers);
  });

  it('fuzz: 20,000 mutated and random inputs never throw', () => {
    const seeds = [Buffer.from(REQ), Buffer.from(RES), Buffer.from('HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n')];
    const rng = new Rng(80);
    for (let i = 0; i < 20000; i++) {
      const input = i % 10 === 0 ? randomBytes(rng, 64) : mutateBytes(rng, rng.pick(seeds));
      try {
        toMinJson(decodeHttp(input, rng.int(2) === 0));
        const cut = rng.int(input.length + 1);
        appKeys('HTTP', 'tcp', [
          { ts: 1n, rx: true, seq: 0, wireLen: cut, bytes: input.subarray(0, cut) },
          { ts: 2n, rx: true, seq: cut, wireLen: input.length - cut, bytes: input.subarray(cut) },
        ], 0n);
      } catch (e) {
        assert.fail(`case ${i}: ${(e as Error).stack} on ${input.toString('hex')}`);
      }
    }
  });
});
