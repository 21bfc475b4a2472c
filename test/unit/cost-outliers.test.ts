// The fuzz tests' yardstick (test/lib/cost-outliers.ts) must flag an input whose cost grows out of
// proportion to its size, and must not flag one whose first run was merely interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CostOutliers, cpuMs } from '../lib/cost-outliers.js';

/** Work proportional to n (or to n² when quadratic), returned so it is not optimised away. */
function work(n: number, quadratic: boolean): number {
  let x = 0;
  const steps = quadratic ? n * n : n * 5;
  for (let i = 0; i < steps; i++) x = (x * 31 + i) | 0;
  return x;
}

function timed(fn: () => void): number {
  const t0 = cpuMs();
  fn();
  return cpuMs() - t0;
}

test('an input on a super-linear path is an outlier; the linear ones of any size are not', () => {
  const c = new CostOutliers(200, 100);
  let sink = 0;
  for (let i = 0; i < 400; i++) {
    const n = 200 + ((i * 7919) % 20_000);
    c.check(timed(() => { sink ^= work(n, false); }), n, `linear ${n}`, () => { sink ^= work(n, false); });
  }
  assert.deepEqual(c.report.outliers, []);
  const n = 10_000; // 100M steps against the 50K a linear input of that size takes: 2,000×
  c.check(timed(() => { sink ^= work(n, true); }), n, 'quadratic', () => { sink ^= work(n, true); });
  assert.equal(c.report.outliers.length, 1, String(sink));
  assert.match(c.report.outliers[0]!, /^quadratic: /);
});

test('a first run that was only interrupted (a retry is cheap) is not an outlier', () => {
  const c = new CostOutliers(200, 10);
  for (let i = 0; i < 10; i++) c.check(1, 1000, `warm ${i}`, () => {});
  c.check(10_000, 1000, 'paused', () => {}); // its retries take ~0 ms
  assert.deepEqual(c.report.outliers, []);
  assert.equal(c.report.worst, 'paused');
  assert.ok(c.report.worstRatio >= 10_000);
});
