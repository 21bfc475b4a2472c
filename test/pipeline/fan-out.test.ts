// One pipeline.json, two policy engines, three file sinks (falconet process over a real
// sf-processor trace): each sink receives exactly what its branch should, checked against the
// policy engine run directly over the trace's views (no runtime involved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { loadPolicies, PolicyEngine, toFalcoJson, toSysFlowJson } from '../../src/policy/index.js';
import { readSysFlowFile, viewsOf } from '../../src/sysflow/index.js';
import { runProcess } from '../../src/pipeline/process.js';
import { ENGINE_RECORD_TYPES } from '../../src/pipeline/sources/sysflow-files.js';

const SHARED = process.env.FALCONET_SHARED ?? '/work/shared';
const POLICIES = join(SHARED, 'data/sysflow/policies/runtimeintegrity');
const TRACE = join(SHARED, 'data/sysflow/traces/sf-processor/shellshock.sf');

// engine B: every exec of a shell, and a tag on everything that touches /etc (enrich mode)
const EXEC_POLICY = `
- rule: Shell exec
  desc: a shell was executed
  condition: sf.opflags = EXEC and sf.proc.name in (bash, sh, dash)
  priority: low
  tags: [shell]
- rule: Touches etc
  desc: a file below /etc
  condition: sf.file.path startswith /etc/
  priority: low
  action: [tag]
  tags: [etc]
`;

test('fan-out: one pipeline.json feeds two engines and three sinks, each gets exactly its records', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-fanout-'));
  const policyB = join(dir, 'b.yaml');
  writeFileSync(policyB, EXEC_POLICY);
  const out = (n: string) => join(dir, n);
  const cfg = join(dir, 'pipeline.json');
  writeFileSync(cfg, JSON.stringify({
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'alerts alertchan', policies: POLICIES, mode: 'alert' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'enriched enrichchan', policies: policyB, mode: 'enrich' },
      { processor: 'exporter', in: 'alerts alertchan', sink: `file://${out('a.jsonl')} file://${out('a.falco')}?format=falco`, format: 'json' },
      { processor: 'exporter', in: 'enriched enrichchan', export: 'file', 'file.path': out('b.jsonl'), format: 'json' },
    ],
  }));
  const errFd = openSync(out('err.txt'), 'w');
  const code = await runProcess({ config: cfg, traces: [TRACE], errFd });
  closeSync(errFd);
  assert.equal(code, 0, readFileSync(out('err.txt'), 'utf8'));

  // ground truth: the engines on the views, outside the runtime
  const views = [...viewsOf(readSysFlowFile(TRACE))].filter((v) => ENGINE_RECORD_TYPES.has(v.type));
  const engA = new PolicyEngine(loadPolicies([POLICIES], { lenient: true }), 'alert');
  const engB = new PolicyEngine(loadPolicies([policyB]), 'enrich');
  const wantA: string[] = [];
  const wantFalco: string[] = [];
  const wantB: string[] = [];
  for (const v of views) {
    const a = engA.process(v);
    if (a) {
      wantA.push(toSysFlowJson(a));
      for (const r of a.alerts) wantFalco.push(toFalcoJson(v, r, v.header?.exporter || hostname()));
    }
    const b = engB.process(v);
    if (b) wantB.push(toSysFlowJson(b));
  }
  const lines = (n: string) => readFileSync(out(n), 'utf8').split('\n').filter((l) => l);
  assert.equal(wantA.length, 6); // the golden shellshock alerts
  assert.deepEqual(lines('a.jsonl'), wantA);
  assert.deepEqual(lines('a.falco'), wantFalco);
  assert.equal(wantB.length, views.length); // enrich mode passes every record
  assert.deepEqual(lines('b.jsonl'), wantB);
  assert.ok(wantB.some((l) => l.includes('"tags":["etc"]')) || wantB.some((l) => l.includes('"shell"')), 'engine B matched something');
});

test('sysflow-avro: one SysFlow datum per record through a UDP sink, decodable on its own', async () => {
  const dgram = await import('node:dgram');
  const { decodeSfDatum } = await import('../../src/sysflow/index.js');
  const server = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  server.on('message', (m) => got.push(m));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  const port = server.address().port;
  const dir = mkdtempSync(join(tmpdir(), 'fn-avro-'));
  const cfg = join(dir, 'pipeline.json');
  writeFileSync(cfg, JSON.stringify({
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'exporter', in: 'flat flattenerchan', sink: `udp://127.0.0.1:${port}?format=sysflow-avro&policy=block` },
    ],
  }));
  const errFd = openSync(join(dir, 'err.txt'), 'w');
  const code = await runProcess({ config: cfg, traces: [TRACE], errFd });
  closeSync(errFd);
  assert.equal(code, 0, readFileSync(join(dir, 'err.txt'), 'utf8'));
  const want = [...viewsOf(readSysFlowFile(TRACE))].filter((v) => ENGINE_RECORD_TYPES.has(v.type)).map((v) => v.obj);
  // the last datagrams may still be on their way (bounded: a slow machine is not a failure)
  for (const t0 = Date.now(); got.length < want.length && Date.now() - t0 < 30_000; ) await new Promise((r) => setTimeout(r, 20));
  server.close();
  assert.equal(got.length, want.length);
  assert.deepEqual(got.map((m) => decodeSfDatum(m)), want);
});
