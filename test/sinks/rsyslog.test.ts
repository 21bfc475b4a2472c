// Real rsyslog (Debian rsyslogd with gtls), started by the test with a private config on free
// 127.0.0.1 ports: exactly the records sent arrive over UDP, TCP (octet counting) and TLS (CA
// verified), in RFC 5424 and RFC 3164; a server certificate from another CA is refused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Delivery } from '../../src/sinks/delivery.js';
import { createSink, parseSinkUrl } from '../../src/sinks/registry.js';
import { parseSeq, record } from './gen.js';
import { makeRsyslog, type Rsyslog } from './rsyslog-harness.js';
import { tempDir, until } from './helpers.js';

const N = 300;

interface Line {
  input: string;
  version: string;
  app: string;
  sd: string;
  msg: string;
}

function parse(l: string): Line {
  const [input, version, app, sd, ...rest] = l.split('|');
  return { input: input!, version: version!, app: app!, sd: sd!, msg: rest.join('|') };
}

describe('syslog sinks against a real rsyslog', () => {
  let t: ReturnType<typeof tempDir>;
  let rs: Rsyslog;
  before(async () => {
    t = tempDir('rsyslog');
    rs = await makeRsyslog(t.dir);
    await rs.start();
  });
  after(async () => {
    await rs?.stop();
    t?.done();
  });

  const combos = [
    ['syslog+udp', 'imudp', '5424'],
    ['syslog+udp', 'imudp', '3164'],
    ['syslog+tcp', 'imptcp', '5424'],
    ['syslog+tcp', 'imptcp', '3164'],
    ['syslog+tls', 'imtcp', '5424'],
    ['syslog+tls', 'imtcp', '3164'],
  ] as const;

  it('every record arrives exactly once, with its message intact, over each transport in both formats', async () => {
    const base = rs.lines().length;
    for (const [k, [scheme, , format]] of combos.entries()) {
      const port = scheme === 'syslog+udp' ? rs.udpPort : scheme === 'syslog+tcp' ? rs.tcpPort : rs.tlsPort;
      const host = scheme === 'syslog+tls' ? 'localhost' : '127.0.0.1';
      const url = `${scheme}://${host}:${port}?format=${format}&app=falconet-test${scheme === 'syslog+tls' ? `&ca=${rs.caFile}` : ''}`;
      const spec = parseSinkUrl(url, `combo ${k}`);
      const d = new Delivery({ name: `c${k}`, sink: createSink(spec), ...spec.delivery, log: () => {} });
      await d.open();
      const recs = Array.from({ length: N }, (_, i) => record(k * 10000 + i + 1, 20 + (i % 50), `host${k}`, 'boot1'));
      // small pushes: UDP has no flow control, so do not flood rsyslog's socket buffer
      for (let i = 0; i < N; i += 50) {
        await d.push(recs.slice(i, i + 50));
        await until(() => d.idle(), 5000, 'sent');
      }
      await d.close();
      assert.equal(d.stats().delivered, N, `${scheme} ${format} delivered`);
    }
    await until(() => rs.lines().length - base >= combos.length * N, 10_000, 'rsyslog wrote all lines');
    await new Promise((r) => setTimeout(r, 200)); // nothing extra arrives
    const lines = rs.lines().slice(base).map(parse);
    if (process.env.FALCONET_TEST_DEBUG) console.log(rs.lines().slice(base).filter((_, i) => i % N === 0));
    assert.equal(lines.length, combos.length * N);
    for (const [k, [, input, format]] of combos.entries()) {
      const inRange = (l: Line) => {
        const q = parseSeq(l.msg);
        return q !== null && q > k * 10000 && q <= k * 10000 + N;
      };
      const mine = lines.filter((l) => l.input === input && (format === '5424' ? l.version === '1' : l.version !== '1') && inRange(l));
      const want = Array.from({ length: N }, (_, i) => Buffer.from(record(k * 10000 + i + 1, 20 + (i % 50), `host${k}`, 'boot1').data).toString());
      assert.deepEqual(
        mine.map((l) => (format === '3164' ? l.msg.replace(/^ /, '') : l.msg)),
        want,
        `${input} ${format}`,
      );
      for (const [i, l] of mine.entries()) {
        assert.equal(l.app, 'falconet-test');
        if (format === '5424') assert.equal(l.sd, `[falconet@32473 id="host${k}:boot1:${k * 10000 + i + 1}" kind="file"]`);
      }
    }
  });

  it('TLS verifies the server against the given CA: another CA means nothing is sent', async () => {
    const dir = t.dir;
    const url = `syslog+tls://localhost:${rs.tlsPort}?ca=${dir}/other-ca.pem&retry_min=20ms&retry_max=50ms`;
    const spec = parseSinkUrl(url, 'bad-ca');
    const logs: string[] = [];
    const d = new Delivery({ name: 'bad-ca', sink: createSink(spec), ...spec.delivery, log: (l) => logs.push(l) });
    await d.open();
    const before = rs.lines().length;
    await d.push([record(99, 10, 'h', 'b')]);
    await until(() => logs.some((l) => /down: .*(certificate|self.signed|unable to verify)/i.test(l)), 5000, 'certificate error');
    await d.close({ drainMs: 100 });
    const st = d.stats();
    assert.equal(st.delivered, 0);
    assert.deepEqual(st.dropped, { shutdown: 1 });
    assert.equal(rs.lines().length, before);
  });
});
