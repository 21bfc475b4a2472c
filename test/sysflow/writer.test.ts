// Writer: round trip of every sample through our writer, files checked by an independent
// reader (avsc's container decoder + the official schema file), invalid objects rejected.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSysFlow, readSysFlowFile } from '../../src/sysflow/reader.js';
import { SysFlowOcfWriter, encodeSysFlowTrace, writeSysFlowFile } from '../../src/sysflow/ocf-writer.js';
import { SYSFLOW_V5_SCHEMA_JSON, decodeSfDatum, encodeSfObject } from '../../src/sysflow/schema.js';
import { SF_V5_BRANCHES } from '../../src/sysflow/types.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { SCHEMA_FILE, avscDecodeContainer, officialV5Type, plain, sampleTraces, tracePath } from './helpers.js';

/** Our object → the plain value avsc produces for it (wrapped top union, FOIDs as hex). */
function expectedAvscValue(o: SfObject): unknown {
  const name = SF_V5_BRANCHES.find(([t]) => t === o.type)![1];
  return { rec: { [name]: plain(o.rec) } };
}

describe('writer: round trip and independent reading', () => {
  it('the embedded v5 schema equals the official SysFlow.avsc', () => {
    assert.deepEqual(JSON.parse(SYSFLOW_V5_SCHEMA_JSON), JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
  });

  for (const rel of sampleTraces()) {
    it(`${rel}: read → write (v5, deflate) → read gives identical objects; avsc reads the same values`, async () => {
      const objs = [...readSysFlowFile(tracePath(rel))];
      const buf = encodeSysFlowTrace(objs, { blockSize: 16_000 });
      const back = [...openSysFlow(buf)];
      assert.deepStrictEqual(back, objs);

      // Independent: avsc's BlockDecoder with the official schema file as the reader schema.
      const { schema, records } = await avscDecodeContainer(buf, officialV5Type());
      assert.deepEqual(schema, JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')), 'writer schema embedded in the file');
      assert.equal(records.length, objs.length);
      records.forEach((r, i) => assert.deepEqual(plain(r), expectedAvscValue(objs[i]!), `${rel}#${i}`));
    });
  }

  it('null codec and tiny blocks also round-trip and read with avsc', async () => {
    const objs = [...readSysFlowFile(tracePath('sf-processor/k8s_small.sf'))];
    const buf = encodeSysFlowTrace(objs, { codec: 'null', blockSize: 1 });
    const r = openSysFlow(buf);
    assert.equal(r.info.codec, 'null');
    assert.deepStrictEqual([...r], objs);
    const { records } = await avscDecodeContainer(buf, officialV5Type());
    assert.equal(records.length, objs.length);
  });

  it('writes a file on disk, refusing to clobber an existing one by default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfw-'));
    try {
      const objs = [...readSysFlowFile(tracePath('sf-collector/setuid/setuid.sf'))];
      const p = join(dir, 'out.sf');
      assert.equal(writeSysFlowFile(p, objs), objs.length);
      assert.deepStrictEqual([...readSysFlowFile(p)], objs);
      assert.throws(() => writeSysFlowFile(p, objs), /EEXIST/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('socket datum: one record encodes to union index + record, decodable by avsc with the v5 schema', () => {
    const t = officialV5Type();
    for (const o of readSysFlowFile(tracePath('sf-processor/k8s_small.sf'))) {
      const msg = encodeSfObject(o);
      assert.deepStrictEqual(decodeSfDatum(msg), o);
      assert.deepEqual(plain(t.fromBuffer(msg)), expectedAvscValue(o));
    }
  });
});

describe('writer/reader: map keys are data', () => {
  it('a "__proto__" label survives a round trip as an own key and changes no prototype', () => {
    const labels = JSON.parse('{"__proto__": "evil", "app": "web"}') as Record<string, string>;
    const pod: SfObject = {
      type: 'POD',
      rec: { ts: 1n, id: 'p', name: 'n', nodeName: 'nn', hostIP: [], internalIP: [], namespace: 'ns', restartCount: 0n, labels, selectors: {}, services: [] },
    };
    const [h] = readSysFlowFile(tracePath('sf-collector/setuid/setuid.sf'));
    const back = [...openSysFlow(encodeSysFlowTrace([h!, pod]))][1]!;
    assert.ok(back.type === 'POD');
    assert.equal(Object.getPrototypeOf(back.rec.labels), Object.prototype);
    assert.deepEqual(Object.keys(back.rec.labels), ['__proto__', 'app']);
    assert.equal(Object.getOwnPropertyDescriptor(back.rec.labels, '__proto__')?.value, 'evil');
  });
});

describe('writer: invalid objects are rejected with the field path, nothing partial is written', () => {
  const proc = (): SfObject => ({
    type: 'P',
    rec: {
      state: 'CREATED',
      oid: { createTS: 1n, hpid: 2n },
      poid: null,
      ts: 3n,
      exe: '/bin/x',
      exeArgs: '',
      uid: 0,
      userName: 'root',
      gid: 0,
      groupName: 'root',
      tty: false,
      containerId: null,
      entry: false,
      cwd: '/',
      env: [],
    },
  });

  it('wrong int, missing field, bad enum, bad FOID, int64 overflow', () => {
    const cases: [(o: Record<string, unknown>) => void, RegExp][] = [
      [(r) => (r.uid = 1.5), /Process\.uid: expected int32/],
      [(r) => (r.uid = 2 ** 31), /Process\.uid: expected int32/],
      [(r) => delete r.exe, /Process\.exe: expected string, got undefined/],
      [(r) => (r.state = 'GONE'), /Process\.state: expected one of CREATED\|MODIFIED\|REUP/],
      [(r) => (r.ts = 2n ** 63n), /Process\.ts: expected int64/],
      [(r) => (r.env = ['ok', 3]), /Process\.env\[1\]: expected string/],
    ];
    for (const [mutate, re] of cases) {
      const o = proc();
      mutate(o.rec as unknown as Record<string, unknown>);
      assert.throws(() => encodeSfObject(o), re);
    }
    const ff: SfObject = {
      type: 'FF',
      rec: {
        procOID: { createTS: 0n, hpid: 1n },
        ts: 0n,
        tid: 1n,
        opFlags: 0,
        openFlags: 0,
        endTs: 0n,
        fileOID: 'xyz',
        fd: 0,
        numRRecvOps: 0n,
        numWSendOps: 0n,
        numRRecvBytes: 0n,
        numWSendBytes: 0n,
      },
    };
    assert.throws(() => encodeSfObject(ff), /FileFlow\.fileOID: expected fixed\(20\)/);
  });

  it('an invalid record leaves the trace readable (no partial datum)', () => {
    const parts: SfObject[] = [...readSysFlowFile(tracePath('sf-collector/setuid/setuid.sf'))];
    const bad = proc();
    (bad.rec as unknown as Record<string, unknown>).uid = 'x';
    const chunks: Buffer[] = [];
    // Write good, try bad (throws), write good again: the file must hold only the good ones.
    const w = new SysFlowOcfWriter((b) => chunks.push(b));
    w.write(parts[0]!);
    assert.throws(() => w.write(bad));
    for (const o of parts.slice(1)) w.write(o);
    w.close();
    assert.deepStrictEqual([...openSysFlow(Buffer.concat(chunks))], parts);
  });
});
