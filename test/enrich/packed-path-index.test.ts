// The package index's packed table (src/enrich/packed-path-index.ts), built in the index worker
// and read on the main thread: against a Map with the same first-owner-wins rule, on random
// keys (ASCII, multi-byte UTF-8, shared prefixes, duplicates, growth past several rehashes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PackageOwner } from '../../src/enrich/package-db.js';
import { PackedPathIndex, PackedPathIndexBuilder } from '../../src/enrich/packed-path-index.js';
import { Rng } from '../policy/fuzz-lib.js';

const PIECES = ['/usr', '/bin', '/lib', '/x86_64-linux-gnu', '/share/doc', '/a', '/b.so.1', '/é', '/日本', '/\u{1F600}', '/ ', '/.', '//', '/python3.11', '/libc.so.6'];

function randomPath(rng: Rng): string {
  let p = '';
  const n = 1 + rng.int(6);
  for (let i = 0; i < n; i++) p += rng.pick(PIECES) + (rng.int(3) === 0 ? String(rng.int(1000)) : '');
  return p;
}

test('fuzz: look-ups and entries equal a Map filled with first-owner-wins', () => {
  for (let round = 0; round < 6; round++) {
    const rng = new Rng(1500 + round);
    const owners: PackageOwner[] = Array.from({ length: 1 + rng.int(40) }, (_, i) => ({ pkg: `p${i}`, version: `1:${i}.0-${round}`, arch: 'amd64', source: i % 2 ? 'rpm' : 'dpkg' }));
    const want = new Map<string, PackageOwner>();
    const b = new PackedPathIndexBuilder();
    const count = round === 5 ? 30_000 : 1 + rng.int(3000); // the last round grows the table past 2^15 slots
    for (let i = 0; i < count; i++) {
      const k = rng.int(5) === 0 && want.size ? [...want.keys()][rng.int(want.size)]! : randomPath(rng) + (round === 5 ? `/${i}` : '');
      const o = rng.pick(owners);
      const added = b.add(k, o);
      assert.equal(added, !want.has(k), `round ${round}: add(${JSON.stringify(k)}) said ${added}`);
      if (!want.has(k)) want.set(k, o);
    }
    assert.equal(b.size, want.size);
    const { data, transfer } = b.finish();
    assert.equal(transfer.length, 4);
    const idx = new PackedPathIndex(structuredClone(data, { transfer })); // as the worker hands it over
    for (const [k, o] of want) assert.deepEqual(idx.lookup(k), o, `round ${round}: ${JSON.stringify(k)}`);
    for (let i = 0; i < 2000; i++) {
      const q = randomPath(rng) + (rng.int(2) ? 'zz' : '');
      assert.deepEqual(idx.lookup(q), want.get(q), `round ${round}: absent ${JSON.stringify(q)}`);
    }
    assert.deepEqual([...idx.entries()], [...want.entries()]);
  }
});

test('an empty table answers nothing; a malformed one is refused', () => {
  const { data } = new PackedPathIndexBuilder().finish();
  const idx = new PackedPathIndex(data);
  assert.equal(idx.size, 0);
  assert.equal(idx.lookup('/usr/bin/ls'), undefined);
  assert.deepEqual([...idx.entries()], []);
  assert.throws(() => new PackedPathIndex({ ...data, slots: new ArrayBuffer(12), hashes: new ArrayBuffer(12) }), /power of two/);
});
