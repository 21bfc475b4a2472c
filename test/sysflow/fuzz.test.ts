// Fuzz: mutated and truncated traces must only ever produce a SysFlowReadError with a file
// offset (never another exception, a hang, or a huge allocation). Deterministic (seeded), a few
// thousand cases, both codecs: deflate mostly exercises block framing and inflate errors; the
// null-codec copies put mutations straight into record bytes to exercise the decoder's bounds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readSysFlowFilePartial, readSysFlowFile, SysFlowReadError } from '../../src/sysflow/reader.js';
import { encodeSysFlowTrace } from '../../src/sysflow/ocf-writer.js';
import { tracePath } from './helpers.js';
import { scenario } from './prototype-scenario.js';
import { rng } from '../lib/rng.js';
import { CostOutliers, cpuMs } from '../lib/cost-outliers.js';


type Mutator = (b: Buffer, r: () => number) => Buffer;
const int = (r: () => number, n: number): number => Math.floor(r() * n);

const MUTATORS: [string, Mutator][] = [
  ['truncate', (b, r) => b.subarray(0, int(r, b.length))],
  [
    'flip bits',
    (b, r) => {
      const c = Buffer.from(b);
      for (let i = 0, n = 1 + int(r, 4); i < n; i++) c[int(r, c.length)]! ^= 1 << int(r, 8);
      return c;
    },
  ],
  [
    'random bytes run',
    (b, r) => {
      const c = Buffer.from(b);
      const at = int(r, c.length);
      for (let i = at; i < Math.min(c.length, at + 1 + int(r, 32)); i++) c[i] = int(r, 256);
      return c;
    },
  ],
  [
    'varint bombs',
    (b, r) => {
      // 0xff runs make maximal varints / huge counts and lengths
      const c = Buffer.from(b);
      const at = int(r, c.length);
      c.fill(int(r, 2) ? 0xff : 0xfe, at, Math.min(c.length, at + 1 + int(r, 12)));
      return c;
    },
  ],
  [
    'delete range',
    (b, r) => {
      const at = int(r, b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 64)))]);
    },
  ],
  [
    'duplicate range',
    (b, r) => {
      const at = int(r, b.length);
      const len = 1 + int(r, 64);
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at)]);
    },
  ],
];

function fuzz(name: string, base: Buffer, cases: number, seed: number): void {
  it(`${name}: ${cases} mutations → clean errors with offsets`, (t) => {
    const r = rng(seed);
    let errors = 0;
    const cost = new CostOutliers(200, Math.min(300, cases >> 2));
    for (let i = 0; i < cases; i++) {
      const [mname, m] = MUTATORS[i % MUTATORS.length]!;
      const data = m(base, r);
      const s = cpuMs();
      let res: ReturnType<typeof readSysFlowFilePartial>;
      try {
        res = readSysFlowFilePartial(data);
      } catch (e) {
        // Only SysFlowReadError is acceptable; openSysFlow's header errors are thrown from here.
        if (!(e instanceof SysFlowReadError)) throw new Error(`case ${i} (${mname}): unexpected ${String(e)}`);
        res = { objects: [], error: e };
      }
      cost.check(cpuMs() - s, data.length, `case ${i} (${mname}, ${data.length} bytes)`, () => readSysFlowFilePartial(data));
      if (res.error) {
        errors++;
        assert.ok(Number.isInteger(res.error.offset) && res.error.offset >= 0 && res.error.offset <= data.length, `case ${i} (${mname}): offset ${res.error.offset} of ${data.length}`);
        assert.match(res.error.message, /file offset \d+/);
        assert.equal(res.error.recordsRead, res.objects.length);
      }
    }
    assert.ok(errors > cases / 4, `most mutations should be detected (${errors}/${cases})`);
    t.diagnostic(cost.summary());
    assert.deepEqual(cost.report.outliers, [], 'no case costs out of proportion to its size');
  });
}

describe('fuzz: reader', () => {
  const setuid = readFileSync(tracePath('sf-collector/setuid/setuid.sf'));
  const tcp = readFileSync(tracePath('sf-processor/tcp.sf')); // V1a prototype schema
  // Pods, containers, k8s events and the first 300 other records (all record shapes, small).
  const k8sObjs = [...readSysFlowFile(tracePath('sf-processor/k8s_small.sf'))];
  const k8sRaw = encodeSysFlowTrace(
    [...k8sObjs.filter((o) => ['H', 'POD', 'C', 'KE'].includes(o.type)), ...k8sObjs.filter((o) => !['H', 'POD', 'C', 'KE'].includes(o.type)).slice(0, 300)],
    { codec: 'null', blockSize: 4000 },
  );
  const filesRaw = encodeSysFlowTrace(readSysFlowFile(tracePath('sf-collector/files/files.sf')), { codec: 'null', blockSize: 600 });
  fuzz('setuid.sf (deflate, v5)', setuid, 1200, 1);
  fuzz('tcp.sf (deflate, V1a)', tcp, 600, 2);
  fuzz('files.sf re-encoded (null codec, small blocks)', filesRaw, 1500, 3);
  fuzz('k8s_small.sf subset re-encoded (null codec, pods and k8s events)', k8sRaw, 600, 4);
  // P4 prototype: EventType/ActionType enums and the ProcessFlow-as-PE branch in record bytes.
  const p4Raw = encodeSysFlowTrace(scenario('P4'), { layout: 'P4', codec: 'null', blockSize: 200 });
  fuzz('prototype P4 scenario (null codec, EventType and ActionType enums)', p4Raw, 600, 5);
});
