// Every policy file shipped in shared/data/sysflow/policies loads; the ones that are genuinely
// wrong fail with the exact errors asserted here (strict mode), and still load in --lenient
// mode, which reproduces sf-processor's treatment of unknown attributes as literal strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { checkPolicies, formatDiagnostic } from '../../src/policy/index.js';

const ROOT = join(process.env['FALCONET_SHARED'] ?? '/work/shared', 'data/sysflow/policies');
const files = ['runtimeintegrity', 'distribution', 'tests', 'examples'].flatMap((d) =>
  readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(d, f)),
);

const errorsOf = (file: string): string[] =>
  checkPolicies([join(ROOT, file)]).diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic({ ...d, file: relative(ROOT, d.file) }).replace(/ \(expected one of [^)]*\)/, ''));

// Genuinely wrong files, with why each error is real:
const EXPECTED_ERRORS: Record<string, string[]> = {
  'runtimeintegrity/runtimeintegrity.yaml': [
    // No such attribute: the process user is sf.proc.user (docs table; sf-processor has no username).
    "runtimeintegrity/runtimeintegrity.yaml:461:37: error: unknown field 'sf.proc.username': 'sf.proc.username'",
    "runtimeintegrity/runtimeintegrity.yaml:467:29: error: unknown field 'sf.proc.username': 'sf.proc.username'",
    // The type char is sf.file.type (Falco: fd.typechar); sf.file.typechar does not exist.
    "runtimeintegrity/runtimeintegrity.yaml:478:7: error: unknown field 'sf.file.typechar': 'sf.file.typechar'",
    "runtimeintegrity/runtimeintegrity.yaml:478:31: error: unknown field 'sf.file.typechar': 'sf.file.typechar'",
    // Neither a netmask nor a socket family attribute exists in SysFlow.
    "runtimeintegrity/runtimeintegrity.yaml:479:34: error: unknown field 'sf.net.mask': 'sf.net.mask'",
    "runtimeintegrity/runtimeintegrity.yaml:695:9: error: unknown field 'sf.proc.username': 'sf.proc.username'",
    "runtimeintegrity/runtimeintegrity.yaml:717:6: error: unknown field 'sf.net.sockfamily': 'sf.net.sockfamily'",
  ],
  'runtimeintegrity/ttps.yaml': [
    // Opflag names are upper case (READ_RECV); sf-processor compares case-sensitively, so never true.
    "runtimeintegrity/ttps.yaml:334:59: error: 'read_recv' is not a valid value of sf.opflags; 'read_recv' is a list: use 'in (read_recv)': 'read_recv'",
    "runtimeintegrity/ttps.yaml:513:37: error: unknown field 'sf.proc.username': 'sf.proc.username'",
    "runtimeintegrity/ttps.yaml:519:29: error: unknown field 'sf.proc.username': 'sf.proc.username'",
    "runtimeintegrity/ttps.yaml:530:7: error: unknown field 'sf.file.typechar': 'sf.file.typechar'",
    "runtimeintegrity/ttps.yaml:530:31: error: unknown field 'sf.file.typechar': 'sf.file.typechar'",
    "runtimeintegrity/ttps.yaml:531:34: error: unknown field 'sf.net.mask': 'sf.net.mask'",
    // Typos of sf.proc.args / sf.proc.name.
    "runtimeintegrity/ttps.yaml:558:45: error: unknown field 'sf-process.args': 'sf-process.args'",
    "runtimeintegrity/ttps.yaml:559:45: error: unknown field 'sf-process.args': 'sf-process.args'",
    "runtimeintegrity/ttps.yaml:559:78: error: unknown field 'sf-process.args': 'sf-process.args'",
    "runtimeintegrity/ttps.yaml:567:45: error: unknown field 'sf.prog.args': 'sf.prog.args'",
    "runtimeintegrity/ttps.yaml:757:9: error: unknown field 'sf.proc.username': 'sf.proc.username'",
    "runtimeintegrity/ttps.yaml:941:16: error: unknown field 'srf.proc.name': 'srf.proc.name'",
    "runtimeintegrity/ttps.yaml:949:36: error: unknown field 'sf.poc.name': 'sf.poc.name'",
    "runtimeintegrity/ttps.yaml:965:75: error: unknown field 'sf.prog.args': 'sf.prog.args'",
  ],
  // sf.is_open_write is sf.file.is_open_write; sf.state is not an attribute at all.
  'tests/unit_test_fileflow.yaml': ["tests/unit_test_fileflow.yaml:5:15: error: unknown field 'sf.is_open_write': 'sf.is_open_write'"],
  'tests/unit_test_macro.yaml': ["tests/unit_test_macro.yaml:6:50: error: unknown field 'sf.state': 'sf.state'"],
};

test('the shipped policy set is what we expect', () => {
  assert.equal(files.length, 23); // 4 runtimeintegrity + 1 distribution + 17 tests + 1 example
  for (const f of Object.keys(EXPECTED_ERRORS)) assert.ok(files.includes(f), f);
});

for (const f of files) {
  test(`shipped policy ${f}`, () => {
    assert.deepEqual(errorsOf(f), EXPECTED_ERRORS[f] ?? []);
    // In lenient (sf-processor) mode every file loads.
    const r = checkPolicies([join(ROOT, f)], { lenient: true });
    assert.ok(r.policy, r.diagnostics.map(formatDiagnostic).join('\n'));
  });
}

test('rule counts of the shipped files (from the sizes in sysflow-notes §3.1)', () => {
  const count = (f: string): number => checkPolicies([join(ROOT, f)], { lenient: true }).policy!.rules.length;
  assert.equal(count('runtimeintegrity/ttps.yaml'), 52);
  assert.equal(count('runtimeintegrity/runtimeintegrity.yaml'), 26);
  assert.equal(count('distribution/filter.yaml'), 21);
  const names = (f: string): [number, number] => {
    const p = checkPolicies([join(ROOT, f)], { lenient: true }).policy!;
    return [p.macros.size, p.lists.size];
  };
  assert.deepEqual(names('runtimeintegrity/ttps.yaml'), [59, 86]);
  // 67 list items, one name (read_sensitive_file_binaries) defined twice.
  assert.deepEqual(names('runtimeintegrity/runtimeintegrity.yaml'), [53, 66]);
  const d = checkPolicies([join(ROOT, 'distribution/filter.yaml')]).policy!;
  assert.equal(d.macros.size, 84);
  assert.equal(d.lists.size, 42);
  assert.equal(d.filters.length, 1);
  const falco = checkPolicies([join(ROOT, 'tests/falco.yaml')]).policy!;
  assert.equal(falco.rules.length, 61);
  assert.equal(falco.rules.filter((r) => !r.enabled).length, 1);
});

test('the runtimeintegrity directory loads as one policy set in lenient mode', () => {
  const r = checkPolicies([join(ROOT, 'runtimeintegrity')], { lenient: true });
  assert.ok(r.policy);
  assert.equal(r.policy.rules.length, 79); // 26 + 52 + 1 (path.yaml)
  assert.equal(r.policy.filters.length, 1); // globals.yaml: __global__
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 0);
});

test('every field of the catalogue is documented in docs/policy-language.md, and every sf.* name of the SysFlow docs table is implemented', async () => {
  const { allFields, lookupField } = await import('../../src/policy/index.js');
  const doc = readFileSync(join(import.meta.dirname, '../../../docs/policy-language.md'), 'utf8');
  for (const f of allFields()) assert.ok(doc.includes('`' + f.name + '`'), `${f.name} missing from the docs`);
  const table = readFileSync(join(process.env['FALCONET_SHARED'] ?? '/work/shared', 'reference/sysflow-docs.txt'), 'utf8');
  const sect = table.slice(table.indexOf('AttributesDescriptionValuesFalco Attribute'), table.indexOf('The policy language supports the following operations'));
  const names = [...sect.matchAll(/^(sf\.[a-z_.]+?)(?=[A-Z])/gm)].map((m) => m[1]!);
  assert.ok(names.length >= 60, `parsed ${names.length} names`);
  assert.deepEqual(names.filter((n) => !lookupField(n)), []);
  for (const n of ['sf.ts', 'sf.endts']) assert.ok(lookupField(n), n); // the table glues these to their description
  // The Falco column of the same table (evt.args, for open flags, is Falco's whole argument
  // string; it is reported as unavailable and sf.file.openflags / evt.arg.flags serve instead).
  const falco = ['evt.type', 'evt.res', 'evt.time', 'proc.pid', 'thread.tid', 'user.uid', 'user.name', 'group.gid', 'group.name',
    'proc.apid', 'proc.aname', 'proc.exe', 'proc.args', 'proc.name', 'proc.cmdline', 'proc.tty', 'proc.vpid', 'proc.ppid', 'proc.pname',
    'proc.pcmdline', 'fd.num', 'fd.name', 'fd.filename', 'fd.directory', 'fd.typechar', 'evt.is_open_write', 'evt.is_open_read',
    'fd.l4proto', 'fd.sport', 'fd.dport', 'fd.port', 'fd.sip', 'fd.dip', 'fd.ip', 'container.id', 'container.name', 'container.image.id',
    'container.image', 'container.type', 'container.privileged'];
  assert.deepEqual(falco.filter((n) => !lookupField(n)), []);
});

test('CRLF line endings and a UTF-8 BOM load identically', async () => {
  const { compilePolicyText } = await import('../../src/policy/index.js');
  for (const f of ['distribution/filter.yaml', 'runtimeintegrity/ttps.yaml', 'tests/falco.yaml']) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    const a = compilePolicyText([{ name: f, text }], { lenient: true }).policy!;
    const b = compilePolicyText([{ name: f, text: '\uFEFF' + text.replace(/\n/g, '\r\n') }], { lenient: true }).policy!;
    assert.deepEqual(b.rules.map((r) => [r.name, r.desc, r.condition, r.priority.name, r.tags]), a.rules.map((r) => [r.name, r.desc, r.condition, r.priority.name, r.tags]), f);
    assert.deepEqual([...b.lists], [...a.lists], f);
  }
});
