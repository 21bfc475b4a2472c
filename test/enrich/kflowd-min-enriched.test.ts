// json-min file records with -v/-c/container keys leave the byte writer (keys written in place)
// byte-identical to the generic path they took before: kflowdRecord + addKflowdEnrichmentKeys +
// toMinJson. Fuzzed: random records (names with any bytes), random enrichment (present, absent,
// empty, pending/error checksums, strings needing escapes), exec and non-exec modes, and plain
// records interleaved so the writer's per-process cache switches between both forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecords } from '../../src/sensor/decode.js';
import type { FileRecord } from '../../src/model/records.js';
import { FF } from '../../src/sensor/layout.js';
import { kflowdRecord } from '../../src/format/kflowd.js';
import { toMinJson } from '../../src/format/json.js';
import { addKflowdEnrichmentKeys, hasKflowdEnrichment, kflowdEnrichmentFlags } from '../../src/enrich/kflowd-keys.js';
import { kflowdEncoder, kflowdFacts } from '../../src/pipeline/encoders/kflowd.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { fileRecord } from '../unit/stream-builder.js';
import { Rng } from '../policy/fuzz-lib.js';

const host = { hostName: 'h"x', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_712_244_873_123_456_789n, startBootNs: 1_000_000_000n };

function randomText(rng: Rng): string {
  if (rng.int(3)) return rng.pick(['', '1:9.2p1-2+deb12u1', '7.88.1-10+deb12u14', 'web', 'localhost/bb:1', 'd41d8cd98f00b204e9800998ecf8427e']);
  const n = rng.int(30);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(2) ? rng.pick([0x22, 0x5c, 0x0a, 0x01, 0xe9, 0x65e5, 0xd800, 0x7f]) : 0x20 + rng.int(0x5f));
  return s;
}

function randomEnrichment(rng: Rng): Record<string, unknown> {
  const e: Record<string, unknown> = {};
  if (rng.int(2)) {
    const pk: Record<string, unknown> = {};
    if (rng.int(3)) pk['procVersion'] = randomText(rng);
    if (rng.int(3)) pk['fileVersion'] = randomText(rng);
    if (rng.int(5) === 0) pk['indexPending'] = true;
    e['packages'] = pk;
  }
  const k = rng.int(5);
  if (k === 1) e['checksums'] = { state: 'done', md5: randomText(rng), sha256: randomText(rng) };
  else if (k === 2) e['checksums'] = { state: 'pending' };
  else if (k === 3) e['checksums'] = { state: 'error', reason: 'gone' };
  if (rng.int(2)) {
    const c: Record<string, unknown> = { id: 'f'.repeat(64), shortId: rng.pick(['ffffffffffff', 'abc"def\\0123']), runtime: 'podman', metadata: 'done' };
    if (rng.int(4)) c['name'] = randomText(rng);
    if (rng.int(4)) c['image'] = randomText(rng);
    e['container'] = c;
  }
  return e;
}

function oldPath(env: Envelope, seq: number): string {
  const o = kflowdRecord(env.rec as FileRecord, seq, kflowdFacts(env))!;
  if (hasKflowdEnrichment(env)) addKflowdEnrichmentKeys(o, env, kflowdEnrichmentFlags(env));
  return toMinJson(o);
}

test('json-min: enriched file records from the byte writer equal the generic path on 20,000 random records', () => {
  const rng = new Rng(15);
  const enc = kflowdEncoder('json-min');
  const counts = { enriched: 0, procVersion: 0, fileVersion: 0, container: 0, md5: 0, state: 0, moved: 0 };
  for (let i = 0; i < 20_000; i++) {
    const moved = rng.int(4) === 0;
    const name = rng.int(5) === 0 ? Buffer.from([0x61, 0x22, 0xc3, 1 + rng.int(254), 0x5c]) : Buffer.from(rng.pick(['curl', 'file.dat', 'é日本', 'sp ace']));
    const r = decodeRecords(fileRecord({
      pid: 100 + rng.int(6), uid: rng.int(2), flags: moved ? FF.MOVED : 0, exe: rng.pick(['bash', 'curl']), comm: rng.pick(['bash', 'w']),
      ino: rng.int(1e6), mode: rng.pick([0o100644, 0o100755, 0o100700, 0o100001, 0o120777, 0o040755]), size: rng.int(5000), sizeFirst: rng.int(2) ? 0 : 4999,
      ts: BigInt(1_000_000_000 + rng.int(2_000_000_000)), path: Buffer.concat([Buffer.from(rng.pick(['/usr/bin/', '/d/"q/'])), name]),
      origin: moved ? rng.pick(['old', 'o"ld']) : '',
    }))[0] as FileRecord;
    const enrich: Record<string, unknown> = { host, users: { user: 'root', group: 'g', fileUser: 'u', fileGroup: 'x' } };
    if (rng.int(5)) Object.assign(enrich, randomEnrichment(rng));
    const seq = 1 + i;
    const env: Envelope = { kind: 'file', rec: r, id: { host: 'h', boot: 'b', seq: BigInt(seq) }, enrich };
    const want = oldPath(env, seq);
    const got = enc.encode(env);
    assert.ok(got instanceof Uint8Array, `record ${i}: the byte writer wrote it`);
    assert.equal(Buffer.from(got).toString('utf8'), want, `record ${i}`);
    if (hasKflowdEnrichment(env)) counts.enriched++;
    if (want.includes('"ProcVersion"')) counts.procVersion++;
    if (want.includes('"FileVersion"')) counts.fileVersion++;
    if (want.includes('"ContainerId"')) counts.container++;
    if (want.includes('"FileMD5"')) counts.md5++;
    if (want.includes('"FileChecksumState"')) counts.state++;
    if (moved && want.includes('"FileVersion"')) counts.moved++;
  }
  // every form was exercised
  for (const [k, n] of Object.entries(counts)) assert.ok(n > 200, `${k}: ${n}`);
});

test('json-min: ProcVersion, container and checksum keys sit where kflowd puts them', () => {
  const enc = kflowdEncoder('json-min');
  const r = decodeRecords(fileRecord({ mode: 0o100755, path: '/usr/bin/curl', flags: FF.MOVED, origin: 'curl.new' }))[0] as FileRecord;
  const env: Envelope = {
    kind: 'file', rec: r, enrich: {
      host, packages: { procVersion: '5.2.15-2+b2', fileVersion: '7.88.1-10+deb12u14' },
      checksums: { state: 'done', md5: 'm', sha256: 's' }, container: { id: 'f'.repeat(64), shortId: 'ffffffffffff', runtime: 'podman', name: 'web', image: 'bb' },
    },
  };
  const keys = Object.keys(JSON.parse(Buffer.from(enc.encode(env) as Uint8Array).toString('utf8')) as object);
  const at = (k: string) => keys.indexOf(k);
  assert.equal(at('ProcVersion'), at('Proc') + 1);
  assert.deepEqual(keys.slice(at('ProcAge') + 1, at('ProcAge') + 4), ['ContainerId', 'ContainerName', 'ContainerImage']);
  assert.equal(at('FileVersion'), at('FileOrigin') + 1);
  assert.deepEqual(keys.slice(-2), ['FileMD5', 'FileSHA256']);
});
