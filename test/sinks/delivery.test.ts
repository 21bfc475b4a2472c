// Delivery: overload policies with exact drop counts, retries that lose nothing and report
// re-sends, partial failures, and the spool path (sink down → records wait on disk → restart).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Delivery, type DeliveryOptions } from '../../src/sinks/delivery.js';
import { itemBytes } from '../../src/sinks/backlog.js';
import { FakeSink, items, seqOf, tempDir, until } from './helpers.js';

const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);

function mk(sink: FakeSink, o: Partial<DeliveryOptions>, lines: string[] = []): Delivery {
  return new Delivery({ name: 'fake', sink, policy: 'drop_newest', maxBytes: 1 << 20, retry: { minMs: 5, maxMs: 20 }, log: (l) => lines.push(l), ...o });
}

describe('delivery: overload policies (memory queue)', () => {
  const per = itemBytes(items(1, 1)[0]!); // every test record has the same size (seq < 10)
  const cap = per * 10;

  for (const policy of ['drop_newest', 'reject'] as const) {
    it(`${policy}: a stalled sink; the queue holds its bound and every refusal is counted`, async () => {
      const sink = new FakeSink();
      sink.stall();
      const d = mk(sink, { policy, maxBytes: cap, batchMax: 1 });
      await d.open();
      await d.push(items(1, 1));
      await until(() => sink.sends === 1, 2000, 'first send'); // record 1 is held by the stalled send
      assert.deepEqual(await d.push(items(2, 8)), { accepted: 8, refused: 0, dropped: {} });
      // 1 in flight + 8 queued: room for exactly 1 more
      const r2 = await d.push(items(1, 5).map((x, i) => ({ ...x, id: { ...x.id, seq: BigInt(i + 10) } })));
      assert.deepEqual(r2, { accepted: 1, refused: 4, dropped: { [policy === 'reject' ? 'rejected' : 'queue_full']: 4 } });
      const st = d.stats();
      assert.deepEqual(st.dropped, { [policy === 'reject' ? 'rejected' : 'queue_full']: 4 });
      assert.ok(st.queueBytes <= cap);
      sink.unstall();
      await d.close({ drainMs: 2000 });
      assert.equal(sink.received.length, 10);
      assert.equal(d.stats().delivered, 10);
    });
  }

  it('drop_oldest: the oldest records not yet handed to the sink make room, counted', async () => {
    const sink = new FakeSink();
    sink.stall();
    const d = mk(sink, { policy: 'drop_oldest', maxBytes: cap, batchMax: 1 });
    await d.open();
    await d.push(items(1, 1));
    await until(() => sink.sends === 1, 2000, 'first send'); // record 1 is in flight
    await d.push(items(2, 8));
    assert.deepEqual(await d.push(items(1, 9).map((x, i) => ({ ...x, id: { ...x.id, seq: BigInt(100 + i) } }))), { accepted: 9, refused: 0, dropped: {} });
    assert.deepEqual(d.stats().dropped, { queue_full: 8 });
    sink.unstall();
    await d.close({ drainMs: 2000 });
    assert.deepEqual(sink.received.map(seqOf), [1, ...range(100, 9)]);
  });

  it('block: push waits for room and nothing is dropped', async () => {
    const sink = new FakeSink();
    sink.stall();
    const d = mk(sink, { policy: 'block', maxBytes: cap, batchMax: 2 });
    await d.open();
    let done = false;
    const p = d.push(items(1, 30)).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(done, false, 'blocked while the sink is stalled');
    assert.ok(d.stats().queueBytes <= cap);
    sink.unstall();
    assert.deepEqual(await p, { accepted: 30, refused: 0, dropped: {} });
    await d.close({ drainMs: 2000 });
    assert.deepEqual(sink.received.map(seqOf), range(1, 30));
    assert.deepEqual(d.stats().dropped, {});
  });

  it('without a spool, what is left at close is counted as dropped at shutdown', async () => {
    const sink = new FakeSink();
    sink.up = false;
    const d = mk(sink, {});
    await d.open();
    await d.push(items(1, 25));
    await d.close({ drainMs: 50 });
    const st = d.stats();
    assert.equal(st.accepted, 25);
    assert.equal(st.delivered, 0);
    assert.deepEqual(st.dropped, { shutdown: 25 });
  });
});

describe('delivery: failures', () => {
  it('a sink that goes down and comes back gets every record in order; re-sends are counted and reported', async () => {
    const sink = new FakeSink();
    const lines: string[] = [];
    // confirmation window: batches sent just before the failure are re-sent
    const d = mk(sink, { batchMax: 10, confirmMs: 10_000 }, lines);
    await d.open();
    await d.push(items(1, 30));
    await until(() => sink.received.length === 30, 2000, '30 received');
    sink.up = false;
    await d.push(items(31, 10));
    await until(() => !d.stats().sinkUp, 2000, 'down');
    sink.up = true;
    await until(() => sink.received.length === 70, 2000, 'all received');
    await d.close({ drainMs: 2000 });
    const got = sink.received.map(seqOf);
    // first delivery 1..30, then a re-send of 1..30 (unconfirmed) and 31..40
    assert.deepEqual(got, [...range(1, 30), ...range(1, 40)]);
    const st = d.stats();
    assert.equal(st.duplicatesResent, 30);
    assert.equal(st.delivered, 40);
    assert.ok(lines.some((l) => /re-sending 10 records that may have been delivered already: h1:b1:1 \.\. h1:b1:10/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /down: fake sink is down/.test(l)));
  });

  it('partial failures: only the failed items are re-sent; permanent rejections are counted', async () => {
    const sink = new FakeSink();
    sink.partial = (batch, call) => {
      if (call !== 1) return [];
      return [
        { index: 2, retry: true, reason: '429' },
        { index: 5, retry: false, reason: 'mapping error' },
      ];
    };
    const lines: string[] = [];
    const d = mk(sink, { batchMax: 8 }, lines);
    await d.open();
    await d.push(items(1, 8));
    await until(() => sink.received.length === 7, 2000, 'received');
    await d.close();
    assert.deepEqual(sink.received.map(seqOf), [1, 2, 4, 5, 7, 8, 3]);
    assert.deepEqual(d.stats().dropped, { sink_rejected: 1 });
    assert.ok(lines.some((l) => l.includes('record h1:b1:6 rejected: mapping error')));
  });
});

describe('delivery: spool', () => {
  it('records wait on disk while the sink is down, survive a restart, and arrive once', async () => {
    const t = tempDir('delivery');
    try {
      const down = new FakeSink();
      down.up = false;
      const spool = { dir: t.dir, maxBytes: 16 << 20 };
      let d = mk(down, { spool });
      await d.open();
      assert.deepEqual(await d.push(items(1, 500)), { accepted: 500, refused: 0, dropped: {} });
      assert.equal(d.stats().accepted, 500);
      await d.close({ drainMs: 20 });
      assert.deepEqual(d.stats().dropped, {}, 'a spool drops nothing at shutdown');
      const sink = new FakeSink();
      d = mk(sink, { spool });
      await d.open();
      assert.equal(d.lastAcceptedId()?.seq, 500n);
      await until(() => sink.received.length === 500, 5000, 'drained');
      await d.push(items(501, 10));
      await d.close();
      assert.deepEqual(sink.received.map(seqOf), range(1, 510));
      assert.equal(d.stats().duplicatesResent, 0);
    } finally {
      t.done();
    }
  });

  it('at the cap: drop_newest counts spool_full; block waits for the sink', async () => {
    const t = tempDir('delivery');
    try {
      const sink = new FakeSink();
      sink.up = false;
      const spool = { dir: t.dir, maxBytes: 256 << 10, segmentBytes: 64 << 10 };
      let d = mk(sink, { spool });
      await d.open();
      let accepted = 0;
      for (let i = 0; i < 40; i++) accepted += (await d.push(items(1 + i * 100, 100, 60))).accepted;
      const st = d.stats();
      assert.ok(accepted < 4000 && accepted > 1000, `accepted ${accepted}`);
      assert.deepEqual(st.dropped, { spool_full: 4000 - accepted });
      assert.ok(st.spoolBytes <= 256 << 10, `spool bytes ${st.spoolBytes}`);
      await d.close({ drainMs: 10 });

      d = mk(sink, { spool, policy: 'block' });
      await d.open();
      let done = false;
      const p = d.push(items(5000, 500, 60)).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(done, false, 'blocked at the cap');
      sink.up = true;
      await p;
      await until(() => sink.received.length === accepted + 500, 5000, 'all');
      await d.close();
      assert.deepEqual(d.stats().dropped, {});
      const got = sink.received.map(seqOf);
      assert.deepEqual(got.slice(-500), range(5000, 500));
    } finally {
      t.done();
    }
  });
});

describe('delivery: close of a finite run (whileProgressing)', () => {
  // The sink completes one send every 500 ms: 8 records take ~4 s, longer than the 2.5 s drain
  // bound, with every gap 2 s inside it (only an event-loop stall over 2 s could fail the first
  // case; a slower machine only makes the second deliver fewer).
  const paced = async (whileProgressing: boolean): Promise<Delivery> => {
    const sink = new FakeSink();
    sink.stall();
    const d = mk(sink, { policy: 'block', batchMax: 1 });
    await d.open();
    await d.push(items(1, 8));
    const closed = d.close({ drainMs: 2500, whileProgressing });
    let done = false;
    void closed.then(() => { done = true; });
    for (let i = 0; i < 8 && !done; i++) {
      await new Promise((r) => setTimeout(r, 500));
      sink.unstall(); // the waiting send completes; the next one waits again
      sink.stall();
    }
    sink.unstall();
    await closed;
    return d;
  };

  it('a slow but working sink gets every record before close returns', async () => {
    const d = await paced(true);
    assert.equal(d.stats().delivered, 8);
    assert.deepEqual(d.stats().dropped, {});
  });

  it('without it, close gives up after drainMs and counts the rest as dropped at shutdown', async () => {
    const d = await paced(false);
    const st = d.stats();
    assert.ok(st.delivered < 8, `delivered ${st.delivered}`);
    assert.equal(st.delivered + (st.dropped['shutdown'] ?? 0), 8);
  });
});
