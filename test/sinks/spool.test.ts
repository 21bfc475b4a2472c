// The disk spool: framing and CRC, group commit, segments and their deletion, recovery of torn
// tails, lazy start-up, cursors across restarts, the size cap.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../../src/sinks/crc32c.js';
import { checkFrame, decodeFrame, encodeFrame } from '../../src/sinks/record-frame.js';
import { Spool } from '../../src/sinks/spool.js';
import { readSegHeader, segName } from '../../src/sinks/spool-format.js';
import { item, items, seqOf, tempDir } from './helpers.js';

const quiet = (lines: string[]) => (l: string) => lines.push(l);

function segFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
}

function readAll(s: Spool, name = 's'): number[] {
  const out: number[] = [];
  for (;;) {
    const got = s.read(name, 1000, 1 << 20);
    if (!got.length) return out;
    for (const g of got) out.push(seqOf(g.item));
  }
}

describe('crc32c and frames', () => {
  it('matches the published CRC32C check values', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    assert.equal(crc32c(inc), 0x46dd794e);
    // continuing a checksum equals checksumming the concatenation
    const b = Buffer.from('falconet spool record frame');
    assert.equal(crc32c(b, 10, b.length, crc32c(b, 0, 10)), crc32c(b));
  });

  it('round-trips a record id, kind, key and data; a flipped bit is caught', () => {
    const it0 = { id: { host: 'host-ä', boot: 'boot-1', seq: 2n ** 63n + 5n }, kind: 'socket' as const, data: Buffer.from('payload\n'), key: 'k1' };
    const f = encodeFrame(it0);
    assert.deepEqual(checkFrame(f, 0, f.length), { ok: true, size: f.length });
    const back = decodeFrame(f, 0);
    assert.deepEqual({ ...back, data: Buffer.from(back.data).toString() }, { ...it0, data: 'payload\n' });
    for (let bit = 0; bit < f.length * 8; bit += 7) {
      const c = Buffer.from(f);
      c[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(checkFrame(c, 0, c.length).ok, false, `bit ${bit}`);
    }
    assert.deepEqual(checkFrame(f, 0, f.length - 1), { ok: false, why: 'short' });
  });
});

describe('spool', () => {
  it('commits, reads back in order across segments, and deletes acked segments', async () => {
    const t = tempDir('spool');
    try {
      const s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      await s.append(items(1, 3000, 40));
      assert.ok(segFiles(t.dir).length >= 3, 'several segments');
      assert.deepEqual(readAll(s), Array.from({ length: 3000 }, (_, i) => i + 1));
      s.release('s', s.end);
      assert.equal(s.segments().length, 1, 'only the segment being written is kept');
      await s.close(); // waits for the deletions (they run off the event loop)
      assert.equal(segFiles(t.dir).length, 1, 'and only it is left on disk');
    } finally {
      t.done();
    }
  });

  it('a consumer reading from disk gets every record once and intact: small batches across read chunks, frames larger than a chunk', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 256 << 20, consumers: ['s'], log: () => {} });
      // 3 MiB of small records around two records larger than the 1 MiB read chunk
      const big = (seq: number, n: number): ReturnType<typeof item> => item(seq, `{"seq":${seq},"big":"${String.fromCharCode(97 + (seq % 26)).repeat(n)}"}`);
      const all = [...items(1, 15_000, 90), big(15_001, 1_500_000), ...items(15_002, 5_000, 90), big(20_002, 3_000_000), ...items(20_003, 10_000, 90)];
      for (let i = 0; i < all.length; i += 1000) await s.append(all.slice(i, i + 1000));
      await s.close();
      // a restart: nothing is in memory, every read goes to the segment file
      s = await Spool.open({ dir: t.dir, maxBytes: 256 << 20, consumers: ['s'], log: () => {} });
      const got: ReturnType<typeof item>[] = [];
      for (;;) {
        const b = s.read('s', 7, 1 << 20);
        if (!b.length) break;
        for (const g of b) got.push(g.item);
      }
      assert.equal(got.length, all.length);
      // checked after all reads: items handed out earlier are not overwritten by later reads
      for (let i = 0; i < all.length; i++) {
        assert.equal(seqOf(got[i]!), seqOf(all[i]!), `record ${i}`);
        assert.ok(Buffer.from(got[i]!.data).equals(Buffer.from(all[i]!.data)), `data of record ${i + 1}`);
      }
      assert.equal(s.counters.corruptSkippedBytes, 0);
      await s.close();
    } finally {
      t.done();
    }
  });

  it('restart: resumes after the acked cursor and marks the sent-but-unacked range as possible duplicates', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      await s.append(items(1, 1000, 40));
      const got = s.read('s', 300, 1 << 20);
      s.markSent('s', got[299]!.end);
      s.ack('s', got[199]!.end); // 200 confirmed, 100 sent but not confirmed
      // no close: a crash leaves the files as they are (the lock names our own pid, which is allowed)
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      const again = s.read('s', 1000, 1 << 30);
      assert.equal(seqOf(again[0]!.item), 201);
      assert.equal(again.length, 800);
      const maybe = again.filter((g) => s.maybeSentBefore('s', g.end)).map((g) => seqOf(g.item));
      assert.deepEqual(maybe, Array.from({ length: 100 }, (_, i) => 201 + i));
      assert.equal(s.lastAcceptedId?.seq, 1000n);
      await s.close();
    } finally {
      t.done();
    }
  });

  it('ackSoon reaches the disk with the next markSent or persistCursor; a crash before that re-sends the range as possible duplicates', async () => {
    const t = tempDir('spool');
    try {
      const open = () => Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: () => {} });
      let s = await open();
      await s.append(items(1, 100));
      const got = s.read('s', 100, 1 << 30);
      s.markSent('s', got[49]!.end);
      s.ackSoon('s', got[49]!.end); // 1..50 taken by the sink, not written yet
      // a crash now: the restart resumes at the start, and 1..50 count as possible duplicates
      s = await open();
      let again = s.read('s', 1000, 1 << 30);
      assert.equal(seqOf(again[0]!.item), 1);
      assert.deepEqual(again.filter((g) => s.maybeSentBefore('s', g.end)).map((g) => seqOf(g.item)), Array.from({ length: 50 }, (_, i) => i + 1));
      // this time the next markSent carries the ack
      s.markSent('s', again[49]!.end);
      s.ackSoon('s', again[49]!.end);
      s.markSent('s', again[79]!.end);
      s = await open();
      again = s.read('s', 1000, 1 << 30);
      assert.equal(seqOf(again[0]!.item), 51);
      assert.equal(again.filter((g) => s.maybeSentBefore('s', g.end)).length, 30, '51..80 were handed out');
      // and persistCursor (the sender found nothing more to send) writes it alone
      s.markSent('s', again[49]!.end);
      s.ackSoon('s', again[49]!.end);
      s.persistCursor('s');
      s = await open();
      assert.equal(s.read('s', 1000, 1 << 30).length, 0, 'all 100 acked');
      await s.close();
    } finally {
      t.done();
    }
  });

  it('a rewind after a broken connection also moves the persisted cursor back, so a restart re-sends the window', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: () => {} });
      await s.append(items(1, 100));
      const got = s.read('s', 100, 1 << 30);
      s.release('s', got[49]!.end); // 1..50 confirmed for good
      s.markSent('s', got[99]!.end);
      s.ack('s', got[99]!.end); // 51..100 taken by the transport, inside the confirm window
      s.rewind('s'); // the connection broke
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: () => {} }); // and the agent died
      const again = s.read('s', 1000, 1 << 30);
      assert.deepEqual(again.map((g) => seqOf(g.item)), Array.from({ length: 50 }, (_, i) => 51 + i));
      assert.ok(again.every((g) => s.maybeSentBefore('s', g.end)), 'all of them counted as possible duplicates');
      await s.close();
    } finally {
      t.done();
    }
  });

  it('recovery truncates torn tails to the last good record, counts and logs the bytes', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: () => {} });
      await s.append(items(1, 100));
      await s.close();
      const seg = join(t.dir, segFiles(t.dir).at(-1)!);
      const good = statSync(seg).size;
      const torn = encodeFrame(item(101)).subarray(0, 13); // half a frame
      appendFileSync(seg, torn);
      const lines: string[] = [];
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: quiet(lines) });
      assert.equal(statSync(seg).size, good);
      assert.equal(s.counters.truncatedBytes, 13);
      assert.match(lines.join('\n'), /truncated 13 bytes of torn or corrupt tail \(torn\)/);
      assert.deepEqual(readAll(s), Array.from({ length: 100 }, (_, i) => i + 1));
      assert.equal(s.lastAcceptedId?.seq, 100n);
      // a whole frame with a bad CRC, then garbage: cut as well, and the spool carries on
      await s.append(items(101, 1));
      await s.close();
      const size2 = statSync(seg).size;
      const bad = encodeFrame(item(102));
      bad[bad.length - 1]! ^= 0x40;
      appendFileSync(seg, Buffer.concat([bad, Buffer.from('garbage')]));
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: quiet(lines) });
      assert.equal(statSync(seg).size, size2);
      assert.equal(s.counters.truncatedBytes, 13 + bad.length + 7);
      assert.match(lines.at(-1)!, /\(crc\)/);
      assert.deepEqual(readAll(s), Array.from({ length: 101 }, (_, i) => i + 1));
      await s.append(items(102, 2));
      assert.deepEqual(readAll(s), [102, 103]);
      await s.close();
      assert.equal(JSON.parse(readFileSync(join(t.dir, 'stats.json'), 'utf8')).truncatedBytes, 13 + bad.length + 7);
    } finally {
      t.done();
    }
  });

  it('a segment with a torn header (crash while creating it) is removed and counted', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: () => {} });
      await s.append(items(1, 10));
      await s.close();
      writeFileSync(join(t.dir, segName(2)), Buffer.from('FNSPOO'));
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['s'], log: () => {} });
      assert.equal(s.counters.truncatedBytes, 6);
      assert.deepEqual(readAll(s), Array.from({ length: 10 }, (_, i) => i + 1));
      await s.close();
    } finally {
      t.done();
    }
  });

  it('a crash while creating a segment: the segment before it is the last one, scanned for the last accepted id and its torn tail', async () => {
    // found by the 10M fault bench: a commit that rolled wrote its first records into segment N
    // (durable), then died creating N+1. Start-up removed N+1 but took N as an older segment and
    // did not scan it, so the last accepted id was N's predecessor: the producer, resuming after
    // it, produced N's newest records again (duplicates nobody reported); a torn tail in N would
    // have stayed in front of new appends (records after it skipped as corrupt)
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      await s.append(items(1, 3000, 40));
      await s.close();
      const segs = segFiles(t.dir);
      assert.ok(segs.length >= 3, 'several segments');
      const lastGood = join(t.dir, segs.at(-1)!);
      appendFileSync(lastGood, Buffer.from([7, 0, 0]), { flag: 'a' }); // a torn frame header
      const nextNum = Number(segs.at(-1)!.slice(0, 20)) + 1;
      writeFileSync(join(t.dir, segName(nextNum)), Buffer.alloc(0)); // created, header never written
      const lines: string[] = [];
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: quiet(lines) });
      assert.equal(s.lastAcceptedId?.seq, 3000n, 'the last record of the last valid segment');
      assert.ok(lines.some((l) => l.includes(`${segName(nextNum)} has a bad header; removed 0 bytes`)), lines.join('\n'));
      assert.ok(lines.some((l) => /truncated 3 bytes of torn or corrupt tail/.test(l)), lines.join('\n'));
      assert.equal(s.counters.truncatedBytes, 3);
      await s.append(items(3001, 500, 40)); // appended after the cut tail, rolling on from there
      assert.deepEqual(readAll(s), Array.from({ length: 3500 }, (_, i) => i + 1));
      assert.equal(s.counters.corruptSkippedBytes, 0);
      await s.close();
    } finally {
      t.done();
    }
  });

  it('start-up is lazy: only the last segment is scanned; corruption in an older one is found when read', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      await s.append(items(1, 3000, 40));
      await s.close();
      const first = join(t.dir, segFiles(t.dir)[0]!);
      const b = readFileSync(first);
      b[b.length - 20]! ^= 0xff; // inside the last frame of the first segment
      writeFileSync(first, b);
      const lines: string[] = [];
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: quiet(lines) });
      assert.equal(s.counters.corruptSkippedBytes, 0, 'not scanned at start');
      const got = readAll(s);
      assert.ok(s.counters.corruptSkippedBytes > 0);
      assert.match(lines.join('\n'), /crc frame in 0+1\.seg at offset \d+; skipped \d+ bytes/);
      // everything but the one corrupt record (the last of segment 1) comes back, in order
      assert.equal(got.length, 2999);
      assert.deepEqual(got, [...got].sort((x, y) => x - y));
      await s.close();
    } finally {
      t.done();
    }
  });

  it('the cap holds to within one segment; drop_oldest eviction counts the unacked records it deleted', async () => {
    const t = tempDir('spool');
    try {
      const cap = 256 << 10;
      const s = await Spool.open({ dir: t.dir, maxBytes: cap, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      let accepted = 0;
      let evicted = 0;
      for (let seq = 1; seq <= 5000; seq += 50) {
        const batch = items(seq, 50, 60);
        const size = batch.reduce((n, b) => n + encodeFrame(b).length, 0);
        while (!s.fits(size)) {
          const lost = s.evictOldest();
          assert.ok(lost >= 0);
          evicted += lost;
        }
        await s.append(batch);
        accepted += 50;
        if (seq === 2001) readAll(s); // a reader in the middle: what it read is still unacked, so evictions count it
        const onDisk = segFiles(t.dir).reduce((n, f) => n + statSync(join(t.dir, f)).size, 0);
        assert.ok(onDisk <= cap, `on disk ${onDisk} <= cap ${cap}`);
      }
      const left = readAll(s);
      assert.equal(left.length + evicted, accepted);
      assert.equal(left.at(-1), 5000);
      assert.equal(s.counters.evictedRecords, evicted);
      await s.close();
    } finally {
      t.done();
    }
  });

  it('keeps the last accepted id in the next segment header after older segments are deleted', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      await s.append(items(1, 1500, 40));
      readAll(s);
      s.release('s', s.end);
      await s.close();
      // force a fresh empty segment: a writer that rolled just before the crash
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      assert.equal(s.lastAcceptedId?.seq, 1500n);
      await s.close();
    } finally {
      t.done();
    }
  });

  it('refuses a spool that another live process holds', async () => {
    const t = tempDir('spool');
    try {
      writeFileSync(join(t.dir, 'lock'), `${process.ppid}\n`);
      await assert.rejects(Spool.open({ dir: t.dir, maxBytes: 1 << 20, consumers: ['s'] }), /in use by process/);
      truncateSync(join(t.dir, 'lock'));
    } finally {
      t.done();
    }
  });
});

describe('spool segment headers', () => {
  it('a frame corrupted on disk inside an older segment: the rest of that segment is skipped, counted and logged; the next segment is read', async () => {
    const t = tempDir('spool');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      await s.append(items(1, 3000, 40));
      await s.close();
      const files = segFiles(t.dir);
      assert.ok(files.length >= 3, 'several segments');
      // the first segment's frames: start-up scans only the last segment, so this damage is
      // found by the reader
      const first = join(t.dir, files[0]!);
      const buf = readFileSync(first);
      const offs: number[] = [];
      for (let o = readSegHeader(first)!.size; o < buf.length;) {
        const c = checkFrame(buf, o, buf.length);
        assert.ok(c.ok);
        offs.push(o);
        o += c.size;
      }
      const bad = offs[99]!;
      buf[bad + 12]! ^= 0x40; // a body byte: the frame's CRC fails
      writeFileSync(first, buf);
      const lines: string[] = [];
      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: quiet(lines) });
      const skipped = offs.length - 99; // frames 100.. of the first segment
      const want = [...Array.from({ length: 99 }, (_, i) => i + 1), ...Array.from({ length: 3000 - offs.length }, (_, i) => offs.length + 1 + i)];
      assert.deepEqual(readAll(s), want, `${skipped} records of the first segment skipped`);
      assert.equal(s.counters.corruptSkippedBytes, buf.length - bad);
      assert.ok(lines.includes(`spool ${t.dir}: crc frame in ${files[0]} at offset ${bad}; skipped ${buf.length - bad} bytes`), lines.join('\n'));
      await s.close();
    } finally {
      t.done();
    }
  });

  it('a segment started in the middle of a commit names the last record written before it', async () => {
    const t = tempDir('spool');
    try {
      const s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['s'], log: () => {} });
      await s.append(items(1, 3000, 40)); // one commit, several segments
      const lastIn = new Map<number, number>(); // segment -> seq of its last record
      for (;;) {
        const got = s.read('s', 1000, 1 << 30);
        if (!got.length) break;
        for (const g of got) lastIn.set(g.end.seg, seqOf(g.item));
      }
      const segs = s.segments();
      assert.ok(segs.length >= 3, 'several segments');
      for (let i = 1; i < segs.length; i++) {
        const h = readSegHeader(join(t.dir, segName(segs[i]!.seg)))!;
        assert.equal(h.prev?.seq, BigInt(lastIn.get(segs[i - 1]!.seg)!), `header of segment ${segs[i]!.seg}`);
      }
      await s.close();
    } finally {
      t.done();
    }
  });
});
