// The frame splitter joins only an unfinished frame with the head of the next chunk and splits
// the rest of a chunk where it lies: any chunking gives the same frames (kind, flags, body,
// stream offset), and a bad header the same FrameError (same byte offset), as the whole stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameError, FrameSplitter, type Frame } from '../../src/sensor/frames.js';
import { decodeFrame } from '../../src/sensor/decode.js';
import { end, fileRecord, hello, procRecord, records, sockRecord, stats } from './stream-builder.js';

const stream = Buffer.concat([
  hello(),
  records(Array.from({ length: 40 }, (_, i) => fileRecord({ pid: 100 + i, path: `/tmp/f-${i}` }))),
  stats(),
  records([fileRecord({ path: '/a' })]),
  records(Array.from({ length: 3 }, (_, i) => fileRecord({ pid: 7, path: `/var/x/${i}` }))),
  end(),
]);

const shape = (fs: Frame[]) => fs.map((f) => ({ kind: f.kind, flags: f.flags, offset: f.offset, body: Buffer.from(f.body).toString('hex') }));

function chunked(s: Buffer, sizes: () => number): { frames: Frame[]; error?: string; leftover: number } {
  const sp = new FrameSplitter();
  const frames: Frame[] = [];
  try {
    for (let p = 0; p < s.length;) {
      const n = Math.min(s.length - p, sizes());
      // each chunk its own buffer, as a stream hands them over
      frames.push(...sp.push(Buffer.from(s.subarray(p, p + n))));
      p += n;
    }
  } catch (e) {
    assert.ok(e instanceof FrameError);
    return { frames, error: e.message, leftover: sp.leftover };
  }
  return { frames, leftover: sp.leftover };
}

test('any chunking gives the frames of the whole stream', () => {
  const whole = shape(new FrameSplitter().push(stream));
  assert.equal(whole.length, 6);
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (const max of [1, 3, 8, 9, 17, 100, 1000, 5000, stream.length]) {
    for (let round = 0; round < 20; round++) {
      const got = chunked(stream, () => 1 + rnd(max));
      assert.deepEqual(shape(got.frames), whole, `chunks up to ${max} bytes`);
      assert.equal(got.leftover, 0);
    }
  }
});

test('a bad header gives the same error at the same offset however the stream is cut', () => {
  const bad = Buffer.from(stream);
  const frames = new FrameSplitter().push(stream);
  const third = frames[2]!.offset; // the stats frame's header
  bad.writeUInt16LE(99, third + 4);
  const want = chunked(bad, () => bad.length).error;
  assert.match(want!, new RegExp(`at byte offset ${third}$`));
  let seed = 11;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (const max of [1, 5, 8, 64, 4096]) {
    for (let round = 0; round < 10; round++) {
      const got = chunked(bad, () => 1 + rnd(max));
      assert.equal(got.error, want, `chunks up to ${max} bytes`);
      // frames finished by the push that meets the bad header are not returned (as before)
      assert.ok(got.frames.length <= 2);
    }
  }
});

test('a stream cut inside a frame leaves exactly the unfinished bytes', () => {
  // the end frame is 8 bytes: cutting 20 leaves the last records frame unfinished
  const cut = stream.length - 20;
  const lastRecords = new FrameSplitter().push(stream)[4]!.offset;
  for (const size of [1, 7, 64, cut]) {
    const got = chunked(stream.subarray(0, cut), () => size);
    assert.equal(got.error, undefined);
    assert.equal(got.frames.length, 4);
    assert.equal(got.leftover, cut - lastRecords);
  }
});

test('a reused join buffer: events decoded before each next push equal the whole stream\'s, however it is cut', () => {
  const mixed = Buffer.concat([
    hello(),
    records(Array.from({ length: 30 }, (_, i) => fileRecord({ pid: 100 + i, path: `/tmp/é-${i}` }))),
    records(Array.from({ length: 12 }, (_, i) => sockRecord({ laddr: [127, 0, 0, 1], raddr: [10, 0, 0, i], lport: i, rport: 80, txFlags: [[2, 1], [16, i]] }))),
    stats(),
    records(Array.from({ length: 20 }, (_, i) => procRecord({ pid: 9 + i, event: 'EXEC', strs: ['/usr/bin/x', 'x', '', `x\0-${i}`] }))),
    end(),
  ]);
  const want = new FrameSplitter().push(mixed).map(decodeFrame);
  let seed = 5;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const bodies = (reuseJoin: boolean, max: number): { events: ReturnType<typeof decodeFrame>[]; joinBuffers: number } => {
    const sp = new FrameSplitter({ reuseJoin });
    const events: ReturnType<typeof decodeFrame>[] = [];
    const joined = new Set<ArrayBufferLike>();
    for (let p = 0; p < mixed.length;) {
      const chunk = Buffer.from(mixed.subarray(p, p + 1 + rnd(max)));
      p += chunk.length;
      for (const f of sp.push(chunk)) {
        if (f.body.length && f.body.buffer !== chunk.buffer) joined.add(f.body.buffer);
        events.push(decodeFrame(f)); // as framesOf does: before the next push
      }
    }
    return { events, joinBuffers: joined.size };
  };
  for (const max of [7, 100, 1000, 20_000]) {
    const r = bodies(true, max);
    assert.deepEqual(r.events, want, `chunks up to ${max} bytes`);
    assert.equal(r.joinBuffers, 1, 'every straddling frame was joined into the one kept buffer');
  }
  assert.ok(bodies(false, 100).joinBuffers > 1, 'without reuseJoin each join has a buffer of its own');
});
