// Golden alerts: runtimeintegrity/ (globals + path + runtimeintegrity + ttps) over shellshock.sf
// and the three mon.*.sf traces. The golden file is produced from hand-written witnesses and
// annotated with the reason each group of records matches (see golden/*.golden and
// golden/witness.ts); here the engine, the witnesses and the golden file must all agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicies, PolicyEngine } from '../../src/policy/index.js';
import { readSysFlowFile, viewsOf, type SfRecordView } from '../../src/sysflow/index.js';
import { runProcess } from '../../src/pipeline/process.js';
import { witnessLines } from './golden/witness.js';
import { ENGINE_TYPES, GOLDEN_TRACES } from './golden/make-golden.js';

const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';
const POLICIES = join(SHARED, 'data/sysflow/policies/runtimeintegrity');
const TRACE_DIR = join(SHARED, 'data/sysflow/traces/sf-processor');
// The golden file sits next to this test's source (dist/test/policy → test/policy).
const GOLDEN = join(import.meta.dirname, '../../../test/policy/golden/runtimeintegrity-alerts.golden');

const golden = readFileSync(GOLDEN, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const views = new Map<string, SfRecordView[]>(
  GOLDEN_TRACES.map((t) => [t, [...viewsOf(readSysFlowFile(join(TRACE_DIR, t)))].filter((v) => ENGINE_TYPES.has(v.type))]),
);

test('golden file is non-trivial and covers every trace', () => {
  assert.equal(golden.length, 656);
  for (const t of GOLDEN_TRACES) assert.ok(golden.some((l) => l.startsWith(t + ' ')), t);
});

test('engine output equals the golden alerts', () => {
  const policy = loadPolicies([POLICIES], { lenient: true });
  const got: string[] = [];
  for (const t of GOLDEN_TRACES) {
    const engine = new PolicyEngine(policy, 'alert');
    for (const v of views.get(t)!) {
      if (engine.evaluate(v) <= 0) continue;
      for (const r of engine.matches()) got.push(`${t} ${v.index} ${v.type} ${r.name} @${r.file.split('/').pop()}`);
    }
  }
  assert.deepEqual([...got].sort(), [...golden].sort());
});

test('hand-written witnesses equal the golden alerts', () => {
  const got = GOLDEN_TRACES.flatMap((t) => witnessLines(t, views.get(t)!));
  assert.deepEqual([...got].sort(), [...golden].sort());
});

test('falconet process (pipeline.json, terminal/json exporter) emits the golden shellshock alerts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-golden-'));
  try {
    const cfg = join(dir, 'pipeline.json');
    writeFileSync(cfg, JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: POLICIES, mode: 'alert', lenient: 'true' },
        { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format: 'json' },
      ],
    }));
    const outPath = join(dir, 'out.jsonl');
    const outFd = openSync(outPath, 'w');
    const errFd = openSync(join(dir, 'err.txt'), 'w');
    const code = await runProcess({ config: cfg, traces: [join(TRACE_DIR, 'shellshock.sf')], outFd, errFd });
    closeSync(outFd);
    closeSync(errFd);
    assert.equal(code, 0, readFileSync(join(dir, 'err.txt'), 'utf8'));
    const lines = readFileSync(outPath, 'utf8').trim().split('\n');
    const records = lines.map((l) => JSON.parse(l) as { type: string; ts: number; policies: { id: string }[] });
    // One line per alerted record, carrying every matching rule (sf-processor's exported shape).
    const want = new Map<number, string[]>();
    for (const g of golden.filter((l) => l.startsWith('shellshock.sf '))) {
      const [, idx, , ...rest] = g.split(' ');
      const rule = rest.join(' ').replace(/ @\S+$/, '');
      want.set(Number(idx), [...(want.get(Number(idx)) ?? []), rule]);
    }
    assert.equal(records.length, want.size);
    assert.deepEqual(records.map((r) => r.policies.map((p) => p.id).sort()), [...want.values()].map((x) => x.sort()));
    assert.ok(lines.every((l) => l.startsWith('{"version":5,"endts":')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('path.yaml KE rule (JSON path into sf.ke.message) on k8s_small.sf: the one pod ADDED in robot-shop', () => {
  const policy = loadPolicies([join(POLICIES, 'path.yaml')]);
  const engine = new PolicyEngine(policy, 'alert');
  const all = [...viewsOf(readSysFlowFile(join(TRACE_DIR, 'k8s_small.sf')))];
  const ke = all.filter((v) => v.type === 'KE');
  // Independent reading of the trace: 4 K8s events, one of them ADDED, in namespace robot-shop
  // (the messages end in "\n\0", which the JSON path must tolerate).
  assert.equal(ke.length, 4);
  const added = ke.filter((v) => v.obj.type === 'KE' && v.obj.rec.action === 'K8S_COMPONENT_ADDED');
  assert.equal(added.length, 1);
  const msg = added[0]!.obj.type === 'KE' ? added[0]!.obj.rec.message : '';
  assert.equal((JSON.parse(msg.replace(/[\s\u0000]+$/, '')) as { items: { namespace: string }[] }).items[0]!.namespace, 'robot-shop');
  const alerts = all.map((v) => engine.process(v)).filter((r) => r !== null);
  assert.deepEqual(alerts.map((r) => [r!.view.index, r!.alerts[0]!.name]), [[added[0]!.index, 'New pod in namespace robot-shop']]);
});
