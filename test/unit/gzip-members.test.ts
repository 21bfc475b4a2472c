// The whole-member prefix of a file of concatenated gzip members, on every
// cut and on random damage (a fuzz of the parser the S3 sink's crash recovery relies on);
// wholeGzipRuns: the whole members around damage in the middle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { wholeGzipRuns } from '../../src/sinks/gzip-members.js';
import { zlibCrc32 } from '../../src/util/zlib-crc32.js';
import { fuzzDamagedRuns, fuzzWholePrefix, wholePrefix } from '../policy/fuzz-lib.js';

/** what a crash's torn end is cut back to */
const completeGzipLength = (f: Buffer): number => wholePrefix(wholeGzipRuns(f));

const crc32 = zlibCrc32!; // Node 20.20 here and in CI

const lines = (from: number, n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => `{"seq":${from + i},"path":"/var/lib/app/${(from + i) * 7919 % 1000}"}\n`).join(''));

/** A gzip member with every optional header field (FEXTRA, FNAME, FCOMMENT, FHCRC), as another
 * writer could make: built from gzipSync's member with its header swapped. */
function fancyMember(data: Buffer): Buffer {
  const plain = gzipSync(data);
  const head = Buffer.from([0x1f, 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3]);
  const extra = Buffer.from([3, 0, 0xaa, 0xbb, 0xcc]);
  const before = Buffer.concat([head, extra, Buffer.from('name.ndjson\0'), Buffer.from('a comment\0')]);
  const hcrc = Buffer.alloc(2);
  hcrc.writeUInt16LE(crc32(before) & 0xffff); // the low 16 bits of the header's CRC-32
  return Buffer.concat([before, hcrc, plain.subarray(10)]);
}

test('completeGzipLength: whole files, every cut, and header fields', () => {
  const members = [gzipSync(lines(0, 50)), gzipSync(Buffer.alloc(0)), fancyMember(lines(50, 30)), gzipSync(lines(80, 200))];
  const file = Buffer.concat(members);
  assert.equal(completeGzipLength(file), file.length);
  assert.equal(gunzipSync(file).toString(), lines(0, 50).toString() + lines(50, 30).toString() + lines(80, 200).toString());
  const ends: number[] = [];
  let at = 0;
  for (const m of members) ends.push(at += m.length);
  for (let cut = 0; cut <= file.length; cut++) {
    const want = Math.max(0, ...ends.filter((e) => e <= cut));
    assert.equal(completeGzipLength(file.subarray(0, cut)), want, `cut at ${cut}`);
  }
  assert.equal(completeGzipLength(Buffer.alloc(0)), 0);
  assert.equal(completeGzipLength(Buffer.from('not gzip at all')), 0);
});

test('completeGzipLength: damaged trailers and headers end the count there', () => {
  const a = gzipSync(lines(0, 20));
  const b = gzipSync(lines(20, 20));
  const crc = Buffer.concat([a, b]);
  crc[a.length + b.length - 6] ^= 1; // b's CRC-32
  assert.equal(completeGzipLength(crc), a.length);
  const size = Buffer.concat([a, b]);
  size[a.length + b.length - 1] ^= 1; // b's length
  assert.equal(completeGzipLength(size), a.length);
  const reserved = Buffer.concat([a, b]);
  reserved[a.length + 3] = 0x20; // a reserved flag bit in b's header
  assert.equal(completeGzipLength(reserved), a.length);
});

test('completeGzipLength: fuzz, random cuts and byte damage: a prefix that gunzips to its members\' data, never a throw', () => {
  const parts: Buffer[] = [];
  const data: Buffer[] = [];
  for (let i = 0; i < 12; i++) { const d = lines(i * 40, 1 + (i * 37) % 60); data.push(d); parts.push(gzipSync(d)); }
  const file = Buffer.concat(parts);
  const { kept, none } = fuzzWholePrefix(file, 4242, 2000, completeGzipLength, (f, n, i) => {
    // what is kept reads back: the same members' data wherever the bytes are untouched
    const out = gunzipSync(f.subarray(0, n));
    if (!file.subarray(0, n).equals(f.subarray(0, n))) return;
    let at = 0; let k = 0;
    while (at < n) at += parts[k++]!.length;
    assert.equal(at, n, `#${i}: ${n} ends on a member boundary`);
    assert.ok(out.equals(Buffer.concat(data.slice(0, k))), `#${i}: ${k} members' data`);
  });
  assert.ok(kept > 1000 && none > 50, `${kept} kept, ${none} with no whole member`);
});

test('wholeGzipRuns: damage in the middle costs only the members it hit', () => {
  const m = [0, 1, 2, 3].map((i) => gzipSync(lines(i * 20, 20)));
  const at = (k: number): number => m.slice(0, k).reduce((n, x) => n + x.length, 0);
  const file = Buffer.concat(m);
  assert.deepEqual(wholeGzipRuns(file), [[0, file.length]]);
  const inData = Buffer.from(file);
  inData[at(1) + 20] ^= 0xff; // inside the second member's deflate data
  assert.deepEqual(wholeGzipRuns(inData), [[0, at(1)], [at(2), file.length]]);
  const inTrailer = Buffer.from(file);
  inTrailer[at(3) - 6] ^= 1; // the third member's CRC-32
  assert.deepEqual(wholeGzipRuns(inTrailer), [[0, at(2)], [at(3), file.length]]);
  const first = Buffer.from(file);
  first[0] = 0; // the first member's magic
  assert.deepEqual(wholeGzipRuns(first), [[at(1), file.length]]);
  // garbage between members (with a false magic in it), and a torn end
  const junk = Buffer.concat([m[0]!, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), m[1]!, m[2]!.subarray(0, 30)]);
  assert.deepEqual(wholeGzipRuns(junk), [[0, at(1)], [at(1) + 13, at(1) + 13 + m[1]!.length]]);
  assert.deepEqual(wholeGzipRuns(Buffer.from('not gzip at all')), []);
  assert.deepEqual(wholeGzipRuns(Buffer.alloc(0)), []);
});

test('wholeGzipRuns: fuzz, random damage anywhere: ordered runs of whole members that gunzip, never a throw', () => {
  const parts: Buffer[] = [];
  for (let i = 0; i < 12; i++) parts.push(gzipSync(lines(i * 40, 1 + (i * 37) % 60)));
  const file = Buffer.concat(parts);
  const starts = new Set<number>();
  for (let at = 0, k = 0; k <= parts.length; at += parts[k++]?.length ?? 0) starts.add(at);
  const split = fuzzDamagedRuns(file, 77, 1500, wholeGzipRuns, (f, [a, b], _, i) => {
    gunzipSync(f.subarray(a, b)); // each run is whole members
    // runs whose bytes are untouched lie on the original member boundaries
    if (f.subarray(a, b).equals(file.subarray(a, b))) assert.ok(starts.has(a) && starts.has(b), `#${i}: [${a}, ${b})`);
  });
  assert.ok(split > 200, `${split} files kept members after a damaged one`);
});
