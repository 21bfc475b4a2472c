// Kernel records → SysFlow traces (-w): replay a synthetic stream and read the trace back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { readSysFlowFile } from '../../src/sysflow/reader.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { FF } from '../../src/sensor/layout.js';
import { end, fileRecord, hello, records } from './stream-builder.js';
import { scratchDir } from '../lib/temp-dir.js';

test('file records become Process + File entities, FileFlows and FileEvents in a readable trace', async () => {
  const dir = scratchDir('fn-sf-');
  const stream = path.join(dir, 's.bin');
  writeFileSync(stream, Buffer.concat([
    hello(),
    records([
      fileRecord({ pid: 4321, exe: 'writer', path: '/data/out.log', events: [1, 1, 0, 2, 0, 3, 1, 0, 0, 0, 0] }),
      fileRecord({ pid: 4321, exe: 'writer', flags: FF.MOVED, origin: 'old.txt', path: '/data/new.txt', events: [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0] }),
      fileRecord({ pid: 4322, exe: 'rm', path: '/data/gone', events: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] }),
    ]),
    end(),
  ]));
  const traces = path.join(dir, 'traces') + '/';
  const summary = await runPipeline(replaySource(stream), { output: 'json-min', quiet: true, hostFromStream: true, sysflow: { output: traces, exporterId: 'test-exporter' } }, new PassThrough());
  assert.equal(summary.records, 3);
  const files = readdirSync(traces);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^\d{10}$/, 'epoch-second file name');
  const objs: SfObject[] = [];
  for await (const o of readSysFlowFile(path.join(traces, files[0]!))) objs.push(o);
  assert.equal(objs[0]!.type, 'H');
  assert.equal((objs[0]!.rec as { exporter: string }).exporter, 'test-exporter');
  const procs = objs.filter((o) => o.type === 'P').map((o) => (o.rec as { oid: { hpid: bigint } }).oid.hpid);
  assert.deepEqual(procs.map(Number).sort(), [4321, 4322]);
  const flows = objs.filter((o) => o.type === 'FF');
  assert.ok(flows.length >= 1);
  const ff = flows.find((o) => o.type === 'FF')!;
  assert.ok(ff.type === 'FF');
  assert.equal(Number(ff.rec.numWSendOps), 3);
  assert.equal(Number(ff.rec.numRRecvOps), 2);
  const fe = objs.filter((o) => o.type === 'FE');
  assert.equal(fe.length, 2, 'rename and unlink are FileEvents');
  const paths = objs.filter((o) => o.type === 'F').map((o) => (o.rec as { path: string }).path);
  for (const p of ['/data/out.log', '/data/new.txt', '/data/old.txt', '/data/gone']) assert.ok(paths.includes(p), p);
  // every referenced entity precedes its reference
  const firstIndex = (t: string) => objs.findIndex((o) => o.type === t);
  assert.ok(firstIndex('P') < firstIndex('FF'));
  assert.ok(firstIndex('F') < firstIndex('FF'));
});
