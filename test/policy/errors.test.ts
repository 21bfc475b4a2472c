// Policy errors: each problem must come back as file:line:col, a clear message and the
// offending text, and loading must report all problems at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicyText, formatDiagnostic, type Diagnostic } from '../../src/policy/index.js';

function diags(text: string, lenient = false): Diagnostic[] {
  return [...compilePolicyText([{ name: 'p.yaml', text }], { lenient }).diagnostics];
}
function only(text: string): string {
  const ds = diags(text).filter((d) => d.severity === 'error');
  assert.equal(ds.length, 1, ds.map(formatDiagnostic).join('\n'));
  return formatDiagnostic(ds[0]!);
}
const rule = (cond: string, extra = ''): string => `- rule: R\n  desc: d\n  condition: ${cond}\n  priority: high\n${extra}`;

test('unknown field', () => {
  assert.equal(only(rule('sf.proc.name = bash and sf.proc.nmae = x')), "p.yaml:3:38: error: unknown field 'sf.proc.nmae': 'sf.proc.nmae'");
});

test('unknown macro, and a list used as a macro', () => {
  assert.equal(only(rule('is_shelll and sf.type = PE')), "p.yaml:3:14: error: unknown macro or field 'is_shelll': 'is_shelll'");
  assert.equal(
    only(`- list: shells\n  items: [bash]\n${rule('shells')}`),
    "p.yaml:5:14: error: unknown macro 'shells' ('shells' is a list; use it as 'FIELD in (shells)'): 'shells'",
  );
});

test('unknown list (list operator without parentheses)', () => {
  assert.equal(only(rule('sf.proc.name in shell_binaries')), "p.yaml:3:30: error: unknown list 'shell_binaries': 'shell_binaries'");
});

test('bad operator', () => {
  assert.equal(only(rule('sf.proc.name equals bash')), "p.yaml:3:27: error: bad operator: 'equals'");
  assert.equal(only(rule('sf.flow.rbytes contains x and sf.proc.name < 3')), "p.yaml:3:57: error: operator '<' cannot be applied to a string field: '<'");
});

test('unbalanced parentheses', () => {
  assert.equal(only(rule('(sf.proc.name = bash and (sf.type = PE)')), "p.yaml:3:14: error: unbalanced parentheses: '(' is never closed: '(sf.proc.name'");
  assert.equal(only(rule('sf.proc.name = bash)')), "p.yaml:3:33: error: unbalanced parentheses: unexpected ')': ')'");
  assert.equal(only(rule('sf.proc.name in (a, b')), "p.yaml:3:30: error: unbalanced parentheses: list opened here is never closed with ')': '(a,'");
});

test('bad priority', () => {
  assert.equal(
    only('- rule: R\n  desc: d\n  condition: sf.type = PE\n  priority: urgent\n'),
    'p.yaml:4:13: error: bad priority (expected one of low, medium, high, debug, informational, notice, warning, error, critical, alert, emergency, info): \'urgent\'',
  );
});

test('priorities: three SysFlow levels and eight syslog names, case-insensitive', () => {
  for (const p of ['low', 'MEDIUM', 'High', 'emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'info', 'debug']) {
    const r = compilePolicyText([{ name: 'p.yaml', text: `- rule: R\n  desc: d\n  condition: sf.type = PE\n  priority: ${p}\n` }]);
    assert.ok(r.policy, `${p}: ${r.diagnostics.map(formatDiagnostic).join('; ')}`);
    assert.equal(r.policy.rules[0]!.priority.name, p.toLowerCase() === 'info' ? 'informational' : p.toLowerCase());
  }
});

test('more errors, all reported in one pass with positions', () => {
  const text = [
    '- list: l',
    '  items: [a, "b]',
    '- macro: m',
    '  condition: m and sf.type = PE',
    '- rule: R1',
    '  desc: d',
    '  condition: sf.proc.aname[x] = bash',
    '  prefilter: [PE, XX]',
    '- rule: R2',
    '  desc: d',
    "  condition: sf.proc.name regex '('",
    '  enabled: maybe',
    '- rule: R3',
    '  desc: d',
    '  condition: sf.proc.pid = abc and sf.proc.tty = yes and sf.opflags = EXECUTE',
    '  colour: red',
    '- rule: R4',
    '  desc: no condition',
    '- rule: R5',
    '  desc: d',
    '  condition: m',
  ].join('\n');
  assert.deepEqual(diags(text).map(formatDiagnostic), [
    'p.yaml:2:14: error: unterminated string: missing closing ": \'"b]\'',
    "p.yaml:4:14: error: macro 'm' references itself: 'm'",
    "p.yaml:7:14: error: field 'sf.proc.aname' takes a numeric index, not 'x': 'sf.proc.aname[x]'",
    "p.yaml:8:19: error: prefilter: unknown record type 'XX' (expected PE, PF, NF, NE, FF, FE, KE): 'XX'",
    "p.yaml:11:33: error: invalid regular expression: Invalid regular expression: /^(?:()$/s: Unterminated group: '('",
    "p.yaml:12:12: error: enabled must be true or false: 'maybe'",
    "p.yaml:15:28: error: field 'sf.proc.pid' is numeric; 'abc' is not a number: 'abc'",
    "p.yaml:15:50: error: field 'sf.proc.tty' is boolean; 'yes' is not true or false: 'yes'",
    "p.yaml:15:71: error: 'EXECUTE' is not a valid value of sf.opflags (expected one of CLONE, EXEC, EXIT, SETUID, SETNS, ACCEPT, CONNECT, OPEN, READ_RECV, WRITE_SEND, CLOSE, TRUNCATE, SHUTDOWN, MMAP, DIGEST, MKDIR, RMDIR, LINK, UNLINK, SYMLINK, RENAME, READ, RECV, WRITE, SEND): 'EXECUTE'",
    "p.yaml:16:3: error: unknown key 'colour' in rule: 'colour'",
    "p.yaml:17:3: error: rule 'R4' has no 'condition': 'R4'",
  ]);
});

test('lenient mode: unknown fields become literals and unknown macros false, with warnings', () => {
  const text = rule('sf.proc.username = root or nomacro');
  assert.equal(diags(text).filter((d) => d.severity === 'error').length, 2);
  const r = compilePolicyText([{ name: 'p.yaml', text }], { lenient: true });
  assert.ok(r.policy);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    "p.yaml:3:14: warning: unknown field 'sf.proc.username' (treated as the literal string 'sf.proc.username', as sf-processor does): 'sf.proc.username'",
    "p.yaml:3:41: warning: unknown macro 'nomacro' (treated as false, as sf-processor does): 'nomacro'",
  ]);
});

test('warnings: redefinitions, list-like literals, unavailable Falco fields, comma literals, unknown actions', () => {
  const text = [
    '- list: a',
    '  items: [x]',
    '- list: a',
    '  items: [y]',
    '- rule: R',
    '  desc: d',
    '  condition: proc.name in (shell_binaries) or user.loginuid = 0 or sf.proc.name = "a,b" or evt.type = chmod',
    '  actions: [alert, page_oncall]',
  ].join('\n');
  assert.deepEqual(diags(text).map(formatDiagnostic), [
    "p.yaml:3:9: warning: list 'a' is defined again; this definition replaces the one at line 1: 'a'",
    "p.yaml:7:28: warning: 'shell_binaries' looks like a list name but no such list is defined; it is compared as a literal string: 'shell_binaries'",
    "p.yaml:7:47: warning: Falco field 'user.loginuid' is not available in SysFlow records; checks on it are never true: 'user.loginuid'",
    "p.yaml:7:83: warning: sf-processor splits this value on ',' and matches any part; falconet compares it whole (use 'in (a, b)'): 'a,b'",
    "p.yaml:7:103: warning: 'chmod' is a valid evt.type value in Falco but SysFlow never records it; it never matches: 'chmod'",
    "p.yaml:8:20: warning: action 'page_oncall' is not built in (alert, tag); it is ignored: 'page_oncall'",
  ]);
});

test('macro and list append (Falco): fragments extend earlier definitions, positions stay per file', async () => {
  const { PolicyEngine } = await import('../../src/policy/index.js');
  const { makeView } = await import('./helpers.js');
  const a = '- list: shells\n  items: [bash]\n- macro: spawned_shell\n  condition: sf.proc.name in (shells)\n- rule: R\n  desc: d\n  condition: spawned_shell and sf.type = PE\n';
  const b = '- list: shells\n  items: [zsh]\n  append: true\n- macro: spawned_shell\n  condition: or sf.proc.exe = /opt/sh\n  append: true\n';
  const r = compilePolicyText([{ name: 'a.yaml', text: a }, { name: 'b.yaml', text: b }]);
  assert.ok(r.policy, r.diagnostics.map(formatDiagnostic).join('\n'));
  assert.deepEqual(r.policy.lists.get('shells'), ['bash', 'zsh']);
  const e = new PolicyEngine(r.policy, 'alert');
  for (const [exe, want] of [['/bin/zsh', true], ['/opt/sh', true], ['/bin/bash', true], ['/bin/ksh', false]] as const) {
    assert.equal(e.process(makeView({ type: 'PE', procs: [{ pid: 50, exe }] })) !== null, want, exe);
  }
  const bad = compilePolicyText([{ name: 'a.yaml', text: a }, { name: 'c.yaml', text: '- macro: spawned_shell\n  condition: sf.bogus = 1\n  append: true\n- macro: nothing\n  condition: or sf.type = PE\n  append: true\n' }]);
  assert.deepEqual(bad.diagnostics.map(formatDiagnostic), [
    "c.yaml:2:14: error: an appended macro condition must start with 'or' or 'and': 'sf.bogus'",
    "c.yaml:4:3: error: macro 'nothing' appends to a macro that is not defined: 'nothing'",
  ]);
});
