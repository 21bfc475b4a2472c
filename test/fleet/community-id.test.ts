// Community ID v1 against the spec's baseline vectors (default seed, seed 1, hex digest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { communityId, ipBytes } from '../../src/format/community-id.js';

const DIR = join(process.env['FALCONET_SHARED'] ?? '/work/shared', 'data/community-id');

interface Vector { proto: number; saddr: string; daddr: string; sport: number | null; dport: number | null; communityid: string }

function vectors(name: string): Vector[] {
  return JSON.parse(readFileSync(join(DIR, `community-id-baseline_${name}.json`), 'utf8')) as Vector[];
}

for (const [name, opts] of [['deflt', {}], ['seed1', { seed: 1 }], ['nob64', { base64: false }]] as const) {
  test(`community-id: every ${name} vector matches`, () => {
    const vs = vectors(name);
    assert.equal(vs.length, 23);
    for (const v of vs) {
      const got = communityId({ proto: v.proto, saddr: v.saddr, daddr: v.daddr, sport: v.sport ?? undefined, dport: v.dport ?? undefined }, opts);
      assert.equal(got, v.communityid, `${name} ${JSON.stringify(v)}`);
    }
  });
}

test('community-id: IPv6 text forms parse to the same bytes', () => {
  assert.deepEqual(ipBytes('::ffff:1.2.3.4'), ipBytes('::ffff:102:304'));
  assert.equal(ipBytes('2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
  assert.equal(ipBytes('::').toString('hex'), '0'.repeat(32));
  assert.equal(ipBytes('fe80::1%eth0').toString('hex'), 'fe800000000000000000000000000001');
});

test('community-id: bad input gives a clear error', () => {
  assert.throws(() => communityId({ proto: 6, saddr: 'x', daddr: '1.2.3.4', sport: 1, dport: 2 }), /source address 'x'/);
  assert.throws(() => communityId({ proto: 6, saddr: '::1', daddr: '1.2.3.4', sport: 1, dport: 2 }), /different families/);
  assert.throws(() => communityId({ proto: 6, saddr: '1.2.3.4', daddr: '1.2.3.4', sport: 70000, dport: 2 }), /source port 70000/);
  assert.throws(() => communityId({ proto: 300, saddr: '1.2.3.4', daddr: '1.2.3.4' }), /protocol 300/);
});
