// Custom stages from --plugdir, placed in pipeline.json by name (a good one, one that throws,
// one that cannot load), and --filter / the filter plugin on trace and replayed kernel records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runProcess } from '../../src/pipeline/process.js';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { end, fileRecord, hello, records } from '../unit/stream-builder.js';

const SHARED = process.env.FALCONET_SHARED ?? '/work/shared';
const TRACE = join(SHARED, 'data/sysflow/traces/sf-processor/shellshock.sf');

function processRun(pipeline: object[], extra: { plugdir?: string } = {}): Promise<{ code: number; out: string[]; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'fn-plug-'));
  const cfg = join(dir, 'pipeline.json');
  writeFileSync(cfg, JSON.stringify({ pipeline }));
  const outFd = openSync(join(dir, 'out'), 'w');
  const errFd = openSync(join(dir, 'err'), 'w');
  return runProcess({ config: cfg, traces: [TRACE], outFd, errFd, ...extra }).then((code) => {
    closeSync(outFd);
    closeSync(errFd);
    return { code, out: readFileSync(join(dir, 'out'), 'utf8').split('\n').filter((l) => l), err: readFileSync(join(dir, 'err'), 'utf8') };
  });
}

const READER = { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' };

test('custom stages: loaded by name from --plugdir; a failing one is named and never stops the others', async () => {
  const plugdir = mkdtempSync(join(tmpdir(), 'fn-plugdir-'));
  // keeps PE records only, and counts what it saw into a setting-named file at close
  writeFileSync(join(plugdir, 'onlype.js'), `
    import { writeFileSync } from 'node:fs';
    export function createStage(settings) {
      let seen = 0;
      return {
        name: 'onlype',
        process(batch) { seen += batch.length; return batch.filter((e) => e.rec.view.type === settings.keep); },
        close() { writeFileSync(settings.report, String(seen)); },
      };
    }`);
  writeFileSync(join(plugdir, 'thrower.js'), `export default () => ({ name: 'thrower', process() { throw new Error('boom in thrower'); } });`);
  writeFileSync(join(plugdir, 'broken.js'), `export default ( => {`);
  const report = join(plugdir, 'seen.txt');
  const r = await processRun([
    READER,
    { processor: 'broken', in: 'flat flattenerchan', out: 'a achan' },
    { processor: 'thrower', in: 'a achan', out: 'b bchan' },
    { processor: 'onlype', in: 'b bchan', out: 'c cchan', keep: 'PE', report },
    { processor: 'exporter', in: 'c cchan', export: 'terminal', format: 'json' },
  ], { plugdir });
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /plugin "broken" \(.*pipeline\.json:1:\d+\) failed to load from .*broken\.js: .*; the stage is left out and records pass on/);
  assert.match(r.err, /stage "thrower" failed .*boom in thrower/);
  assert.equal((r.err.match(/boom in thrower/g) ?? []).length, 1, 'reported once');
  const types = r.out.map((l) => (JSON.parse(l) as { type: string }).type);
  assert.ok(types.length > 0);
  assert.deepEqual([...new Set(types)], ['PE']);
  assert.equal(Number(readFileSync(report, 'utf8')), 56); // every PE/FF record reached the good plugin
  // without --plugdir an unknown processor is a configuration error naming its place
  const noDir = await processRun([READER, { processor: 'onlype', in: 'flat flattenerchan' }]);
  assert.equal(noDir.code, 1);
  assert.match(noDir.err, /pipeline\.json:1:\d+: unknown processor "onlype"/);
});

test('filter plugin on trace records: only matching records go on', async () => {
  const r = await processRun([
    READER,
    { processor: 'filter', in: 'flat flattenerchan', out: 'f fchan', expr: 'sf.type = FF and sf.file.path startswith /etc/' },
    { processor: 'exporter', in: 'f fchan', export: 'terminal', format: 'json' },
  ]);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.length > 0);
  for (const l of r.out) {
    const o = JSON.parse(l) as { type: string; file: { path: string } };
    assert.equal(o.type, 'FF');
    assert.ok(o.file.path.startsWith('/etc/'), o.file.path);
  }
  const bad = await processRun([READER, { processor: 'filter', in: 'flat flattenerchan', out: 'f fchan', expr: 'sf.nope = 1 and' }, { processor: 'exporter', in: 'f fchan' }]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /pipeline\.json:1:\d+: filter expr: /);
});

test('--filter on replayed kernel records drops the others before enrichment', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-filter-'));
  mkdirSync(join(dir, 'x'));
  const f = join(dir, 's.bin');
  writeFileSync(f, Buffer.concat([
    hello(),
    records([
      fileRecord({ pid: 4321, exe: 'writer', path: '/data/keep/a.log' }),
      fileRecord({ pid: 4321, exe: 'writer', path: '/data/drop/b.log' }),
      fileRecord({ pid: 4322, exe: 'other', path: '/data/keep/c.log' }),
    ]),
    end(),
  ]));
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (d: string) => { text += d; });
  const s = await runPipeline(replaySource(f), { output: 'json-min', hostFromStream: true, filter: 'sf.file.path startswith /data/keep/', log: () => {} }, out);
  const recs = text.trim().split('\n').map((l) => JSON.parse(l) as { File: string; InfoSequenceNumber: number });
  assert.deepEqual(recs.map((r) => r.File), ['a.log', 'c.log']);
  assert.deepEqual(recs.map((r) => r.InfoSequenceNumber), [1, 3], 'sequence numbers count the source records (gaps show drops)');
  assert.equal(s.counters.drops.get('filtered'), 1);
  assert.equal(s.counters.stages.get('enrich')!.in, 2, 'the filter runs before enrichment');
  await assert.rejects(runPipeline(replaySource(f), { output: 'json-min', filter: 'sf.proc.name =', log: () => {} }, new PassThrough()), /filter expr/);
});
