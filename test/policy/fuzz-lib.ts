// Mutation fuzzer for the policy loader and condition compiler, shared by the CI test (about
// 20,000 mutations) and bench/policy-fuzz.ts (1,000,000). Invariants: loading never throws
// (problems come back as diagnostics with positions), `compileFilterExpression` throws only
// PolicyError, compiled rules evaluate without throwing, and no input takes long.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileFilterExpression, compilePolicyText, PolicyError, PolicyEngine } from '../../src/policy/index.js';
import type { SfRecordView } from '../../src/sysflow/view.js';
import { makeView } from './helpers.js';
import { CostOutliers, cpuMs } from '../lib/cost-outliers.js';

/** xorshift32: deterministic, so a failure is reproducible from its seed and index. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
}

/** A random prefix of `file`, in half the cases with 1-3 random bytes of it changed (a copy):
 * what a crash (a torn end) or a damaged disk leaves of a file that is written by appending. */
function tornOrDamaged(rng: Rng, file: Buffer): Buffer {
  let f = file.subarray(0, rng.int(file.length + 1));
  if (rng.int(2)) {
    f = Buffer.from(f);
    for (let k = 1 + rng.int(3); k > 0 && f.length; k--) f[rng.int(f.length)] = rng.int(256);
  }
  return f;
}

/** Runs `runsOf` (the whole parts of a file, as [start, end) runs) on `iterations` copies of
 * `file` with 1–4 random bytes damaged anywhere: the runs must be ordered, non-empty and within
 * the copy (a throw fails the test); `check` sees each run. How many copies kept parts after a
 * damaged one (more than one run). */
export function fuzzDamagedRuns(file: Buffer, seed: number, iterations: number, runsOf: (f: Buffer) => readonly (readonly [number, number])[],
  check: (f: Buffer, run: readonly [number, number], index: number, i: number) => void): number {
  const rng = new Rng(seed);
  let split = 0;
  for (let i = 0; i < iterations; i++) {
    const f = Buffer.from(file);
    for (let k = 1 + rng.int(4); k > 0; k--) f[rng.int(f.length)] = rng.int(256);
    const runs = runsOf(f);
    let prev = 0;
    runs.forEach((run, index) => {
      const [a, b] = run;
      if (!(prev <= a && a < b && b <= f.length)) throw new Error(`#${i}: ${JSON.stringify(runs)}`);
      prev = b;
      check(f, run, index, i);
    });
    if (runs.length > 1) split++;
  }
  return split;
}

/** The bytes a crash leaves whole: the first run of whole parts when it starts the file (what a
 * torn end is cut back to), else 0. */
export function wholePrefix(runs: readonly (readonly [number, number])[]): number {
  return runs.length && runs[0]![0] === 0 ? runs[0]![1] : 0;
}

/** Runs `complete` (how much of a file is whole) on `iterations` torn or damaged copies of
 * `file`: each answer must be a length within the copy (a throw fails the test); `check` sees each
 * copy with a non-zero answer. How many copies had no whole part, and how many had one. */
export function fuzzWholePrefix(file: Buffer, seed: number, iterations: number, complete: (f: Buffer) => number,
  check: (f: Buffer, n: number, i: number) => void): { none: number; kept: number } {
  const rng = new Rng(seed);
  const out = { none: 0, kept: 0 };
  for (let i = 0; i < iterations; i++) {
    const f = tornOrDamaged(rng, file);
    const n = complete(f);
    if (!(n >= 0 && n <= f.length)) throw new Error(`#${i}: ${n} of ${f.length}`);
    if (n === 0) { out.none++; continue; }
    out.kept++;
    check(f, n, i);
  }
  return out;
}

const TOKENS = [
  '(', ')', '[', ']', ',', "'", '"', '\\', '=', '!=', '<', '<=', '>', '>=', ' and ', ' or ', ' not ', 'not ', ' in ', ' pmatch ',
  ' exists', 'exists ', ' contains ', ' icontains ', ' startswith ', ' endswith ', ' glob ', ' regex ', ' intersects ', ' val(',
  '\n', '\t', '  ', '- ', '- rule: ', '- macro: ', '- list: ', '- filter: ', 'condition: ', 'condition: >\n  ', 'items: [', 'desc: ',
  'priority: ', 'prefilter: [', 'tags: [', 'enabled: ', 'append: true', ':', '#', 'sf.proc.name', 'sf.opflags', 'proc.aname[2]',
  'sf.file.path', 'sf.ts', 'sf.flow.rbytes', 'sf.ke.message[a.0]', 'evt.type', 'fd.name', 'runc:[0:PARENT]', 'EXEC', '0', '-1',
  '99999999999999999999999', '0x1f', 'true', 'high', 'INFO', 'shell_binaries', '\u00e9', '\u0000', '\uFEFF', '\r\n', '*', '?',
];

/** Seed corpus: every shipped policy file, split into items, plus the whole small files. */
export function loadSeeds(shared: string): { items: string[]; files: string[]; conditions: string[] } {
  const root = join(shared, 'data/sysflow/policies');
  const files: string[] = [];
  for (const d of ['runtimeintegrity', 'distribution', 'tests', 'examples']) {
    for (const f of readdirSync(join(root, d)).sort()) if (f.endsWith('.yaml')) files.push(readFileSync(join(root, d, f), 'utf8'));
  }
  const items: string[] = [];
  const conditions: string[] = [];
  for (const f of files) {
    const parts = f.split(/\n(?=[ \t]?- (?:rule|macro|list|filter|drop):)/);
    for (const p of parts) {
      if (p.length < 4000) items.push(p);
      const m = /condition:\s*>?\s*([\s\S]*?)(?:\n\s*(?:priority|tags|prefilter|desc|output|enabled|actions?):|$)/.exec(p);
      if (m && m[1]!.trim()) conditions.push(m[1]!.trim());
    }
  }
  return { items, files, conditions };
}

export function mutate(rng: Rng, s: string): string {
  const rounds = 1 + rng.int(2);
  for (let r = 0; r < rounds; r++) {
    const n = s.length;
    const at = n === 0 ? 0 : rng.int(n + 1);
    switch (rng.int(7)) {
      case 0: // delete a range
        s = s.slice(0, at) + s.slice(Math.min(n, at + 1 + rng.int(12)));
        break;
      case 1: // insert a significant token
        s = s.slice(0, at) + rng.pick(TOKENS) + s.slice(at);
        break;
      case 2: // replace a char with a random byte
        s = s.slice(0, at) + String.fromCharCode(rng.int(128)) + s.slice(at + 1);
        break;
      case 3: { // duplicate a range
        const len = rng.int(40);
        s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
        break;
      }
      case 4: // truncate
        s = s.slice(0, at);
        break;
      case 5: { // swap two ranges
        const b = rng.int(n + 1);
        const [x, y] = at < b ? [at, b] : [b, at];
        const len = Math.min(rng.int(20), y - x);
        s = s.slice(0, x) + s.slice(y, y + len) + s.slice(x + len, y) + s.slice(x, x + len) + s.slice(y + len);
        break;
      }
      default: // deep nesting or long chains
        s = s.slice(0, at) + (rng.int(2) ? '('.repeat(rng.int(800)) : ' and sf.type = PE'.repeat(rng.int(300))) + s.slice(at);
    }
  }
  return s;
}

export interface FuzzResult {
  iterations: number;
  loadedOk: number;
  rejected: number;
  diagnostics: number;
  evaluated: number;
  maxMs: number;
  slowest: string;
  failures: string[];
  /** inputs out of proportion to the run's typical cost (no wall-time bound) */
  cost: CostOutliers;
}

let views: SfRecordView[] | null = null;
function sampleViews(): SfRecordView[] {
  views ??= [
    makeView({ type: 'PE', opFlags: 2, procs: [{ pid: 3, exe: '/bin/bash', args: '-c id' }, { pid: 2, exe: '/usr/sbin/sshd' }], container: { name: 'c' } }),
    makeView({ type: 'FF', file: { path: '/etc/shadow' }, procs: [{ pid: 4, exe: '/usr/bin/cat' }] }),
    makeView({ type: 'NF', procs: [{ pid: 5, exe: '/usr/bin/curl' }] }),
    makeView({ type: 'KE', ke: { kind: 'K8S_PODS', action: 'K8S_COMPONENT_ADDED', message: '{"items":[{"namespace":"a"}]}' } }),
  ];
  return views;
}

/** Compiles one mutated input (a policy file or a bare condition) and evaluates what loads,
 * counting into `res`; throws on anything but a clean rejection. */
function fuzzOne(res: FuzzResult, input: string, kind: number, lenient: boolean, dialect: 'sysflow' | 'falco'): void {
  const vs = sampleViews();
  if (kind <= 6) {
    const r = compilePolicyText([{ name: 'fuzz.yaml', text: input }], { lenient, dialect });
    res.diagnostics += r.diagnostics.length;
    for (const d of r.diagnostics) {
      if (!(d.line >= 1 && d.col >= 1 && d.message.length > 0)) throw new Error(`bad diagnostic ${JSON.stringify(d)}`);
    }
    if (r.policy) {
      res.loadedOk++;
      const e = new PolicyEngine(r.policy, 'enrich');
      for (const v of vs) e.process(v);
      res.evaluated++;
    } else res.rejected++;
    return;
  }
  try {
    const p = compileFilterExpression(input, { lenient, dialect });
    for (const v of vs) p(v);
    res.loadedOk++;
    res.evaluated++;
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    res.rejected++;
    res.diagnostics += e.diagnostics.length;
  }
}

const emptyResult = (): FuzzResult => ({ iterations: 0, loadedOk: 0, rejected: 0, diagnostics: 0, evaluated: 0, maxMs: 0, slowest: '', failures: [], cost: new CostOutliers() });

/** Runs `iterations` mutations starting at `start` (so a run can be split and resumed). */
export function fuzz(shared: string, seed: number, iterations: number, onProgress?: (done: number) => void): FuzzResult {
  const seeds = loadSeeds(shared);
  const rng = new Rng(seed);
  const res = emptyResult();
  const scratch = emptyResult(); // the retries of a slow input count nowhere
  for (let i = 0; i < iterations; i++) {
    const kind = rng.int(10);
    // 60% single items, 10% whole files, 30% bare conditions.
    const input = kind < 6
      ? mutate(rng, rng.pick(seeds.items) + (rng.int(3) === 0 ? '\n' + rng.pick(seeds.items) : ''))
      : kind === 6 ? mutate(rng, rng.pick(seeds.files)) : mutate(rng, rng.pick(seeds.conditions));
    const lenient = rng.int(2) === 0;
    const dialect = rng.int(2) === 0 ? 'sysflow' : 'falco';
    const t0 = process.hrtime.bigint();
    const c0 = cpuMs();
    try {
      fuzzOne(res, input, kind, lenient, dialect);
    } catch (e) {
      if (res.failures.length < 20) res.failures.push(`seed ${seed} iteration ${i}: ${(e as Error).stack ?? e}\n--- input ---\n${input.slice(0, 2000)}`);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const label = `iteration ${i} (${input.length} chars)`;
    if (ms > res.maxMs) {
      res.maxMs = ms;
      res.slowest = label;
    }
    res.cost.check(cpuMs() - c0, input.length, label, () => fuzzOne(scratch, input, kind, lenient, dialect));
    res.iterations++;
    if (onProgress && (i + 1) % 50_000 === 0) onProgress(i + 1);
  }
  return res;
}
