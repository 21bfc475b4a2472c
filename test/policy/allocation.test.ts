// "No per-record allocation in the common path": evaluate the full runtimeintegrity + ttps set
// over the sample traces' records many times (caches warm) and watch the garbage collector.
// With V8's young generation of several MiB, even ~16 bytes per evaluation would trigger
// scavenges over 900,000 evaluations; we require none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { join } from 'node:path';
import { loadPolicies, PolicyEngine } from '../../src/policy/index.js';
import { readSysFlowFile, viewsOf, type SfRecordView } from '../../src/sysflow/index.js';

const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';

test('warm evaluation allocates nothing (no GC during 900,000 evaluations)', async () => {
  const policy = loadPolicies([join(SHARED, 'data/sysflow/policies/runtimeintegrity')], { lenient: true });
  const views: SfRecordView[] = [];
  for (const t of ['shellshock.sf', 'mon.1531776682.sf', 'mon.1531776712.sf', 'mon.1531776742.sf']) {
    for (const v of viewsOf(readSysFlowFile(join(SHARED, 'data/sysflow/traces/sf-processor', t)))) {
      if (v.type === 'PE' || v.type === 'FF' || v.type === 'FE' || v.type === 'NF') views.push(v);
    }
  }
  const engine = new PolicyEngine(policy, 'alert');
  let matched = 0;
  for (let r = 0; r < 3; r++) for (const v of views) engine.evaluate(v); // warm JIT and caches
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const rounds = Math.ceil(900_000 / views.length);
  // Three windows; a real per-evaluation allocation collects in every one of them, while a
  // one-off collection (JIT, test runner, another process's pressure) shows up in one only.
  const perWindow: number[] = [];
  for (let w = 0; w < 3; w++) {
    await new Promise((r) => setImmediate(r));
    gcs = 0;
    matched = 0;
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < views.length; i++) if (engine.evaluate(views[i]!) > 0) matched++;
    }
    await new Promise((r) => setTimeout(r, 50));
    perWindow.push(gcs);
    assert.equal(matched, 553 * rounds); // the golden file's alerted records, every round
  }
  obs.disconnect();
  assert.equal(Math.min(...perWindow), 0, `garbage collections per window of ${rounds * views.length} evaluations: ${perWindow.join(', ')}`);
});
