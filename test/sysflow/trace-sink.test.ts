// Trace sink: -w DIR/ + -G rotation with epoch-second names, header first, every file
// self-contained (REUP re-emission), --exporter-id, and the socket message stream.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createSysFlowTraceSink } from '../../src/sysflow/trace-sink.js';
import { MemoryTransport, SysFlowSocketOutput, SF_PROCESSOR_MAX_MESSAGE } from '../../src/sysflow/socket-output.js';
import { readSysFlowFile } from '../../src/sysflow/reader.js';
import { decodeSfDatum } from '../../src/sysflow/schema.js';
import { EntityTable } from '../../src/sysflow/entities.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { avscDecodeContainer, officialV5Type, tracePath } from './helpers.js';

const isEntity = (o: SfObject): boolean => o.type === 'H' || o.type === 'C' || o.type === 'P' || o.type === 'F' || o.type === 'POD';

/** Read back a sequence of segments; check each is self-contained; return its events/flows. */
function checkSelfContained(segments: SfObject[][], exporter: string): SfObject[] {
  const events: SfObject[] = [];
  for (const [i, objs] of segments.entries()) {
    assert.equal(objs[0]?.type, 'H', `segment ${i} starts with a header`);
    if (objs[0]!.type === 'H') {
      assert.equal(objs[0]!.rec.exporter, exporter);
      assert.equal(objs[0]!.rec.version, 5n);
    }
    assert.equal(objs.filter((o) => o.type === 'H').length, 1);
    const t = new EntityTable();
    for (const o of objs) {
      t.push(o);
      if (!isEntity(o)) events.push(o);
    }
    assert.deepEqual(t.missing, { process: 0, parent: t.missing.parent, file: 0, container: 0, pod: 0 }, `segment ${i}`);
  }
  return events;
}

describe('trace sink: files', () => {
  it('-w DIR/ -G 10: epoch-second files, header first, self-contained, same events in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfsink-'));
    try {
      const src = [...readSysFlowFile(tracePath('sf-processor/mon.1531776712.sf'))];
      let clock = 1_700_000_000_000;
      const sink = createSysFlowTraceSink({ output: dir + '/', rotateSeconds: 10, exporterId: 'node-7', now: () => clock, flushIntervalMs: 0 });
      for (const o of src) {
        sink.write(o);
        clock += 10; // 7396 records × 10 ms ≈ 74 s → 8 files
      }
      sink.close();
      const names = readdirSync(dir).sort();
      assert.deepEqual(names, sink.paths.map((p) => basename(p)).sort());
      assert.equal(names.length, 8);
      for (const n of names) assert.match(n, /^17000000\d\d$/);
      // Rotation boundaries: 10 s apart.
      assert.deepEqual(names.map(Number).map((s, i, a) => (i ? s - a[i - 1]! : 0)), [0, 10, 10, 10, 10, 10, 10, 10]);

      const segments = sink.paths.map((p) => [...readSysFlowFile(p)]);
      segments.forEach((seg, i) => {
        const h = seg[0]!;
        assert.ok(h.type === 'H' && h.rec.filename === sink.paths[i], 'header filename is the file path');
      });
      const events = checkSelfContained(segments, 'node-7');
      assert.deepStrictEqual(events, src.filter((o) => !isEntity(o)), 'every event/flow, in order, unchanged');
      // Later files start with REUP re-emissions of live entities.
      const reup = segments.slice(1).flatMap((s) => s.filter((o) => o.type === 'P' && o.rec.state === 'REUP'));
      assert.ok(reup.length > 100);
      assert.ok(sink.stats.reemitted > 0);
      assert.equal(sink.stats.ignoredHeaders, 1);
      assert.equal(sink.stats.danglingRefs, 0);

      // Independent reader on every file.
      for (const p of sink.paths) {
        const { records } = await avscDecodeContainer(readFileSync(p), officialV5Type());
        assert.equal(records.length, [...readSysFlowFile(p)].length);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('-w PREFIX with -G names files PREFIX.<epoch>; without -G writes exactly PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfsink-'));
    try {
      const src = [...readSysFlowFile(tracePath('sf-collector/setuid/setuid.sf'))];
      let clock = 1_600_000_000_500;
      const a = createSysFlowTraceSink({ output: join(dir, 'trace'), rotateSeconds: 1, exporterId: 'x', now: () => clock, flushIntervalMs: 0 });
      for (const o of src) {
        a.write(o);
        clock += 300;
      }
      a.close();
      assert.ok(a.paths.length >= 5);
      for (const p of a.paths) assert.match(basename(p), /^trace\.16000000\d\d$/);
      checkSelfContained(a.paths.map((p) => [...readSysFlowFile(p)]), 'x');

      const b = createSysFlowTraceSink({ output: join(dir, 'one.sf'), exporterId: 'y', flushIntervalMs: 0 });
      for (const o of src) b.write(o);
      b.close();
      assert.deepEqual(b.paths, [join(dir, 'one.sf')]);
      const back = [...readSysFlowFile(join(dir, 'one.sf'))];
      assert.deepStrictEqual(back.slice(1), src.slice(1), 'only the header differs');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an event whose entities came before a rotation gets them re-emitted; exited processes are dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfsink-'));
    try {
      let clock = 1_000_000;
      const sink = createSysFlowTraceSink({ output: dir + '/', rotateSeconds: 5, exporterId: 'e', now: () => clock, flushIntervalMs: 0 });
      const oid = { createTS: 5n, hpid: 10n };
      const oid2 = { createTS: 6n, hpid: 11n };
      const p = (o: typeof oid, exe: string): SfObject => ({
        type: 'P',
        rec: { state: 'CREATED', oid: o, poid: null, ts: 1n, exe, exeArgs: '', uid: 0, userName: '', gid: 0, groupName: '', tty: false, containerId: null, entry: false, cwd: '', env: [] },
      });
      sink.write(p(oid, '/bin/a'));
      sink.write(p(oid2, '/bin/b'));
      const f: SfObject = { type: 'F', rec: { state: 'CREATED', oid: 'ab'.repeat(20), ts: 1n, restype: 102, path: '/x', containerId: null } };
      sink.write(f);
      // b exits in the first file
      sink.write({ type: 'PE', rec: { procOID: oid2, ts: 2n, tid: 11n, opFlags: 4, args: [], ret: 0 } });
      clock += 6000;
      sink.write({
        type: 'FF',
        rec: { procOID: oid, ts: 3n, tid: 10n, opFlags: 1152, openFlags: 1, endTs: 4n, fileOID: 'ab'.repeat(20), fd: 3, numRRecvOps: 0n, numWSendOps: 0n, numRRecvBytes: 0n, numWSendBytes: 0n },
      });
      sink.close();
      assert.equal(sink.paths.length, 2);
      const second = [...readSysFlowFile(sink.paths[1]!)];
      assert.deepEqual(second.map((o) => o.type), ['H', 'P', 'F', 'FF']);
      assert.ok(second[1]!.type === 'P' && second[1]!.rec.state === 'REUP' && second[1]!.rec.exe === '/bin/a');
      assert.ok(second[2]!.type === 'F' && second[2]!.rec.state === 'REUP');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trace sink: socket stream (one v5 datum per message)', () => {
  it('header first, entities before references, every message decodes alone with avsc', () => {
    const t = new MemoryTransport();
    let clock = 0;
    const sink = createSysFlowTraceSink({ socket: t, exporterId: 'sock', rotateSeconds: 30, now: () => clock, flushIntervalMs: 0 });
    const src = [...readSysFlowFile(tracePath('sf-processor/k8s_small.sf'))];
    for (const o of src) {
      sink.write(o);
      clock += 10;
    }
    sink.close();
    assert.ok(t.closed);
    const type = officialV5Type();
    const objs = t.messages.map((m) => {
      assert.ok(m.length <= SF_PROCESSOR_MAX_MESSAGE);
      type.fromBuffer(m); // throws unless the message is exactly one valid datum
      return decodeSfDatum(m);
    });
    // A header starts the stream and each 30 s segment (61.7 s of records → 3 segments).
    const segs: SfObject[][] = [];
    for (const o of objs) {
      if (o.type === 'H') segs.push([]);
      segs.at(-1)!.push(o);
    }
    assert.equal(objs[0]!.type, 'H');
    assert.equal(segs.length, 3);
    const events = checkSelfContained(segs, 'sock');
    assert.deepStrictEqual(events, src.filter((o) => !isEntity(o)));
  });

  it('oversized Process records are shrunk to fit the processor buffer, others dropped and counted', () => {
    const t = new MemoryTransport();
    const out = new SysFlowSocketOutput(t);
    const big: SfObject = {
      type: 'P',
      rec: {
        state: 'CREATED',
        oid: { createTS: 1n, hpid: 1n },
        poid: null,
        ts: 1n,
        exe: '/bin/x',
        exeArgs: 'a'.repeat(20_000),
        uid: 0,
        userName: 'root',
        gid: 0,
        groupName: 'root',
        tty: false,
        containerId: null,
        entry: false,
        cwd: '/',
        env: Array.from({ length: 500 }, (_, i) => `VAR${i}=${'v'.repeat(40)}`),
      },
    };
    out.write(big);
    assert.equal(t.messages.length, 1);
    assert.ok(t.messages[0]!.length <= SF_PROCESSOR_MAX_MESSAGE);
    const back = decodeSfDatum(t.messages[0]!);
    assert.ok(back.type === 'P' && back.rec.env.length === 0 && back.rec.exeArgs.length < 20_000 && back.rec.exeArgs.length > 15_000);
    assert.equal(out.stats.trimmed, 1);
    out.write({ type: 'KE', rec: { kind: 'K8S_PODS', action: 'K8S_COMPONENT_ADDED', ts: 1n, message: 'x'.repeat(20_000) } });
    assert.equal(out.stats.droppedOversize, 1);
    assert.equal(t.messages.length, 1);
  });
});
