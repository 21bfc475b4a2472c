// Sink URLs: what each built-in form parses to, clear errors naming the place, registered
// schemes, and a mutation fuzz (parseSinkUrl throws only SinkUrlError, never anything else).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSink, parseSinkUrl, registerSinkScheme, SinkUrlError } from '../../src/sinks/registry.js';
import { FakeSink } from './helpers.js';
import { rng } from '../lib/rng.js';

describe('parseSinkUrl', () => {
  it('parses every built-in form', () => {
    const f = parseSinkUrl('file:///var/log/x.jsonl?rotate=100MB&keep=3&format=json-min&spool=/var/spool/f&spool_max=1GB&queue=8MB&policy=block', '--sink #1');
    assert.equal(f.scheme, 'file');
    assert.equal(f.path, '/var/log/x.jsonl');
    assert.equal(f.format, 'json-min');
    assert.deepEqual(f.params, { rotate: '100MB', keep: '3' });
    assert.deepEqual(f.delivery, { policy: 'block', maxBytes: 8 << 20, spool: { dir: '/var/spool/f', maxBytes: 1 << 30 } });
    const u = parseSinkUrl('udp://10.0.0.1:9000,[::1]:9001', 'x');
    assert.deepEqual(u.servers, [
      { host: '10.0.0.1', port: 9000, family: 4 },
      { host: '::1', port: 9001, family: 6 },
    ]);
    const s = parseSinkUrl('syslog+tls://logs.example?ca=/etc/ca.pem&format=5424&format=falco&facility=local3&severity=warning', 'x');
    assert.deepEqual([s.servers![0]!.port, s.syslog!.format, s.syslog!.facility, s.syslog!.severity, s.format, s.delivery.confirmMs], [6514, '5424', 19, 4, 'falco', 250]);
    assert.equal(parseSinkUrl('syslog+udp://127.0.0.1?format=3164', 'x').syslog!.format, '3164');
    assert.equal(parseSinkUrl('syslog+tcp://127.0.0.1:1514', 'x').syslog!.format, '5424');
    assert.equal(parseSinkUrl('unix:///run/collector.sock', 'x').path, '/run/collector.sock');
    // RELP: a syslog transport with acknowledgements (no confirm window), default port 2514
    const r = parseSinkUrl('relp://127.0.0.1?window=64&ack_timeout=10s&app=agent&format=3164&spool=/s', 'x');
    assert.deepEqual([r.scheme, r.servers![0]!.port, r.syslog!.format, r.syslog!.app, r.params.window, r.params.ack_timeout, r.delivery.confirmMs], ['relp', 2514, '3164', 'agent', '64', '10s', undefined]);
    assert.equal(createSink(parseSinkUrl('relp://[::1]:20514', 'x')).name, 'relp:tcp:::1:20514');
    assert.equal(parseSinkUrl('-', 'x').scheme, 'stdout');
    assert.equal(parseSinkUrl('stdout:?format=json', 'x').format, 'json');
  });

  const errors: [string, RegExp][] = [
    ['', /empty sink URL/],
    ['/var/log/x', /not a sink URL; expected SCHEME:\/\//],
    ['ftp://x', /unknown scheme "ftp:"/],
    ['file:///x?rotate=big', /rotate=big is not a size/],
    ['file:///x?colour=red', /unknown option "colour" for file/],
    ['file://host/x', /needs an absolute path/],
    ['file:///tmp/', /missing file name/],
    ['udp://1.2.3.4', /missing port/],
    ['udp://1.2.3.4:70000', /bad port "70000"/],
    ['udp://fe80::1:514', /needs brackets/],
    ['udp://' + Array.from({ length: 9 }, (_, i) => `127.0.0.1:${1000 + i}`).join(','), /at most 8 servers, got 9/],
    ['syslog+tcp://a:1,b:2', /one server per syslog sink/],
    ['syslog+tcp://h?ca=/x', /unknown option "ca" for syslog\+tcp/],
    ['syslog+tls://h?cert=/c', /cert= and key= go together/],
    ['relp://h:2514?window=0', /window=0: expected 1\.\.999999 unanswered records/],
    ['relp://h?ack_timeout=soon', /ack_timeout=soon is not a duration/],
    ['relp://h?ca=/x', /unknown option "ca" for relp/],
    ['relp://a:1,b:2', /one server per syslog sink/],
    ['syslog+tcp://h?window=5', /unknown option "window" for syslog\+tcp/],
    ['syslog+udp://h?facility=local9', /facility=local9: expected 0-23/],
    ['file:///x?policy=maybe', /policy=maybe: expected one of block, drop_newest, drop_oldest, reject/],
    ['file:///x?spool_max=1GB', /spool_max needs spool=DIR/],
    ['file:///x?spool=/s&spool_max=1KB', /below the minimum/],
    ['file:///x?queue=0', /queue=0 is not a size/],
    ['file:///x?keep=1&keep=2', /option "keep" given twice/],
    ['file:///x?format=json&format=ecs', /option "format" given twice/],
    ['stdout://somewhere', /stdout takes no address/],
  ];
  for (const [text, re] of errors) {
    it(`rejects ${JSON.stringify(text).slice(0, 60)} naming the place`, () => {
      assert.throws(
        () => parseSinkUrl(text, 'pipeline.json:12:5 exporter.sink'),
        (e: unknown) => e instanceof SinkUrlError && e.message.startsWith(`pipeline.json:12:5 exporter.sink: sink "${text.trim()}": `) && re.test(e.message),
      );
    });
  }

  it('registered schemes plug in and keep their own options', async () => {
    const made: string[] = [];
    registerSinkScheme('testq', (spec) => {
      made.push(`${spec.url.host}|${spec.params.subject}|${spec.format}`);
      return new FakeSink();
    });
    const spec = parseSinkUrl('testq://broker:4222?subject=falconet.records&format=json&spool=/tmp/q', 'x');
    createSink(spec);
    assert.deepEqual(made, ['broker:4222|falconet.records|json']);
    assert.equal(spec.delivery.spool?.dir, '/tmp/q');
    assert.throws(() => registerSinkScheme('file', () => new FakeSink()), /built in/);
  });
});


describe('parseSinkUrl fuzz', () => {
  it('20,000 mutations throw only SinkUrlError, quickly', () => {
    const seeds = [
      'file:///var/log/x.jsonl?rotate=100MB&keep=3&format=json-min&spool=/s&spool_max=1GB',
      'udp://10.0.0.1:9000,[::1]:9001',
      'syslog+tls://logs.example:6514?ca=/etc/ca.pem&format=5424&facility=local3',
      'syslog+udp://127.0.0.1?format=3164&policy=drop_oldest&queue=1MB',
      'unix:///run/x.sock?confirm_ms=10ms&retry_min=5ms&retry_max=1s',
      'file:rel?batch=100&fsync_ms=5&spool=d&spool_segment=1MB',
    ];
    const tokens = ['%', '%zz', '%00', '?', '&', '=', ',', ':', '[', ']', '//', '/', '::1', '65536', '0', '-1', '1e9', 'GB', 'ms', ' ', '\n', '\u00e9', '\uffff', 'syslog+', 'file:', 'udp:', 'format=', 'spool=', 'policy=block'];
    const r = rng(12);
    const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
    const start = Date.now();
    let ok = 0;
    for (let i = 0; i < 20000; i++) {
      let s = pick(seeds);
      for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) {
        const at = Math.floor(r() * (s.length + 1));
        const op = Math.floor(r() * 4);
        if (op === 0) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 6));
        else if (op === 1) s = s.slice(0, at) + pick(tokens) + s.slice(at);
        else if (op === 2) s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1);
        else s = s.slice(0, at);
      }
      try {
        const spec = parseSinkUrl(s, `case ${i}`);
        assert.ok(spec.scheme && spec.delivery.maxBytes > 0);
        ok++;
      } catch (e) {
        if (!(e instanceof SinkUrlError)) assert.fail(`case ${i} ${JSON.stringify(s)}: ${String(e)}`);
        assert.ok(e.message.startsWith(`case ${i}: sink `));
      }
    }
    assert.ok(ok > 1000 && ok < 19000, `a mix of good and bad inputs (${ok} good)`);
    assert.ok(Date.now() - start < 20000);
  });
});
