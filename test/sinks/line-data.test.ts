// Records as lines for the line sinks (src/sinks/line-data.ts): runs laid out as lines are
// written from where they lie, everything else is copied, and nothing outside a record's own
// bytes is trusted unless a layout of lines put it there. The CI run that found this: a spool
// frame decoded from the spool's memory was the last record of its slab; the stale byte after
// it read as a newline, so the file sink wrote a view one byte past the record, and the spool's
// writer put the next frame's length ('j', 106) there before the write ran: two records on one
// line, one lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeInto, RunDecoder } from '../../src/sinks/record-frame.js';
import { encodeLinesInto, joinLines, lineChunks } from '../../src/sinks/line-data.js';
import type { SinkItem } from '../../src/pipeline/types.js';

const item = (seq: number, text: string): SinkItem => ({ id: { host: 'h', boot: 'b', seq: BigInt(seq) }, kind: 'file', data: Buffer.from(text) });
const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString();

test('a spool frame alone is copied: a stale newline after it is not written, nor what the writer puts there later', () => {
  const slab = Buffer.alloc(4096, 0x0a); // stale memory after the frames: newlines
  const items = [item(1, '{"seq":1}'), item(2, '{"seq":2}')];
  const ends = encodeInto(items, 0, 2, slab, 0, true);
  const dec = new RunDecoder();
  const last = dec.decode(slab, ends[0]!, ends[1]!); // the slab's last frame
  for (const batch of [[last], [dec.decode(slab, 0, ends[0]!), last]]) {
    const chunks = lineChunks(batch);
    const joined = joinLines(batch);
    slab.fill(0x6a, ends[1]!); // the writer appends the next frame where the stale bytes were
    const want = batch.map((b) => `${Buffer.from(b.data).toString()}\n`).join('');
    assert.equal(text(chunks), want);
    assert.equal(joined.toString(), want);
    slab.fill(0x0a, ends[1]!);
  }
});

test('a run laid out as lines is one view (no copy); mixed batches keep order and one newline each', () => {
  const items = [item(1, 'alpha'), item(2, 'beta'), item(3, 'gamma'), item(4, 'delta')];
  const buf = Buffer.alloc(64, 0x7a);
  const ends = encodeLinesInto(items, 0, 4, buf, 3);
  const lines = items.map((_, k) => ({ ...items[k]!, data: buf.subarray(3 + (k ? ends[k - 1]! : 0), 3 + ends[k]! - 1) }));
  const chunks = lineChunks(lines);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.buffer, buf.buffer); // written from where it lies
  assert.equal(text(chunks), 'alpha\nbeta\ngamma\ndelta\n');
  assert.equal(joinLines(lines).buffer, buf.buffer);
  // a copied record between two runs; records that end with their own newline get no second one
  const mixed = [lines[0]!, lines[1]!, item(9, 'own\n'), item(10, 'copied'), lines[2]!, lines[3]!];
  const m = lineChunks(mixed);
  assert.equal(text(m), 'alpha\nbeta\nown\ncopied\ngamma\ndelta\n');
  assert.equal(joinLines(mixed).toString(), 'alpha\nbeta\nown\ncopied\ngamma\ndelta\n');
  assert.equal(m.length, 3);
  assert.equal(m[0]!.buffer, buf.buffer);
  assert.equal(m[2]!.buffer, buf.buffer);
  // one record alone, even laid out as a line, is copied (its next byte proves nothing)
  const one = lineChunks([lines[1]!]);
  assert.notEqual(one[0]!.buffer, buf.buffer);
  assert.equal(text(one), 'beta\n');
  assert.equal(text(lineChunks([])), '');
});

test('stdout\'s direct delivery frames the same way: runs as one view, a record alone copied, one newline each', async () => {
  const { framed } = await import('../../src/pipeline/delivery-port.js');
  const items = [item(1, 'alpha'), item(2, 'beta'), item(3, 'gamma')];
  const buf = Buffer.alloc(64, 0x0a);
  const ends = encodeLinesInto(items, 0, 3, buf, 0);
  const lines = items.map((_, k) => ({ ...items[k]!, data: buf.subarray(k ? ends[k - 1]! : 0, ends[k]! - 1) }));
  const all = framed(lines);
  assert.equal(all.buffer, buf.buffer);
  assert.equal(all.toString(), 'alpha\nbeta\ngamma\n');
  const alone = framed([lines[2]!]); // a record alone: its next byte is not trusted
  buf[ends[2]! - 1] = 0x6a; // the byte after it changes once framed (as a spool's writer can)
  assert.equal(alone.toString(), 'gamma\n');
  assert.equal(framed([lines[0]!, item(7, 'x'), lines[1]!, lines[2]!]).toString(), 'alpha\nx\nbeta\ngamma\n');
});
