// Reader: every sample trace reads completely with the per-type counts of sysflow-notes.md §2.4,
// every decoded value equals avsc's own decoding of the same file, and bad input fails cleanly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openSysFlow, readSysFlowFile, readSysFlowFilePartial, SysFlowReadError } from '../../src/sysflow/reader.js';
import { EntityTable } from '../../src/sysflow/entities.js';
import { shortTypeForName } from '../../src/sysflow/normalize.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { avscDecodeContainer, plain, sampleTraces, tracePath } from './helpers.js';

// sysflow-notes.md §2.4, copied verbatim (file, variant, header version, records, counts).
const EXPECTED = `
sf-collector/alpine/alpine.sf | v5 | 5 | 39 | H=1 C=1 P=8 F=5 FF=16 PE=8
sf-collector/client-server/tcp-client-server.sf | v5 | 5 | 23 | H=1 P=10 PE=4 F=2 FF=4 NF=2
sf-collector/files/files.sf | v5 | 5 | 41 | H=1 P=7 PE=2 F=12 FF=6 FE=13
sf-collector/files/filesat.sf | v5 | 5 | 43 | H=1 P=7 PE=2 F=13 FF=7 FE=13
sf-collector/mpm-event/cold_start_capture.sf | v5 | 5 | 137 | H=1 C=1 P=8 F=2 FF=50 NF=75
sf-collector/mpm-event/full_capture.sf | v5 | 5 | 4823 | H=1 C=1 P=15 PE=195 F=99 FF=4410 FE=27 NF=75
sf-collector/mpm-preforked/cold_start_capture.sf | v5 | 5 | 83 | H=1 C=1 P=10 F=4 FF=40 NF=27
sf-collector/mpm-preforked/full_capture.sf | v5 | 5 | 4597 | H=1 C=1 P=19 PE=36 F=98 FF=4390 FE=27 NF=25
sf-collector/mpm-worker/cold_start_capture.sf | v5 | 5 | 112 | H=1 C=1 P=8 F=2 FF=50 NF=50
sf-collector/mpm-worker/full_capture.sf | v5 | 5 | 4796 | H=1 C=1 P=15 PE=198 F=99 FF=4405 FE=27 NF=50
sf-collector/namespaces/setns.sf | v5 | 5 | 548 | H=1 P=54 PE=83 F=85 FF=322 NF=3
sf-collector/nginx/nginx.sf | v2dev | 1001 | 96 | H=1 C=2 P=6 PE=2 F=32 FF=42 FE=5 NF=6
sf-collector/nodejs/mon.1544763289.sf | P8 | 1000 | 2464 | H=1 C=17 P=101 F=129 FF=1268 PE=180 NF=767 FE=1
sf-collector/nodejs/mon.1544763319.sf | P8 | 1000 | 5812 | H=1 C=19 P=142 PE=271 F=1135 NF=905 FF=3338 FE=1
sf-collector/nodejs/mon.1544763349.sf | P8 | 1000 | 2485 | H=1 C=18 P=128 F=130 FF=1350 NF=636 PE=221 FE=1
sf-collector/nodejs/mon.1544763379.sf | P8 | 1000 | 2526 | H=1 C=18 P=106 F=134 FF=1299 NF=791 PE=176 FE=1
sf-collector/objectstore/download.sf | v5 | 5 | 307 | H=1 C=1 P=22 PE=39 F=47 FF=161 NF=36
sf-collector/objectstore/ls.sf | v5 | 5 | 32 | H=1 C=1 P=5 F=11 FF=11 NF=3
sf-collector/objectstore/upload.sf | v5 | 5 | 104 | H=1 C=1 P=5 F=30 FF=34 FE=30 NF=3
sf-collector/rename/rename.sf | v5 | 5 | 60 | H=1 P=4 PE=2 F=27 FF=25 FE=1
sf-collector/rename/rename2at.sf | v5 | 5 | 30 | H=1 P=6 PE=2 F=11 FF=9 FE=1
sf-collector/setuid/setuid.sf | v5 | 5 | 21 | H=1 P=6 PE=10 F=2 FF=2
sf-processor/1621959914 | v3 | 3 | 8797 | H=1 P=68 F=2905 C=1 FF=5609 FE=83 PE=127 NF=3
sf-processor/httpd.sf | v2 | 2 | 16 | H=1 C=1 P=5 F=4 FF=4 NF=1
sf-processor/k8s_small.sf | v4 | 4 | 6173 | H=1 POD=19 C=23 P=217 F=666 FF=3383 NF=1511 PE=341 FE=8 KE=4
sf-processor/mon.1531776682.sf | V1a | 1000 | 19885 | H=1 C=1 P=255 F=873 FF=17904 NF=314 PE=537
sf-processor/mon.1531776712.sf | V1a | 1000 | 7396 | H=1 C=1 P=143 F=926 PE=234 FF=6002 NF=86 FE=3
sf-processor/mon.1531776742.sf | V1a | 1000 | 22339 | H=1 C=1 P=247 F=2065 PE=488 FF=18893 NF=486 FE=158
sf-processor/shellshock.sf | v4 | 4 | 90 | H=1 C=1 P=13 F=19 PE=9 FF=47
sf-processor/tcp.sf | V1a | 1000 | 23 | H=1 P=10 PE=4 F=2 FF=4 NF=2
`
  .trim()
  .split('\n')
  .map((line) => {
    const [file, variant, ver, total, counts] = line.split(' | ') as [string, string, string, string, string];
    const byType: Record<string, number> = {};
    for (const kv of counts.split(' ')) {
      const [k, v] = kv.split('=') as [string, string];
      byType[k] = Number(v);
    }
    return { file, variant, headerVersion: BigInt(ver), total: Number(total), byType };
  });

/** Union branch count per variant (§2.3), checked against each file's writer schema. */
const BRANCHES: Record<string, number> = { V1a: 9, V1: 9, P8: 8, v2: 10, v2dev: 10, v3: 10, v4: 12, v5: 12 };

describe('reader: sample traces', () => {
  it('the expected table covers exactly the shipped samples', () => {
    assert.deepEqual(
      EXPECTED.map((e) => e.file).sort(),
      sampleTraces(),
    );
  });

  for (const exp of EXPECTED) {
    it(`${exp.file}: ${exp.total} records, counts by type as in §2.4`, () => {
      const r = openSysFlow(tracePath(exp.file));
      const counts: Record<string, number> = {};
      let n = 0;
      let first: SfObject | null = null;
      for (const o of r) {
        first ??= o;
        counts[o.type] = (counts[o.type] ?? 0) + 1;
        n++;
      }
      assert.equal(n, exp.total);
      assert.deepEqual(counts, exp.byType);
      assert.equal(r.info.codec, 'deflate');
      assert.equal(r.info.branchNames.length, BRANCHES[exp.variant]);
      assert.ok(first && first.type === 'H', 'header first');
      assert.equal(first.rec.version, exp.headerVersion);
    });
  }
});

/** Our normalised record vs avsc's value, field by field for the writer's fields. */
function compareWithAvsc(ours: SfObject, avscRec: Record<string, unknown>, where: string): void {
  const [[name, value]] = Object.entries(avscRec.rec as Record<string, unknown>) as [[string, Record<string, unknown>]];
  assert.equal(ours.type, shortTypeForName(name), `${where}: type`);
  const o = ours.rec as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) {
    if (ours.type === 'C' && k === 'imagerepo') continue; // v2dev-only field, not in v5
    assert.deepEqual(plain(o[k]), plain(v), `${where}: ${name}.${k}`);
  }
}

describe('reader: values equal avsc decoding of the same files', () => {
  for (const rel of sampleTraces()) {
    it(rel, async () => {
      const buf = readFileSync(tracePath(rel));
      const { records } = await avscDecodeContainer(buf);
      const ours = [...openSysFlow(buf)];
      assert.equal(ours.length, records.length);
      ours.forEach((o, i) => compareWithAvsc(o, records[i]!, `${rel}#${i}`));
    });
  }
});

describe('reader: semantics', () => {
  it('int64 timestamps are exact bigints above 2^53', () => {
    for (const o of readSysFlowFile(tracePath('sf-processor/mon.1531776712.sf'))) {
      if (o.type === 'PE') {
        assert.equal(typeof o.rec.ts, 'bigint');
        assert.ok(o.rec.ts > 2n ** 53n);
        assert.equal(o.rec.ts, 1531776712370537340n); // first PE, digits not representable as a double
        break;
      }
    }
  });

  it('older schemas are normalised with documented defaults', () => {
    const objs = [...readSysFlowFile(tracePath('sf-processor/mon.1531776712.sf'))];
    const h = objs[0]!;
    assert.equal(h.type, 'H');
    if (h.type === 'H') {
      assert.equal(h.rec.ip, 'NA');
      assert.equal(h.rec.filename, '');
    }
    const p = objs.find((o) => o.type === 'P');
    assert.ok(p && p.type === 'P');
    assert.equal(p.rec.entry, false);
    assert.equal(p.rec.cwd, '');
    assert.deepEqual(p.rec.env, []);
    // P8 NetworkFlow has no fd: -1
    const nf = [...readSysFlowFile(tracePath('sf-collector/nodejs/mon.1544763289.sf'))].find((o) => o.type === 'NF');
    assert.ok(nf && nf.type === 'NF');
    assert.equal(nf.rec.fd, -1);
  });

  it('every event/flow of every sample joins its process, file and container', () => {
    for (const rel of sampleTraces()) {
      const t = new EntityTable();
      for (const o of readSysFlowFile(tracePath(rel))) t.push(o);
      assert.equal(t.missing.process, 0, `${rel} process`);
      assert.equal(t.missing.file, 0, `${rel} file`);
      assert.equal(t.missing.container, 0, `${rel} container`);
    }
  });

  it('ancestors() walks parents nearest first and stops at cycles/unknowns', () => {
    const t = new EntityTable();
    let deepest: readonly string[] = [];
    for (const o of readSysFlowFile(tracePath('sf-processor/shellshock.sf'))) {
      const v = t.push(o);
      if (v?.proc) {
        const chain = v.ancestors().map((p) => p.exe);
        if (chain.length > deepest.length) deepest = chain;
        if (v.pproc) assert.equal(v.ancestors()[0], v.pproc);
      }
    }
    assert.ok(deepest.length >= 3, `expected a process tree, got ${deepest.join(' < ')}`);
  });
});

describe('reader: bad input', () => {
  const good = readFileSync(tracePath('sf-collector/setuid/setuid.sf'));

  it('not an Avro file', () => {
    assert.throws(() => openSysFlow(Buffer.from('hello world, not avro')), (e: unknown) => {
      assert.ok(e instanceof SysFlowReadError);
      assert.equal(e.offset, 0);
      assert.match(e.message, /bad magic/);
      return true;
    });
  });

  it('empty file', () => {
    assert.throws(() => openSysFlow(Buffer.alloc(0)), /too short/);
  });

  it('truncated inside a block: the error names the block offset, records before it were yielded', () => {
    const big = readFileSync(tracePath('sf-processor/mon.1531776712.sf'));
    const cut = big.subarray(0, Math.floor(big.length * 0.6));
    const { objects, error } = readSysFlowFilePartial(cut);
    assert.ok(error instanceof SysFlowReadError);
    assert.match(error.message, /truncated block/);
    assert.ok(error.offset > 0 && error.offset < cut.length);
    assert.ok(objects.length > 1000, `records before the error: ${objects.length}`);
    assert.equal(error.recordsRead, objects.length);
    // The records we got are exactly the prefix of the full file.
    const full = [...openSysFlow(big)];
    assert.deepEqual(objects, full.slice(0, objects.length));
  });

  it('truncated inside the header', () => {
    const { error } = readSysFlowFilePartial(good.subarray(0, 200));
    assert.ok(error instanceof SysFlowReadError);
    assert.match(error.message, /header/);
  });

  it('corrupted sync marker', () => {
    const bad = Buffer.from(good);
    bad[bad.length - 3]! ^= 0xff;
    const { error } = readSysFlowFilePartial(bad);
    assert.ok(error instanceof SysFlowReadError);
    assert.match(error.message, /sync marker/);
    assert.ok(error.offset > 6000);
  });

  it('a file path that does not exist', () => {
    assert.throws(() => openSysFlow('/nonexistent/trace.sf'), /ENOENT/);
  });
});
