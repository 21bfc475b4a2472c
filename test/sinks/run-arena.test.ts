// Frames packed into reusable slabs (src/sinks/run-arena.ts): a slab is reused only when no
// record in it was ever handed out, so data a sink holds is never overwritten.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RunArena, type ArenaRun } from '../../src/sinks/run-arena.js';
import { frameSize, RunDecoder, RUN_BYTES } from '../../src/sinks/record-frame.js';
import { MemoryBacklog } from '../../src/sinks/backlog.js';
import { items, seqOf } from './helpers.js';

const sizesOf = (xs: ReturnType<typeof items>) => xs.map(frameSize);

describe('run arena', () => {
  it('packs pushes into one slab and reuses a slab whose runs are gone and never lent', () => {
    const a = new RunArena(false);
    const first = items(1, 10, 100);
    const r1 = a.encode(first, sizesOf(first)) as ArenaRun[];
    const r2 = a.encode(items(11, 10, 100), sizesOf(items(11, 10, 100))) as ArenaRun[];
    assert.equal(r1[0]!.slab, r2[0]!.slab, 'two pushes share a slab');
    // fill past the slab so it is no longer the tail, then release its runs
    const big = items(100, Math.ceil(RUN_BYTES / 100) + 10, 100);
    const r3 = a.encode(big, sizesOf(big)) as ArenaRun[];
    assert.ok(r3.length >= 2 && r3.at(-1)!.slab !== r1[0]!.slab, 'a new slab once full');
    const old = r1[0]!.slab!;
    for (const r of [...r1, ...r2, ...r3.filter((x) => x.slab === old)]) a.release(r);
    const more = items(5000, Math.ceil(RUN_BYTES / 100) + 10, 100);
    const r4 = a.encode(more, sizesOf(more)) as ArenaRun[];
    assert.ok(r4.some((r) => r.slab === old), 'the released slab is reused');
  });

  it('a slab that lent a record is not reused: the view keeps its bytes', () => {
    const a = new RunArena(false);
    const dec = new RunDecoder();
    const xs = items(1, 50, 100);
    const runs = a.encode(xs, sizesOf(xs)) as ArenaRun[];
    const run = runs[0]!;
    a.lend(run);
    const held = dec.decode(run.buf, 0, run.ends[0]!);
    const before = Buffer.from(held.data).toString();
    // move past the slab and release it
    const big = items(100, Math.ceil(RUN_BYTES / 100) + 10, 100);
    for (const r of a.encode(big, sizesOf(big))) if ((r as ArenaRun).slab === run.slab) a.release(r);
    a.release(run);
    for (let i = 0; i < 4; i++) {
      const more = items(10_000 * (i + 1), Math.ceil(RUN_BYTES / 100) + 10, 100);
      const rs = a.encode(more, sizesOf(more)) as ArenaRun[];
      assert.ok(rs.every((r) => r.slab !== run.slab), 'never handed out again');
    }
    assert.equal(Buffer.from(held.data).toString(), before);
  });

  it('memory queue: records taken by a sink stay intact while the queue keeps turning over', () => {
    const q = new MemoryBacklog();
    const xs = items(1, 5000, 80);
    q.pushItems(xs, sizesOf(xs));
    const t = q.take(100, 1 << 30)!;
    const copies = t.items.map((i) => Buffer.from(i.data).toString());
    q.confirm(t.mark);
    for (let round = 0; round < 20; round++) {
      const ys = items(10_000 + round * 5000, 5000, 80);
      q.pushItems(ys, sizesOf(ys));
      for (;;) {
        const u = q.take(512, 1 << 30);
        if (!u) break;
        q.confirm(u.mark);
      }
    }
    assert.deepEqual(t.items.map((i) => Buffer.from(i.data).toString()), copies);
    assert.deepEqual(t.items.map(seqOf), Array.from({ length: 100 }, (_, i) => i + 1));
    assert.equal(q.bytes, 0);
    assert.equal(q.depth, 0);
  });
});
