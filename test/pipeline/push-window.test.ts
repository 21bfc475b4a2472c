// Overlapping pushes (push-window.ts): the window bounds outstanding pushes and bytes, keeps push
// order, reports a failed push in order; the runtime overlaps pushes only to deliveries that
// allow it and only when asked, and every push has settled before the deliveries close.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PushWindow } from '../../src/pipeline/push-window.js';
import { Runtime, type OutputNode } from '../../src/pipeline/runtime.js';
import type { DeliveryPort } from '../../src/pipeline/delivery-port.js';
import type { Envelope, SinkItem, Source, SourceEvent } from '../../src/pipeline/types.js';
import { RuntimeCounters } from '../../src/metrics/counters.js';
import { Delivery, SPOOL_PUSH_WINDOW } from '../../src/sinks/delivery.js';
import { FakeSink } from '../sinks/helpers.js';

function deferred(): { p: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const p = new Promise<void>((a, b) => ((resolve = a), (reject = b)));
  return { p, resolve, reject };
}

/** Resolves after every pending microtask and I/O callback of this turn. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('push window', () => {
  it('waits for the oldest push once the count or the bytes are reached', async () => {
    const w = new PushWindow({ pushes: 3, bytes: 100 });
    const d = [deferred(), deferred(), deferred(), deferred()];
    await w.add(d[0]!.p, 10);
    await w.add(d[1]!.p, 10);
    assert.equal(w.outstanding, 2);
    let third = false;
    const a3 = w.add(d[2]!.p, 10).then(() => (third = true));
    await turn();
    assert.equal(third, false, 'three outstanding: waits');
    d[1]!.resolve(); // a later push done does not free the window: the oldest is awaited
    await turn();
    assert.equal(third, false);
    d[0]!.resolve();
    await a3;
    assert.equal(w.outstanding, 2);
    // bytes: 10 + 10 + 90 > 100 waits until the outstanding bytes fit again
    let fourth = false;
    const a4 = w.add(d[3]!.p, 90).then(() => (fourth = true));
    await turn();
    assert.equal(fourth, true, 'd[1] was already done: shifting it frees 10 bytes, 10 + 90 fits');
    await a4;
    assert.equal(w.outstanding, 2);
    d[2]!.resolve();
    d[3]!.resolve();
    await w.drain();
    assert.equal(w.outstanding, 0);
  });

  it('a failed push is reported in push order, never as an unhandled rejection', async () => {
    const w = new PushWindow({ pushes: 8, bytes: 1 << 20 });
    const d = [deferred(), deferred(), deferred()];
    for (const x of d) await w.add(x.p, 1);
    d[1]!.reject(new Error('disk full'));
    await turn(); // an unhandled rejection would fail the test run here
    d[0]!.resolve();
    d[2]!.resolve();
    await assert.rejects(w.drain(), /disk full/);
    await w.drain(); // the rest settled
    assert.equal(w.outstanding, 0);
  });
});

/** A delivery whose pushes settle 5 ms later (a group commit); it records what the runtime does. */
class SlowPort implements DeliveryPort {
  readonly got: number[] = [];
  outstanding = 0;
  maxOutstanding = 0;
  closedWith = -1;
  constructor(readonly pushWindow: { pushes: number; bytes: number } | undefined) {}
  async open(): Promise<void> {}
  push(items: readonly SinkItem[]): Promise<void> {
    for (const it of items) this.got.push(Number(it.id.seq));
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    return new Promise((r) => setTimeout(() => {
      this.outstanding--;
      r();
    }, 5));
  }
  async close(): Promise<void> {
    this.closedWith = this.outstanding;
  }
  stats() {
    return { accepted: this.got.length, delivered: this.got.length, dropped: {}, queueDepth: 0, spoolBytes: 0, sinkUp: true };
  }
}

function source(batches: number, per: number): Source {
  return {
    name: 'test',
    stop() {},
    async *[Symbol.asyncIterator](): AsyncIterator<SourceEvent> {
      let seq = 0;
      for (let b = 0; b < batches; b++) {
        const records: Envelope[] = [];
        for (let i = 0; i < per; i++) records.push({ kind: 'file', rec: ++seq, id: { host: 'h', boot: 'b', seq: BigInt(seq) } });
        yield { kind: 'records', records };
      }
      yield { kind: 'end' };
    },
  };
}

async function runWith(port: SlowPort, overlapPushes: boolean): Promise<void> {
  const out: OutputNode = { kind: 'output', name: 'o', encoder: { name: 't', encode: (e) => `r${String(e.rec).padStart(3, '0')}` }, deliveries: [port] };
  await new Runtime(source(20, 10), [out], { counters: new RuntimeCounters(), log: () => {}, overlapPushes }).run();
}

describe('runtime: overlapping pushes', () => {
  const all = Array.from({ length: 200 }, (_, i) => i + 1);
  it('keeps up to the delivery\'s window outstanding, in order, all settled before close', async () => {
    const p = new SlowPort({ pushes: 4, bytes: 1 << 20 });
    await runWith(p, true);
    assert.deepEqual(p.got, all);
    assert.equal(p.maxOutstanding, 4);
    assert.equal(p.closedWith, 0);
  });
  it('awaits each push when not asked to overlap, or when the delivery has no window', async () => {
    for (const [port, overlap] of [[new SlowPort({ pushes: 4, bytes: 1 << 20 }), false], [new SlowPort(undefined), true]] as const) {
      await runWith(port, overlap);
      assert.deepEqual(port.got, all);
      assert.equal(port.maxOutstanding, 1);
      assert.equal(port.closedWith, 0);
    }
  });
  it('the byte bound holds too: 40 bytes a push (10 records of 4), 70 allowed → at most 2 outstanding', async () => {
    const p = new SlowPort({ pushes: 100, bytes: 70 });
    await runWith(p, true);
    assert.deepEqual(p.got, all);
    assert.equal(p.maxOutstanding, 2);
  });
});

describe('delivery push window', () => {
  const mk = (maxBytes: number, spool: boolean): Delivery =>
    new Delivery({ name: 'x', sink: new FakeSink(), policy: 'drop_newest', maxBytes, ...(spool ? { spool: { dir: '/nonexistent', maxBytes: 1 << 30 } } : {}) });
  it('a spooled delivery offers four commits of window, never more than a quarter of its queue bound; a memory queue none', () => {
    assert.deepEqual(mk(64 << 20, true).pushWindow, SPOOL_PUSH_WINDOW);
    assert.deepEqual(mk(1 << 20, true).pushWindow, { pushes: SPOOL_PUSH_WINDOW.pushes, bytes: 256 << 10 });
    assert.equal(mk(64 << 20, false).pushWindow, undefined);
  });
});
