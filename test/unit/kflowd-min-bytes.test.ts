// The byte writer of json-min file records (the file sink's hot path) is byte-identical to the
// string writer, which test/unit/kflowd-min.test.ts ties to the reference formatter; names made
// of random bytes (invalid UTF-8, control characters, quotes) stay valid JSON and round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecords } from '../../src/sensor/decode.js';
import type { FileRecord } from '../../src/model/records.js';
import { FF } from '../../src/sensor/layout.js';
import { KflowdMinWriter } from '../../src/format/kflowd-min.js';
import { KflowdMinBytes } from '../../src/format/kflowd-min-bytes.js';
import type { KflowdFacts } from '../../src/format/context.js';
import { encodeEscaped } from '../../src/util/bytes.js';
import { fileRecord } from './stream-builder.js';
import { Rng } from '../policy/fuzz-lib.js';

const host = { hostName: 'h"x', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_712_244_873_123_456_789n, startBootNs: 1_000_000_000n };

function randomName(rng: Rng): Buffer {
  const n = 1 + rng.int(40);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    const k = rng.int(4);
    out[i] = k === 0 ? 1 + rng.int(255) : k === 1 ? 0x20 + rng.int(0x5f) : rng.pick([0x22, 0x5c, 0x7f, 0x0a, 0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0x61]);
    if (out[i] === 0x2f) out[i] = 0x61; // no slash: the name part of a path
  }
  return out;
}

test('json-min byte writer equals the string writer on 20,000 random file records (random-byte names included)', () => {
  const rng = new Rng(7);
  const w = new KflowdMinWriter();
  const bw = new KflowdMinBytes();
  const names = ['a', 'file with space', 'quote"d', 'back\\slash', 'ctl\u0001x', 'é日本', '\ud800lone', '', 'x'.repeat(255)];
  let escapedNames = 0;
  for (let i = 0; i < 20_000; i++) {
    const moved = rng.int(4) === 0;
    const raw = rng.int(3) === 0;
    const name = raw ? randomName(rng) : Buffer.from(rng.pick(names));
    const dir = Buffer.from(`/d${rng.int(3)}/${rng.int(10) === 0 ? 'é"\\/' : ''}`);
    const buf = fileRecord({
      pid: 100 + rng.int(20), uid: rng.int(3), gid: rng.int(3), flags: (moved ? FF.MOVED : 0) | (rng.int(5) === 0 ? FF.PATH_FSREL : 0),
      exe: rng.pick(['bash', 'python3', 'x']), comm: rng.pick(['bash', 'py', 'worker']), parentExe: rng.pick(['sshd', 'init', 'q"t']),
      tsFirst: BigInt(rng.int(1_000_000_000)), ts: BigInt(1_000_000_000 + rng.int(2_000_000_000)) * (rng.int(50) === 0 ? 10_000_000n : 1n),
      procStart: BigInt(rng.int(900_000_000)) * (rng.int(40) === 0 ? 10_000_000_000n : 1n),
      events: Array.from({ length: 11 }, () => (rng.int(3) === 0 ? rng.int(5) * (rng.int(20) === 0 ? 1_000_000 : 1) : 0)),
      ino: rng.int(20) === 0 ? 2 ** 60 + rng.int(1e6) : rng.int(10) === 0 ? 2 ** 31 + rng.int(1e9) * rng.int(1e6) : rng.int(1e9), mode: rng.pick([0o100644, 0o120777, 0o104755, 0o100000]),
      size: rng.int(20) === 0 ? -rng.int(5000) : rng.int(5000), sizeFirst: rng.int(2) ? 0 : 4999, nlink: rng.pick([1, 2]),
      mtime: 1_712_244_875_154_106_191n + BigInt(rng.int(1000)), mtimeFirst: 1_712_244_875_154_106_191n - BigInt(rng.int(3)) * 1_000_000_000_000n,
      path: Buffer.concat([dir, name]), origin: moved ? rng.pick(names) : '',
    });
    const r = decodeRecords(buf)[0] as FileRecord;
    const facts: KflowdFacts = rng.int(5) === 0 ? { host } : {
      host: rng.int(2) ? host : { ...host, token: 'tok"en' },
      users: { user: rng.pick(['root', 'dirk', '']), group: 'g', fileUser: rng.pick(['u\u00e9', 'root']), fileGroup: rng.pick(['', 'a\u0002']) },
      mounts: rng.int(2) ? { device: 'fe00h:/dev/vda:/:ext4' } : { dir: rng.pick(['/mnt/x/', '/mnt/"q"/']), device: 'fe01h:::' },
    };
    const seq = rng.int(20) === 0 ? 2 ** 53 + 2 : 1 + rng.int(1e6);
    const want = w.record(r, seq, facts)!;
    const got = bw.file(r, seq, facts);
    assert.equal(Buffer.from(got).toString('utf8'), want, `record ${i}`);
    // the slab holds the newline right after the record (line sinks write runs without copying)
    assert.equal(new Uint8Array(got.buffer, got.byteOffset + got.length, 1)[0], 0x0a);
    if (raw) {
      const o = JSON.parse(Buffer.from(got).toString('utf8')) as { File: string };
      assert.deepEqual(encodeEscaped(o.File), name, `record ${i}: the name's bytes round-trip`);
      if (/[\u0000-\u001f"\\\udc80-\udcff]/.test(o.File)) escapedNames++;
    }
  }
  assert.ok(escapedNames > 1000, `names needing escapes were written (${escapedNames})`);
});

test('records written earlier keep their bytes while the writer fills new slabs', () => {
  const bw = new KflowdMinBytes();
  const facts: KflowdFacts = { host };
  const kept: { bytes: Uint8Array; text: string }[] = [];
  for (let i = 0; i < 5000; i++) {
    const r = decodeRecords(fileRecord({ ino: i, path: `/big/${'n'.repeat(200)}-${i}` }))[0] as FileRecord;
    const bytes = bw.file(r, i + 1, facts);
    kept.push({ bytes, text: Buffer.from(bytes).toString('utf8') });
  }
  for (const k of kept) assert.equal(Buffer.from(k.bytes).toString('utf8'), k.text);
  assert.ok(new Set(kept.map((k) => k.bytes.buffer)).size > 1, 'more than one slab was used');
});
