// `falconet process` loads policies the way sf-processor does by default: SysFlow's own shipped
// runtimeintegrity policies (with their typos: sf.proc.username, sf.file.typechar, sf.poc.name,
// ...) load with one positioned warning per problem and run; `--strict` (or the policyengine
// key `strict: "true"`) turns the problems into errors. The affected conditions behave as in
// sf-processor (core/policyengine/source/flatrecord/fieldmapper.go and operations.go,
// policy/falco/compiler.go): an unknown attribute is its own name as a string (Map returns the
// attribute text), 0 as an integer (MapInt: ParseInt of the name fails), and `exists` is true
// (a non-empty string); an unknown macro is false ("Unrecognized reference").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicyText, formatDiagnostic, type Diagnostic } from '../../src/policy/index.js';
import { readSysFlowFile, viewsOf } from '../../src/sysflow/index.js';
import { GOLDEN_TRACES } from './golden/make-golden.js';
import { makeView } from './helpers.js';

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/falconet');
const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';
const POLICIES = join(SHARED, 'data/sysflow/policies/runtimeintegrity');
const TRACES = join(SHARED, 'data/sysflow/traces');
const GOLDEN = join(ROOT, 'test/policy/golden/runtimeintegrity-alerts.golden');

const tmp = mkdtempSync(join(tmpdir(), 'falconet-process-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** sf-processor's sample pipeline.json: reader → policyengine (alert) → terminal exporter. */
function pipeline(engine: Record<string, string> = {}, format = 'json'): string {
  const p = join(tmp, `pipeline-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify({
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: POLICIES, mode: 'alert', ...engine },
      { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format },
    ],
  }));
  return p;
}

// The 28 problems of the shipped files (positions checked by hand against the files).
const P = (f: string, lc: string): string => `${join(POLICIES, f)}:${lc}`;
const EXPECTED_WARNINGS = [
  [P('path.yaml', '5:13'), "action 'podname' is not built in (alert, tag); it is ignored: 'podname'"],
  [P('runtimeintegrity.yaml', '170:9'), "list 'read_sensitive_file_binaries' is defined again; this definition replaces the one at line 81: 'read_sensitive_file_binaries'"],
  ...['461:37', '467:29', '695:9'].map((lc) => [P('runtimeintegrity.yaml', lc), "unknown field 'sf.proc.username' (treated as the literal string 'sf.proc.username', as sf-processor does): 'sf.proc.username'"]),
  ...['478:7', '478:31'].map((lc) => [P('runtimeintegrity.yaml', lc), "unknown field 'sf.file.typechar' (treated as the literal string 'sf.file.typechar', as sf-processor does): 'sf.file.typechar'"]),
  [P('runtimeintegrity.yaml', '479:34'), "unknown field 'sf.net.mask' (treated as the literal string 'sf.net.mask', as sf-processor does): 'sf.net.mask'"],
  [P('runtimeintegrity.yaml', '717:6'), "unknown field 'sf.net.sockfamily' (treated as the literal string 'sf.net.sockfamily', as sf-processor does): 'sf.net.sockfamily'"],
  ...['513:37', '519:29', '757:9'].map((lc) => [P('ttps.yaml', lc), "unknown field 'sf.proc.username' (treated as the literal string 'sf.proc.username', as sf-processor does): 'sf.proc.username'"]),
  ...['530:7', '530:31'].map((lc) => [P('ttps.yaml', lc), "unknown field 'sf.file.typechar' (treated as the literal string 'sf.file.typechar', as sf-processor does): 'sf.file.typechar'"]),
  [P('ttps.yaml', '531:34'), "unknown field 'sf.net.mask' (treated as the literal string 'sf.net.mask', as sf-processor does): 'sf.net.mask'"],
  ...['558:45', '559:45', '559:78'].map((lc) => [P('ttps.yaml', lc), "unknown field 'sf-process.args' (treated as the literal string 'sf-process.args', as sf-processor does): 'sf-process.args'"]),
  ...['567:45', '965:75'].map((lc) => [P('ttps.yaml', lc), "unknown field 'sf.prog.args' (treated as the literal string 'sf.prog.args', as sf-processor does): 'sf.prog.args'"]),
  [P('ttps.yaml', '941:16'), "unknown field 'srf.proc.name' (treated as the literal string 'srf.proc.name', as sf-processor does): 'srf.proc.name'"],
  [P('ttps.yaml', '949:36'), "unknown field 'sf.poc.name' (treated as the literal string 'sf.poc.name', as sf-processor does): 'sf.poc.name'"],
  ...[[P('runtimeintegrity.yaml', '502:66'), 'pkg_mgmt_binaries'], [P('runtimeintegrity.yaml', '707:30'), 'dev_creation_binaries'], [P('ttps.yaml', '252:27'), 'passwd_binaries'], [P('ttps.yaml', '619:62'), 'pkg_mgmt_binaries'], [P('ttps.yaml', '768:30'), 'dev_creation_binaries']]
    .map(([at, l]) => [at!, `'${l}' looks like a list name but no such list is defined; it is compared as a literal string: '${l}'`]),
  [P('ttps.yaml', '334:59'), "'read_recv' is not a valid value of sf.opflags (expected one of CLONE, EXEC, EXIT, SETUID, SETNS, ACCEPT, CONNECT, OPEN, READ_RECV, WRITE_SEND, CLOSE, TRUNCATE, SHUTDOWN, MMAP, DIGEST, MKDIR, RMDIR, LINK, UNLINK, SYMLINK, RENAME, READ, RECV, WRITE, SEND); 'read_recv' is a list: use 'in (read_recv)': 'read_recv'"],
].map(([at, msg]) => `${at}: warning: ${msg}`).sort();

test('process with the shipped runtimeintegrity policies: 28 positioned warnings, then the golden alerts of the sample traces', () => {
  const traces = GOLDEN_TRACES.map((t) => join(TRACES, 'sf-processor', t));
  const r = run(['process', '-config', pipeline(), ...traces]);
  assert.equal(r.code, 0, r.err);
  const errLines = r.err.trim().split('\n');
  assert.equal(errLines.length, 29, r.err);
  assert.deepEqual(errLines.slice(0, 28).sort(), EXPECTED_WARNINGS);
  assert.equal(errLines[28], `falconet process: loaded 79 rules, 1 filters from ${POLICIES}; 28 warning(s) (--strict makes unknown fields and macros errors)`);

  // Ground truth: the golden file, produced from hand-written witnesses of each rule (see
  // golden/witness.ts): per trace, the alerted records in order with the rules they match.
  const golden = readFileSync(GOLDEN, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const want: string[][] = [];
  for (const t of GOLDEN_TRACES) {
    const byRecord = new Map<number, string[]>();
    for (const g of golden.filter((l) => l.startsWith(t + ' '))) {
      const [, idx, , ...rest] = g.split(' ');
      const rule = rest.join(' ').replace(/ @\S+$/, '');
      byRecord.set(Number(idx), [...(byRecord.get(Number(idx)) ?? []), rule]);
    }
    for (const k of [...byRecord.keys()].sort((a, b) => a - b)) want.push(byRecord.get(k)!.sort());
  }
  const got = r.out.trim().split('\n').map((l) => (JSON.parse(l) as { policies: { id: string }[] }).policies.map((p) => p.id).sort());
  assert.equal(got.length, 553); // 6 + 38 + 466 + 43 alerted records; 656 (record, rule) matches
  assert.equal(got.flat().length, 656);
  assert.deepEqual(got, want);
});

test('setuid.sf: "Non sudo setuid" (which reads the unknown sf.proc.username) alerts on exactly the two SETUID events', () => {
  const trace = join(TRACES, 'sf-collector/setuid/setuid.sf');
  // Witness from the raw records: the PE records with the SETUID flag (1 << 3); both come from
  // ./setuid (user terylt), which no whitelist of the rule names.
  const setuid = [...viewsOf(readSysFlowFile(trace))].filter((v) => v.obj.type === 'PE' && (v.obj.rec.opFlags & (1 << 3)) !== 0);
  assert.deepEqual(setuid.map((v) => [v.index, v.proc!.exe, v.proc!.userName]), [[11, './setuid', 'terylt'], [16, './setuid', 'terylt']]);
  const r = run(['process', '-config', pipeline({}, 'falco'), trace]);
  assert.equal(r.code, 0, r.err);
  const alerts = r.out.trim().split('\n').map((l) => JSON.parse(l) as { rule: string; time: string; output_fields: Record<string, unknown> });
  const nonSudo = alerts.filter((a) => a.rule === 'Non sudo setuid');
  // `sf.proc.username != root` compares the literal "sf.proc.username" with "root": true, as in
  // sf-processor; the runtimeintegrity.yaml copy of the rule has `prefilter: [FF]` and so never
  // sees a PE: only ttps.yaml's fires.
  assert.equal(nonSudo.length, 2);
  const ns = (v: (typeof setuid)[number]): bigint => (v.obj.type === 'PE' ? v.obj.rec.ts : 0n);
  assert.deepEqual(nonSudo.map((a) => a.time), setuid.map((v) => {
    const t = ns(v);
    return new Date(Number(t / 1000000n)).toISOString().slice(0, 19) + '.' + (t % 1000000000n).toString().padStart(9, '0') + 'Z';
  }));
  // Under --strict the same policies do not load at all.
  const strict = run(['process', '-config', pipeline({}, 'falco'), '--strict', trace]);
  assert.equal(strict.code, 1);
  assert.equal(strict.out, '');
});

test('--strict, or the policyengine keys strict: "true" / lenient: "false": unknown fields are errors, nothing runs', () => {
  const shellshock = join(TRACES, 'sf-processor/shellshock.sf');
  for (const args of [['process', '--strict', '-config', pipeline(), shellshock], ['process', '-config', pipeline({ strict: 'true' }), shellshock], ['process', '-config', pipeline({ lenient: 'false' }), shellshock]]) {
    const r = run(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.out, '');
    const errors = r.err.split('\n').filter((l) => / error: /.test(l));
    assert.equal(errors.length, 21);
    assert.ok(errors.includes(`${P('ttps.yaml', '949:36')}: error: unknown field 'sf.poc.name': 'sf.poc.name'`));
    assert.match(r.err, /falconet process: 21 error\(s\) in policies .*\(without --strict, sf-processor-era files with unknown fields load with warnings\)\n$/);
  }
});

// ---- the semantics of affected conditions, against sf-processor's code ------------------------

/** Compiles one rule leniently; returns its verdict on a bash PE (pid 100, uid 0, tty false). */
function verdict(cond: string): { match: boolean; warnings: string[] } {
  const r = compilePolicyText([{ name: 'p.yaml', text: `- rule: R\n  desc: d\n  condition: ${cond}\n  priority: low\n` }], { lenient: true });
  assert.ok(r.policy, r.diagnostics.map(formatDiagnostic).join('\n'));
  const v = makeView({ procs: [{ pid: 100, exe: '/bin/bash', args: '-c ls', tty: false }], ret: 7 });
  return { match: r.policy.rules[0]!.predicate(v), warnings: r.diagnostics.map((d: Diagnostic) => d.message) };
}

test('lenient semantics: an unknown attribute is its own name as a string (Map → attr; compareStr)', () => {
  const cases: [string, boolean][] = [
    ['sf.proc.username = root', false],
    ['sf.proc.username != root', true],
    ['sf.proc.username = sf.proc.username', true], // both sides map to the same literal
    ["sf-process.args contains 'f'", true], // "sf-process.args" contains an f
    ["sf-process.args contains 'x'", false],
    ['sf.poc.name in (at, sf.poc.name)', true],
    ['sf.prog.args pmatch (prog)', true], // pmatch is substring containment in sf-processor
    ['sf.prog.args startswith sf.', true],
    ['sf.prog.args endswith x', false],
    ['not sf.poc.name = at', true],
    ['sf.poc.name[2] = x', false],
  ];
  for (const [cond, want] of cases) assert.equal(verdict(cond).match, want, cond);
});

test('lenient semantics: exists is true, ordering reads the attribute as 0 (MapInt), unknown macros are false', () => {
  const cases: [string, boolean][] = [
    ['exists sf.nope', true], // a non-empty string is not the zero value
    ['sf.nope exists', true],
    ['sf.nope < 5', true],
    ['sf.nope >= 0', true],
    ['sf.nope > 0', false],
    ['sf.nope < -1', false],
    ['sf.nope < sf.proc.pid', true], // 0 < 100
    ['sf.nope > sf.proc.pid', false],
    ['sf.nope >= abc', true], // a non-number right side is 0 too: 0 >= 0
    ['nomacro', false],
    ['not nomacro', true],
    ['nomacro or sf.proc.name = bash', true],
  ];
  for (const [cond, want] of cases) assert.equal(verdict(cond).match, want, cond);
});

test('lenient semantics: bad literals for numeric, boolean and opflag fields are warnings and compare as sf-processor does', () => {
  const cases: [string, boolean, string][] = [
    ['sf.proc.pid = abc', false, "field 'sf.proc.pid' is numeric; 'abc' is not a number (never equal, as sf-processor does)"],
    ['sf.proc.pid != abc', true, "field 'sf.proc.pid' is numeric; 'abc' is not a number (never equal, as sf-processor does)"],
    ['sf.ret >= abc', true, "field 'sf.ret' is numeric; 'abc' is not a number (read as 0, as sf-processor does)"], // 7 >= 0
    ['sf.ret < abc', false, "field 'sf.ret' is numeric; 'abc' is not a number (read as 0, as sf-processor does)"],
    ['sf.proc.tty = yes', false, "field 'sf.proc.tty' is boolean; 'yes' is not true or false (never equal, as sf-processor does)"],
    ['sf.proc.tty != yes', true, "field 'sf.proc.tty' is boolean; 'yes' is not true or false (never equal, as sf-processor does)"],
    ['sf.opflags = EXECUTE', false, "'EXECUTE' is not a valid value of sf.opflags"],
    ['sf.opflags != EXECUTE', true, "'EXECUTE' is not a valid value of sf.opflags"],
  ];
  for (const [cond, want, warning] of cases) {
    const r = verdict(cond);
    assert.equal(r.match, want, cond);
    assert.equal(r.warnings.length, 1, cond);
    assert.ok(r.warnings[0]!.startsWith(warning), `${cond}: ${r.warnings[0]}`);
  }
  // strict: the same conditions are errors
  for (const [cond] of cases) {
    const r = compilePolicyText([{ name: 'p.yaml', text: `- rule: R\n  condition: ${cond}\n` }]);
    assert.equal(r.policy, null, cond);
  }
});
