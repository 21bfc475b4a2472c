// Every SysFlow record the flattener makes has its own id: engines de-duplicate by id (Nats-Msg-Id,
// Elasticsearch _id), so records of one kernel record sharing its id would be dropped as repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlattenerStage } from '../../src/pipeline/stages/sysflow.js';
import { recordIdString, type Envelope } from '../../src/pipeline/types.js';
import { readSysFlowFile } from '../../src/sysflow/reader.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SHARED = process.env['FALCONET_SHARED'] ?? path.resolve(ROOT, '../shared');
const TRACE = path.join(SHARED, 'data/sysflow/traces/sf-processor/tcp.sf');

test('flattener: the SysFlow records of one kernel record get distinct ids in their own space', () => {
  const objs = [...readSysFlowFile(TRACE)];
  const stage = new FlattenerStage('flattener', { mapper: undefined });
  const kernelId = { host: 'h1', boot: '1700000000000.42', seq: 7n };
  // the objects a kernel record maps to travel memoised on its envelope (enrich.sysflow)
  const env: Envelope = { kind: 'file', rec: {}, id: kernelId, enrich: { sysflow: objs } };
  const out = stage.process([env]);
  assert.ok(out.length >= 10, `the trace gives many records (${out.length})`);
  const ids = out.map((e) => recordIdString(e.id!));
  assert.equal(new Set(ids).size, out.length, 'no two records share an id');
  assert.deepEqual(ids.slice(0, 3), ['h1:1700000000000.42.sf:1', 'h1:1700000000000.42.sf:2', 'h1:1700000000000.42.sf:3']);
  // a second kernel record continues the count
  const more = stage.process([{ kind: 'file', rec: {}, id: { ...kernelId, seq: 8n }, enrich: { sysflow: objs.slice(-3) } }]);
  for (const e of more) assert.ok(e.id!.seq > BigInt(out.length), 'ids keep counting');
  // records that are SysFlow already pass with their own ids
  const passed = stage.process([out[0]!]);
  assert.equal(passed[0]!.id, out[0]!.id);
});
