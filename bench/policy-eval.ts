// Policy evaluation throughput: records/s through the full runtimeintegrity + ttps rule set
// (the shipped runtimeintegrity/ directory: globals, path, runtimeintegrity, ttps) on the
// sample traces. Reading and entity joining are excluded: all views are built first, then only
// `engine.evaluate` is timed. Run: node dist/bench/policy-eval.js [seconds]
import { join } from 'node:path';
import { loadPolicies, PolicyEngine } from '../src/policy/index.js';
import { readSysFlowFile, viewsOf, type SfRecordView } from '../src/sysflow/index.js';

const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';
const POLICIES = join(SHARED, 'data/sysflow/policies/runtimeintegrity');
const TRACES = ['shellshock.sf', 'mon.1531776682.sf', 'mon.1531776712.sf', 'mon.1531776742.sf'].map((t) =>
  join(SHARED, 'data/sysflow/traces/sf-processor', t),
);
// sf-processor's flattener forwards only these types to the policy engine.
const ENGINE_TYPES = new Set(['PE', 'FF', 'FE', 'NF', 'KE']);

const seconds = Number(process.argv[2] ?? 3);
const policy = loadPolicies([POLICIES], { lenient: true });
const views: SfRecordView[] = [];
for (const t of TRACES) for (const v of viewsOf(readSysFlowFile(t))) if (ENGINE_TYPES.has(v.type)) views.push(v);

const engine = new PolicyEngine(policy, 'alert');
let sink = 0;
const pass = (): void => {
  for (let i = 0; i < views.length; i++) sink += engine.evaluate(views[i]!);
};
// Warm-up (JIT, and the per-entity memo caches that a long-running agent would have warm).
for (let i = 0; i < 3; i++) pass();

let records = 0;
const t0 = process.hrtime.bigint();
const deadline = t0 + BigInt(Math.round(seconds * 1e9));
let now = t0;
while (now < deadline) {
  pass();
  records += views.length;
  now = process.hrtime.bigint();
}
const secs = Number(now - t0) / 1e9;
const rate = records / secs;
const enabled = policy.rules.filter((r) => r.enabled).length;
process.stdout.write(
  `policy-eval: ${enabled} rules + ${policy.filters.length} filters, ${views.length} records from ${TRACES.length} traces\n` +
    `policy-eval: ${records} evaluations in ${secs.toFixed(2)} s = ${Math.round(rate).toLocaleString('en-US')} records/s on one core ` +
    `(target >= 500,000: ${rate >= 500_000 ? 'met' : 'NOT met'}) [checksum ${sink}]\n`,
);
