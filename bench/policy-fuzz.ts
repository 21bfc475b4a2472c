// Full fuzz run: 1,000,000 mutated policy files / conditions through the loader, compiler and
// engine (see test/policy/fuzz-lib.ts for the mutations and invariants). Prints the outcome.
// Run: node dist/bench/policy-fuzz.js [iterations] [seed]
import { fuzz } from '../test/policy/fuzz-lib.js';

const iterations = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 424242);
const shared = process.env['FALCONET_SHARED'] ?? '/work/shared';
const t0 = Date.now();
const r = fuzz(shared, seed, iterations, (done) => process.stderr.write(`policy-fuzz: ${done}/${iterations}\n`));
const secs = (Date.now() - t0) / 1000;
process.stdout.write(
  `policy-fuzz: ${r.iterations} mutations (seed ${seed}) in ${secs.toFixed(0)} s: ` +
    `${r.loadedOk} compiled and evaluated, ${r.rejected} rejected with ${r.diagnostics} diagnostics, ` +
    `${r.failures.length} crashes/unclean errors, slowest input ${r.maxMs.toFixed(1)} ms (${r.slowest})\n` +
    `policy-fuzz: cost per input: ${r.cost.summary()}; ${r.cost.report.outliers.length} out of proportion\n`,
);
for (const f of r.failures) process.stdout.write(`FAILURE ${f}\n`);
for (const o of r.cost.report.outliers) process.stdout.write(`OUT OF PROPORTION ${o}\n`);
process.exitCode = r.failures.length + r.cost.report.outliers.length > 0 ? 1 : 0;
