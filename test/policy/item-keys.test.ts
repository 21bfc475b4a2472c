// Items are YAML mappings: their keys may come in any order, and an item's kind is decided by
// the one identifying key it has (Falco's own rule files write `- condition: … / macro: …`).
// Every item kind is loaded with its keys permuted (all orders for small items, a fixed
// sample of 150 plus every rotation and the reverse for rules) and must give exactly the
// canonical order's result: the same rules, lists, macros, filters, the same diagnostics
// (message and text; positions move with the keys) and the same verdicts on a set of records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicyText, formatDiagnostic, type PolicySet } from '../../src/policy/index.js';
import { makeView } from './helpers.js';
import { Rng } from './fuzz-lib.js';

/** One key with its value lines (the first line follows `key:`; further lines are indented). */
type Key = readonly [key: string, value: string, ...more: string[]];
interface Item {
  readonly label: string;
  readonly keys: readonly Key[];
}

function render(keys: readonly Key[]): string {
  const out: string[] = [];
  keys.forEach(([k, v, ...more], i) => {
    out.push(`${i === 0 ? '- ' : '  '}${k}:${v === '' ? '' : ' ' + v}`);
    for (const m of more) out.push(`    ${m}`);
  });
  return out.join('\n');
}

// The canonical file: one item of every kind, several with optional keys, block scalars,
// flow and block sequences and nested mappings (exceptions, plugin requirements).
const ITEMS: readonly Item[] = [
  { label: 'required_engine_version', keys: [['required_engine_version', '0.26.0']] },
  { label: 'required_plugin_versions', keys: [['required_plugin_versions', '', '- name: k8saudit', '  version: 0.7.0']] },
  { label: 'list', keys: [['list', 'shell_bins'], ['items', '[bash, sh]']] },
  { label: 'list append', keys: [['list', 'shell_bins'], ['items', '', '- zsh', '- "ksh"'], ['append', 'true']] },
  { label: 'list override', keys: [['list', 'recon_bins'], ['items', '[nmap, masscan]'], ['override', '', 'items: replace']] },
  { label: 'macro', keys: [['macro', 'is_shell'], ['condition', 'sf.proc.name in (shell_bins)'], ['desc', 'a shell']] },
  { label: 'macro append', keys: [['macro', 'is_shell'], ['condition', '>', 'or sf.proc.name = dash'], ['append', 'true']] },
  { label: 'filter', keys: [['filter', 'drop_ls'], ['condition', 'sf.proc.name = ls'], ['enabled', 'true'], ['desc', 'ls is noise']] },
  { label: 'drop', keys: [['drop', 'drop_cat'], ['condition', 'sf.proc.name = cat'], ['enabled', 'false']] },
  {
    label: 'rule',
    keys: [
      ['rule', 'Shell spawned'],
      ['desc', 'a shell was started', 'by something'],
      ['condition', '>', 'sf.opflags = EXEC', 'and is_shell'],
      ['output', '"shell %proc.name started by %proc.pname"'],
      ['priority', 'WARNING'],
      ['tags', '[process, mitre_execution]'],
      ['prefilter', '[PE]'],
      ['enabled', 'true'],
      ['actions', '[alert, tag]'],
      ['source', 'syscall'],
      ['warn_evttypes', 'false'],
      ['skip-if-unknown-filter', 'true'],
    ],
  },
  {
    label: 'rule with exceptions',
    keys: [
      ['rule', 'Recon tool'],
      ['condition', 'sf.proc.name in (recon_bins)'],
      ['priority', 'high'],
      ['exceptions', '', '- name: known_scanners', '  fields: [proc.pname]', '  values: [[cron]]'],
      ['output', 'recon'],
    ],
  },
  { label: 'rule, minimal', keys: [['rule', 'Any exec'], ['condition', 'sf.opflags = EXEC and not is_shell']] },
];

const VIEWS = ['/bin/bash', '/bin/sh', '/bin/zsh', '/bin/ksh', '/bin/dash', '/bin/ls', '/bin/cat', '/usr/bin/nmap', '/usr/bin/masscan', '/usr/bin/vi']
  .flatMap((exe) => [makeView({ procs: [{ pid: 10, exe }, { pid: 1, exe: '/sbin/init' }] }), makeView({ type: 'FF', file: { path: '/etc/x' }, procs: [{ pid: 11, exe }] })]);

/** Everything a load produces, with diagnostics stripped of their (order-dependent) columns. */
function summary(policy: PolicySet | null, diagnostics: readonly { severity: string; message: string; text: string; line: number }[]): unknown {
  assert.ok(policy, diagnostics.map((d) => `${d.line}: ${d.message}`).join('\n'));
  return {
    rules: policy.rules.map((r) => ({
      name: r.name, desc: r.desc, condition: r.condition, output: r.output, priority: r.priority.name, tags: r.tags,
      prefilter: r.prefilter, actions: r.actions, enabled: r.enabled, line: r.line, outputFields: r.outputFields,
      verdicts: VIEWS.map((v) => r.predicate(v)),
    })),
    filters: policy.filters.map((f) => ({ name: f.name, enabled: f.enabled, line: f.line, verdicts: VIEWS.map((v) => f.predicate(v)) })),
    lists: [...policy.lists],
    macros: [...policy.macros],
    diagnostics: diagnostics.map((d) => `${d.severity}: ${d.message}: ${d.text}`),
  };
}

function load(items: readonly (readonly Key[])[]): unknown {
  const r = compilePolicyText([{ name: 'p.yaml', text: items.map(render).join('\n') + '\n' }]);
  return summary(r.policy, r.diagnostics);
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** Every order for up to 5 keys; otherwise every rotation, the reverse and 150 seeded shuffles. */
function orders<T>(xs: readonly T[], seed: number): T[][] {
  if (xs.length <= 5) return permutations(xs);
  const out: T[][] = xs.map((_, i) => [...xs.slice(i), ...xs.slice(0, i)]);
  out.push([...xs].reverse());
  const rng = new Rng(seed);
  for (let n = 0; n < 150; n++) {
    const p = [...xs];
    for (let i = p.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    out.push(p);
  }
  return out;
}

const canonical = load(ITEMS.map((i) => i.keys));

test('the canonical file loads: 3 rules, 2 filters, 2 lists, 1 macro, with the expected verdicts', () => {
  const c = canonical as { rules: { name: string; verdicts: boolean[] }[]; filters: unknown[]; lists: [string, string[]][]; macros: string[]; diagnostics: string[] };
  assert.deepEqual(c.rules.map((r) => r.name), ['Shell spawned', 'Recon tool', 'Any exec']);
  assert.equal(c.filters.length, 2);
  assert.deepEqual(c.lists, [['shell_bins', ['bash', 'sh', 'zsh', 'ksh']], ['recon_bins', ['nmap', 'masscan']]]);
  assert.deepEqual(c.macros, ['is_shell']);
  // PE and FF record of each executable, in VIEWS order: bash sh zsh ksh dash ls cat nmap masscan vi
  const pe = (names: string[]): boolean[] => VIEWS.map((v) => v.type === 'PE' && names.includes(v.proc!.exe.split('/').pop()!));
  assert.deepEqual(c.rules[0]!.verdicts, pe(['bash', 'sh', 'zsh', 'ksh', 'dash']));
  assert.deepEqual(c.rules[1]!.verdicts, VIEWS.map((v) => ['nmap', 'masscan'].includes(v.proc!.exe.split('/').pop()!)));
  assert.deepEqual(c.rules[2]!.verdicts, pe(['ls', 'cat', 'nmap', 'masscan', 'vi']));
  assert.deepEqual(c.diagnostics, ["warning: rule 'Recon tool': exceptions are not supported and are ignored: exceptions"]);
});

for (const [idx, item] of ITEMS.entries()) {
  test(`${item.label}: every key order loads exactly as the canonical order`, () => {
    const all = orders(item.keys, 1000 + idx);
    for (const order of all) {
      const items = ITEMS.map((it, j) => (j === idx ? order : it.keys));
      assert.deepEqual(load(items), canonical, `key order ${order.map((k) => k[0]).join(', ')}`);
    }
    if (item.keys.length > 1) assert.ok(all.length >= Math.min(120, permutations(item.keys.slice(0, 5)).length));
  });
}

test('all items permuted at once (seeded): same result', () => {
  const rng = new Rng(77);
  for (let n = 0; n < 40; n++) {
    const items = ITEMS.map((it) => {
      const os = orders(it.keys, rng.next());
      return os[rng.int(os.length)]!;
    });
    assert.deepEqual(load(items), canonical);
  }
});

test("Falco's `- condition: … / macro: …` item defines the macro, and rules using it work", () => {
  const text = [
    '- items: [nmap, masscan]',
    '  list: recon_binaries',
    '- condition: (proc.name in (recon_binaries))',
    '  macro: recon_binaries_procs',
    '- desc: recon tool started',
    '  output: "recon (%proc.name)"',
    '  priority: WARNING',
    '  condition: evt.type = execve and recon_binaries_procs',
    '  rule: Recon',
  ].join('\n');
  const r = compilePolicyText([{ name: 'falco.yaml', text }]);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
  const rule = r.policy!.rules[0]!;
  assert.equal(rule.name, 'Recon');
  assert.equal(rule.line, 5);
  const exec = (exe: string): boolean => rule.predicate(makeView({ procs: [{ pid: 5, exe }] }));
  assert.deepEqual(['/usr/bin/nmap', '/usr/bin/masscan', '/bin/bash'].map(exec), [true, true, false]);
});

test('an item with two identifying keys, or none, is an error at file:line:col; the other items still load', () => {
  const text = [
    '- list: l',
    '  items: [a]',
    '- condition: sf.type = PE',
    '  desc: no kind',
    '- rule: R',
    '  condition: sf.type = PE',
    '  macro: M',
    '- colour: red',
    '- priority: high',
    '  list: l2',
    '  items: [b]',
    '  filter: F',
    '- rule: Ok',
    '  condition: sf.proc.name in (l)',
  ].join('\n');
  const r = compilePolicyText([{ name: 'two.yaml', text }]);
  const kinds = 'rule, macro, list, filter, drop, required_engine_version or required_plugin_versions';
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    `two.yaml:3:3: error: item has no identifying key (expected one of ${kinds}); its first key is 'condition': 'condition'`,
    `two.yaml:7:3: error: item has two identifying keys: 'rule' (line 5:3) and 'macro'; an item is one of ${kinds}: 'macro'`,
    `two.yaml:8:3: error: item has no identifying key (expected one of ${kinds}); its first key is 'colour': 'colour'`,
    `two.yaml:12:3: error: item has two identifying keys: 'list' (line 10:3) and 'filter'; an item is one of ${kinds}: 'filter'`,
  ]);
  assert.equal(r.policy, null);
});

test('an unknown key in an item whose kind comes later is reported with that kind', () => {
  const r = compilePolicyText([{ name: 'k.yaml', text: '- colour: red\n  condition: sf.type = PE\n  macro: m\n' }]);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), ["k.yaml:1:3: error: unknown key 'colour' in macro: 'colour'"]);
});
