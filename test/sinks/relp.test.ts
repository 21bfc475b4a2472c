// syslog over RELP (relp://): against a real rsyslogd with imrelp (private config, free
// 127.0.0.1 port, its RELP ruleset without an in-memory queue, so an answered record is already
// written), and against a stub server (relp-stub.ts) for what rsyslog does not do on demand.
// - exact delivery: every record once, in order, with the record id in RFC 5424 structured data;
// - rsyslog SIGKILLed for 6 s while a stream arrives at 20,000/s, then SIGKILLed 4 times more,
//   each 150 ms after it came back, while it takes the spooled backlog at full speed (the case
//   that loses records over plain TCP: the same schedule lost 9,920 and 25,920 of 300,000 records
//   over syslog+tcp with confirm_ms=20 in two runs): delivered-unique = produced exactly, every
//   duplicate inside a reported re-send;
// - the delivering process SIGKILLed twice with a spool: the same;
// - the server answers errors (500) for some records, closes the session (serverclose), or sends
//   a malformed frame: the records are sent again, never dropped, and the re-sends counted; the
//   log names the transaction and the server's text, or the byte offset of the bad frame.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Delivery } from '../../src/sinks/delivery.js';
import { createSink, parseSinkUrl } from '../../src/sinks/registry.js';
import { encodeRelpFrame } from '../../src/sinks/relp-frame.js';
import { parseSeq, record } from './gen.js';
import { reportedResends, runGen, tally } from './gen-run.js';
import { seqsInFile } from './fault-run.js';
import { haveRelp, haveRsyslog, makeRsyslog, type Rsyslog } from './rsyslog-harness.js';
import { RelpStub, type StubAnswer } from './relp-stub.js';
import { tempDir, until } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const skip = !haveRsyslog() || !haveRelp() ? 'rsyslogd with imrelp (rsyslog-relp) is not installed' : false;

/** Checks arrivals against produced 1..total: every record, duplicates only inside reported re-sends. */
function audit(seqs: number[], total: number, stderr: string, sink: string): { dups: number; reported: number } {
  const counts = tally(seqs);
  for (let q = 1; q <= total; q++) assert.ok(counts.has(q), `${sink}: record ${q} arrived`);
  assert.equal(counts.size, total, `${sink}: delivered-unique = produced`);
  const reported = reportedResends(stderr).filter((r) => r.sink === sink);
  for (const [q, n] of counts) if (n > 1) assert.ok(reported.some((r) => q >= r.from && q <= r.to), `${sink}: duplicate ${q} was reported`);
  const dups = seqs.length - counts.size;
  const n = reported.reduce((a, r) => a + r.n, 0);
  assert.ok(dups <= n, `${sink}: ${dups} duplicates <= ${n} re-sent and reported`);
  return { dups, reported: n };
}

describe('relp:// against rsyslogd (imrelp)', { skip }, () => {
  let t: ReturnType<typeof tempDir>;
  let rs: Rsyslog;
  before(async () => {
    t = tempDir('relp');
    rs = await makeRsyslog(t.dir);
    await rs.start();
  });
  after(async () => {
    await rs?.stop();
    t?.done();
  });
  const arrived = (app: string) => seqsInFile(rs.relpOutFile, `|${app}|`);

  it('delivers exactly the records sent, in order, with the record id', async () => {
    const N = 20_000;
    const spec = parseSinkUrl(`relp://127.0.0.1:${rs.relpPort}?app=exact&policy=block&window=64&batch=100`, 'test');
    const logs: string[] = [];
    const d = new Delivery({ name: 'relp', sink: createSink(spec), ...spec.delivery, log: (l) => logs.push(l) });
    await d.open();
    for (let i = 0; i < N; i += 1000) await d.push(Array.from({ length: 1000 }, (_, k) => record(i + k + 1, 40, 'h1', 'b1')));
    await until(() => d.idle(), 30_000, 'all acknowledged');
    await d.close();
    const st = d.stats();
    assert.equal(st.delivered, N);
    assert.equal(st.duplicatesResent, 0);
    assert.deepEqual(st.dropped, {});
    // answered = written (the RELP ruleset has no queue in memory)
    const seqs = arrived('exact');
    assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i + 1));
    const line = readFileSync(rs.relpOutFile, 'utf8').split('\n').find((l) => l.includes('|exact|')) ?? '';
    assert.match(line, /^imrelp\|1\|exact\|\[falconet@32473 id="h1:b1:1" kind="file"\]\|\{"seq":0000000001,/);
    assert.deepEqual(logs, [], 'no errors, no re-sends');
  });

  it('rsyslog SIGKILLed 5 times mid-stream, 4 of them while it takes a backlog: delivered-unique = produced exactly, duplicates reported', async () => {
    const app = 'rskill';
    const total = 240_000;
    const g = runGen({
      sinks: [{ name: app, url: `relp://127.0.0.1:${rs.relpPort}?app=${app}&batch=64&retry_min=20ms&retry_max=200ms&spool=${join(t.dir, 'spool-rskill')}` }],
      total,
      rate: 20_000,
      ckptDir: t.dir,
      pad: 60,
      drainMs: 60_000,
    });
    await until(() => g.stderr.includes('gen: resuming'), 10_000, 'generator started');
    await sleep(1000);
    await rs.stop('SIGKILL');
    await sleep(6000); // 120,000 records wait in the spool
    await rs.start();
    for (let k = 0; k < 4; k++) {
      await sleep(150);
      assert.equal(g.proc.exitCode, null, 'the stream is still running');
      await rs.stop('SIGKILL');
      await sleep(500);
      await rs.start();
    }
    const r = await g.done;
    assert.equal(r.code, 0, g.stderr.slice(-2000));
    const res = r.results[0]!;
    assert.deepEqual(res.stats.dropped, {});
    assert.match(g.stderr, /sink rskill: down: .*(ECONNRESET|connection closed|EPIPE)/);
    await until(() => new Set(arrived(app)).size >= total, 15_000, 'all written');
    const a = audit(arrived(app), total, g.stderr, app);
    assert.equal(res.stats.duplicatesResent, a.reported, 'the delivery counted what it reported');
    console.log(`# rsyslog SIGKILLed 5 times: ${total} records, ${a.dups} duplicates, ${a.reported} re-sent and reported`);
  });

  it('the delivering process SIGKILLed twice with a spool: delivered-unique = produced exactly, duplicates reported', async () => {
    const app = 'genkill';
    const total = 60_000;
    const cfg = {
      sinks: [{ name: app, url: `relp://127.0.0.1:${rs.relpPort}?app=${app}&batch=64&retry_min=20ms&retry_max=200ms&spool=${join(t.dir, 'spool-genkill')}` }],
      total,
      rate: 15_000,
      ckptDir: t.dir,
      pad: 60,
      drainMs: 60_000,
    };
    let stderr = '';
    for (let k = 0; k < 2; k++) {
      const g = runGen(cfg);
      await until(() => g.stderr.includes('gen: resuming'), 10_000, 'generator started');
      await sleep(1200);
      assert.equal(g.proc.exitCode, null, 'killed mid-stream');
      await g.kill();
      stderr += g.stderr;
    }
    const g = runGen(cfg);
    const r = await g.done;
    stderr += g.stderr;
    assert.equal(r.code, 0, g.stderr.slice(-2000));
    assert.deepEqual(r.results[0]!.stats.dropped, {});
    assert.equal((stderr.match(/gen: resuming at (\d+)/g) ?? []).length, 3);
    await until(() => new Set(arrived(app)).size >= total, 15_000, 'all written');
    const a = audit(arrived(app), total, stderr, app);
    console.log(`# generator SIGKILLed twice: ${total} records, ${a.dups} duplicates, ${a.reported} re-sent and reported`);
  });
});

describe('relp:// against a stub server', () => {
  /** Delivers 1..n through a Delivery (memory queue) to the stub; returns the log and stats. */
  async function deliver(stub: RelpStub, n: number): Promise<{ logs: string[]; stats: ReturnType<Delivery['stats']> }> {
    const port = await stub.listen();
    const spec = parseSinkUrl(`relp://127.0.0.1:${port}?app=stub&policy=block&batch=50&window=32&retry_min=5ms&retry_max=20ms`, 'test');
    const logs: string[] = [];
    const d = new Delivery({ name: 'relp', sink: createSink(spec), ...spec.delivery, log: (l) => logs.push(l) });
    await d.open();
    await d.push(Array.from({ length: n }, (_, i) => record(i + 1, 20, 'h1', 'b1')));
    await until(() => d.idle(), 30_000, 'all acknowledged');
    await d.close();
    await stub.close();
    return { logs, stats: d.stats() };
  }
  const seqOf = (msg: string) => parseSeq(msg)!;

  it('records answered with an error are sent again, never dropped; re-sends counted; the log names the transaction and the text', async () => {
    const refused = new Set<number>();
    // every 50th record is refused the first time it comes
    const stub = new RelpStub((msg): StubAnswer => {
      const q = seqOf(msg);
      if (q % 50 === 7 && !refused.has(q)) {
        refused.add(q);
        return { code: 500, text: 'queue full, try again' };
      }
      return { code: 200, text: 'OK' };
    });
    const N = 2000;
    const { logs, stats } = await deliver(stub, N);
    assert.equal(refused.size, 40);
    const counts = tally(stub.stored.map(seqOf));
    assert.equal(counts.size, N, 'every record stored');
    for (const q of refused) assert.ok(counts.has(q), `refused record ${q} stored later`);
    const dups = stub.stored.length - N;
    assert.deepEqual(stats.dropped, {});
    assert.equal(stats.delivered >= N, true);
    assert.ok(stats.duplicatesResent >= dups && stats.duplicatesResent > 0, `${dups} duplicates <= ${stats.duplicatesResent} counted`);
    assert.ok(logs.some((l) => /down: relp:tcp:127\.0\.0\.1:\d+: the server refused the record of transaction \d+: 500 queue full, try again$/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /re-sending \d+ records that may have been delivered already/.test(l)));
  });

  it('serverclose: the session ends, what was not answered is sent again on a new one', async () => {
    let closedOnce = false;
    const stub = new RelpStub((msg): StubAnswer => {
      if (seqOf(msg) === 777 && !closedOnce) {
        closedOnce = true;
        return { serverclose: true };
      }
      return { code: 200, text: 'OK' };
    });
    const N = 1500;
    const { logs, stats } = await deliver(stub, N);
    assert.equal(stub.connections, 2);
    const counts = tally(stub.stored.map(seqOf));
    assert.equal(counts.size, N);
    assert.deepEqual(stats.dropped, {});
    assert.ok(stats.duplicatesResent >= stub.stored.length - N);
    assert.ok(logs.some((l) => /down: relp:tcp:\S+: the server closed the session \(serverclose\)/.test(l)), logs.join('\n'));
  });

  it('a malformed frame from the server: a clear error with its byte offset, then a new session', async () => {
    let bad = false;
    const stub = new RelpStub((msg): StubAnswer => {
      if (seqOf(msg) === 300 && !bad) {
        bad = true;
        return { garbage: '17 rsp 6 200 OKX' };
      }
      return { code: 200, text: 'OK' };
    });
    const N = 1000;
    const { logs, stats } = await deliver(stub, N);
    assert.equal(stub.connections, 2);
    assert.equal(tally(stub.stored.map(seqOf)).size, N);
    assert.deepEqual(stats.dropped, {});
    // the bad byte is the X after "17 rsp 6 " and 6 bytes of data: offset of the frame + 15
    const at = stub.garbageAt + 15;
    assert.ok(logs.some((l) => l.includes(`malformed RELP frame at byte ${at}: expected the end of frame (LF) after 6 bytes of data, got "X"`)), `offset ${at}: ${logs.join('\n')}`);
  });

  it('a server that does not offer the syslog command is refused, nothing is sent', async () => {
    let syslogFrames = 0;
    const srv = createServer((s) => {
      s.on('data', (d: Buffer) => {
        if (d.toString().startsWith('1 open ')) s.write(encodeRelpFrame(1, 'rsp', '200 OK\nrelp_version=0\ncommands=other'));
        if (d.toString().includes(' syslog ')) syslogFrames++;
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const sink = createSink(parseSinkUrl(`relp://127.0.0.1:${port}`, 'test'));
    await assert.rejects(sink.send([record(1, 1, 'h', 'b')]), (e: Error) => e.name === 'SinkUnavailableError' && /does not offer the syslog command/.test(e.message));
    await sink.close();
    await new Promise<void>((r) => srv.close(() => r()));
    assert.equal(syslogFrames, 0);
  });
});
