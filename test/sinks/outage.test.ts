// rsyslog is SIGKILLed for 30 s in the middle of a 5,000 records/s stream (issue 11). Two
// streams run through the same outage at once (one with a spool, one without), so the test
// costs one outage: ~45 s.
// Spool on: nothing is lost and the order of first arrivals is kept; every duplicate was reported.
// Spool off (small memory queue): the drop counter equals the number of missing records.
// Restart: the delivering process is SIGKILLed while records are spooled, then restarted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseSeq } from './gen.js';
import { reportedResends, runGen, tally, type GenResult } from './gen-run.js';
import { makeRsyslog, type Rsyslog } from './rsyslog-harness.js';
import { tempDir, until } from './helpers.js';

const RATE = 5000;
const OUTAGE_MS = 30_000;
/** the stream: 2 s before the outage, the outage, 5 s after */
const TOTAL = ((2000 + OUTAGE_MS + 5000) / 1000) * RATE;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rsyslog outage and agent restart', () => {
  let t: ReturnType<typeof tempDir>;
  let rs: Rsyslog;
  before(async () => {
    t = tempDir('outage');
    rs = await makeRsyslog(t.dir);
  });
  after(async () => {
    await rs?.stop();
    t?.done();
  });

  /** seqs that arrived at rsyslog from a sink, in arrival order */
  const arrived = (app: string) => rs.lines().filter((l) => l.includes(`|${app}|`)).map((l) => parseSeq(l)!).filter((q) => q !== null);

  type Outcome = { res: GenResult; stderr: string };
  let both: Promise<{ on: Outcome; off: Outcome }> | null = null;

  /** Both streams, through one 30 s outage of rsyslog (started once, shared by the two tests). */
  function streamsWithOutage(): Promise<{ on: Outcome; off: Outcome }> {
    both ??= (async () => {
      await rs.start();
      const gen = (app: string, extra: string) =>
        runGen({ sinks: [{ name: app, url: `syslog+tcp://127.0.0.1:${rs.tcpPort}?app=${app}&retry_min=50ms&retry_max=300ms${extra}` }], total: TOTAL, rate: RATE, ckptDir: t.dir, pad: 60, drainMs: 60_000 });
      const on = gen('spoolon', `&spool=${join(t.dir, 'spool-on')}`);
      const off = gen('spooloff', '&queue=512KB');
      await sleep(2000);
      await rs.stop('SIGKILL');
      await sleep(OUTAGE_MS);
      await rs.start();
      const [a, b] = [await on.done, await off.done];
      assert.equal(a.code, 0, on.stderr);
      assert.equal(b.code, 0, off.stderr);
      return { on: { res: a.results[0]!, stderr: on.stderr }, off: { res: b.results[0]!, stderr: off.stderr } };
    })();
    return both;
  }

  it('spool on: nothing lost, order kept, every duplicate reported', async () => {
    const total = TOTAL;
    const { res, stderr } = (await streamsWithOutage()).on;
    await until(() => new Set(arrived('spoolon')).size >= total, 10_000, 'all arrived');
    const seqs = arrived('spoolon');
    const counts = tally(seqs);
    assert.equal(counts.size, total, 'every record arrived');
    for (let q = 1; q <= total; q++) assert.ok(counts.has(q), `record ${q}`);
    // order: the first arrival of each record comes after the first arrival of the one before
    const seen = new Set<number>();
    let prev = 0;
    for (const q of seqs) {
      if (seen.has(q)) continue;
      seen.add(q);
      assert.equal(q, prev + 1, 'first arrivals in order');
      prev = q;
    }
    const dups = seqs.length - counts.size;
    const reported = reportedResends(stderr);
    assert.equal(res.stats.duplicatesResent, reported.reduce((n, r) => n + r.n, 0));
    for (const [q, n] of counts) if (n > 1) assert.ok(reported.some((r) => q >= r.from && q <= r.to), `duplicate ${q} was reported`);
    assert.ok(dups <= res.stats.duplicatesResent, `${dups} duplicates <= ${res.stats.duplicatesResent} reported`);
    assert.deepEqual(res.stats.dropped, {});
    console.log(`# outage with spool: ${total} records, ${dups} duplicates at rsyslog, ${res.stats.duplicatesResent} re-sent and reported`);
  });

  it('spool off: the drop counter equals the number of missing records', async () => {
    const total = TOTAL;
    const { res } = (await streamsWithOutage()).off;
    const dropped = Object.values(res.stats.dropped).reduce((a, b) => a + b, 0);
    await until(() => new Set(arrived('spooloff')).size + dropped >= total, 10_000, 'all arrived or dropped');
    await sleep(300);
    const counts = tally(arrived('spooloff'));
    const missing = total - counts.size;
    assert.ok(dropped > 0, 'the outage overflowed the small queue');
    assert.equal(dropped, missing, `dropped ${JSON.stringify(res.stats.dropped)} vs missing ${missing}`);
    console.log(`# outage without spool: ${missing} missing = ${dropped} dropped (${JSON.stringify(res.stats.dropped)})`);
  });

  it('restart: SIGKILL while records are spooled; after the restart they arrive once, duplicates counted', async () => {
    await rs.start();
    const app = 'restart';
    const url = `syslog+tcp://127.0.0.1:${rs.tcpPort}?app=${app}&retry_min=50ms&retry_max=300ms&spool=${join(t.dir, 'spool-restart')}`;
    const total = 4 * RATE;
    const cfg = { sinks: [{ name: app, url }], total, rate: RATE, ckptDir: t.dir, pad: 60, drainMs: 30_000 };
    let g = runGen(cfg);
    await sleep(1000);
    await rs.stop('SIGTERM'); // records start to wait in the spool
    await sleep(1000);
    await g.kill();
    let stderr = g.stderr;
    await rs.start();
    g = runGen(cfg);
    const r = await g.done;
    stderr += g.stderr;
    assert.equal(r.code, 0, g.stderr);
    await until(() => new Set(arrived(app)).size >= total, 10_000, 'all arrived');
    const seqs = arrived(app);
    const counts = tally(seqs);
    assert.equal(counts.size, total);
    const dups = seqs.length - counts.size;
    const reported = reportedResends(stderr);
    for (const [q, n] of counts) if (n > 1) assert.ok(reported.some((x) => q >= x.from && q <= x.to), `duplicate ${q} was reported`);
    assert.match(g.stderr, /gen: resuming at \d+/);
    console.log(`# restart: ${total} records, ${dups} duplicates, ${reported.reduce((n, x) => n + x.n, 0)} reported`);
  });
});
