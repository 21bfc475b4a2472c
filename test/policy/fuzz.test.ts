// CI-sized fuzz run (20,000 mutations of the shipped policy files and their conditions); the
// full 1,000,000 run is bench/policy-fuzz.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzz } from './fuzz-lib.js';

test('20,000 mutated policy files and conditions: no crash, no hang, only clean errors', (t) => {
  const r = fuzz(process.env['FALCONET_SHARED'] ?? '/work/shared', 20260101, 20_000);
  assert.deepEqual(r.failures, []);
  assert.equal(r.iterations, 20_000);
  // Both outcomes must be exercised, or the mutations are too weak or too strong.
  assert.ok(r.loadedOk > 1000, `loaded ${r.loadedOk}`);
  assert.ok(r.rejected > 1000, `rejected ${r.rejected}`);
  t.diagnostic(`slowest input ${r.maxMs.toFixed(1)} ms (${r.slowest}); ${r.cost.summary()}`);
  assert.deepEqual(r.cost.report.outliers, [], 'no input costs out of proportion to its size');
});
