// Engine modes, global filters, prefilter indexing, the tag action and both alert encodings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicyText, PolicyEngine, toFalcoJson, toSysFlowJson, type PolicySet } from '../../src/policy/index.js';
import { makeView, type ViewSpec } from './helpers.js';

const POLICY = `
- list: shells
  items: [bash, sh]
- filter: drop_ls
  condition: sf.proc.name = ls
- drop: disabled_filter
  condition: sf.type = PE
  enabled: false
- rule: Shell exec
  desc: a shell was executed
  condition: sf.opflags = EXEC and sf.proc.name in (shells)
  output: shell %proc.name by %proc.pname (%user.name) aname2=%proc.aname[2] file=%fd.name
  priority: WARNING
  tags: [mitre:T1059, shell]
  prefilter: [PE]
- rule: Passwd read
  desc: passwd read
  condition: sf.file.path = /etc/passwd
  priority: high
  tags: [files]
  prefilter: [FF]
- rule: Tag shells
  desc: label shell activity
  condition: sf.proc.name in (shells)
  action: [tag]
  priority: low
  tags: [shell-activity]
- rule: Disabled
  desc: never evaluated
  condition: sf.type = PE
  enabled: false
`;

function policy(): PolicySet {
  const r = compilePolicyText([{ name: 'engine.yaml', text: POLICY }]);
  assert.ok(r.policy, JSON.stringify(r.diagnostics));
  return r.policy;
}

const bashExec: ViewSpec = {
  type: 'PE', opFlags: 2, ts: 1_700_000_000_123_456_789n,
  procs: [{ pid: 10, exe: '/bin/bash', args: '-i', user: 'alice', uid: 1000 }, { pid: 9, exe: '/usr/sbin/sshd' }, { pid: 1, exe: '/sbin/init' }],
};
const lsExec: ViewSpec = { type: 'PE', opFlags: 2, procs: [{ pid: 11, exe: '/bin/ls' }, { pid: 10, exe: '/bin/bash' }] };
const passwdRead: ViewSpec = { type: 'FF', file: { path: '/etc/passwd' }, procs: [{ pid: 12, exe: '/bin/bash' }] };
const otherRead: ViewSpec = { type: 'FF', file: { path: '/etc/hosts' }, procs: [{ pid: 13, exe: '/usr/bin/cat' }] };

test('prefilter indexing: rules are only considered for their record types; disabled rules never', () => {
  const e = new PolicyEngine(policy(), 'alert');
  assert.deepEqual(e.rulesFor('PE').map((r) => r.name), ['Shell exec', 'Tag shells']);
  assert.deepEqual(e.rulesFor('FF').map((r) => r.name), ['Passwd read', 'Tag shells']);
  assert.deepEqual(e.rulesFor('NF').map((r) => r.name), ['Tag shells']);
});

test('alert mode: only records matching an alert rule; every match reported; tags merged', () => {
  const e = new PolicyEngine(policy(), 'alert');
  const a = e.process(makeView(bashExec));
  assert.ok(a);
  assert.deepEqual(a.alerts.map((r) => r.name), ['Shell exec']);
  assert.deepEqual(a.tags, ['mitre:T1059', 'shell', 'shell-activity']);
  const b = e.process(makeView(passwdRead));
  assert.deepEqual(b?.alerts.map((r) => r.name), ['Passwd read']);
  assert.deepEqual(b?.tags, ['files', 'shell-activity']);
  assert.equal(e.process(makeView(otherRead)), null); // no match
  assert.equal(e.process(makeView(lsExec)), null); // global filter drops it
  assert.deepEqual(e.stats, { records: 4, filtered: 1, matched: 2, emitted: 2 });
});

test('alert mode: a record matching only tag rules is not an alert', () => {
  const e = new PolicyEngine(policy(), 'alert');
  assert.equal(e.process(makeView({ type: 'NF', procs: [{ pid: 14, exe: '/bin/sh' }] })), null);
});

test('enrich mode: every unfiltered record passes, matches attached', () => {
  const e = new PolicyEngine(policy(), 'enrich');
  assert.deepEqual(e.process(makeView(otherRead))?.alerts, []);
  const t = e.process(makeView({ type: 'NF', procs: [{ pid: 14, exe: '/bin/sh' }] }));
  assert.deepEqual(t?.alerts, []);
  assert.deepEqual(t?.tags, ['shell-activity']);
  assert.equal(e.process(makeView(lsExec)), null);
});

test('filter mode: records matching a filter or a rule are dropped, others pass unchanged', () => {
  const e = new PolicyEngine(policy(), 'filter');
  assert.equal(e.process(makeView(bashExec)), null);
  assert.equal(e.process(makeView(passwdRead)), null);
  assert.equal(e.process(makeView(lsExec)), null);
  const kept = e.process(makeView(otherRead));
  assert.ok(kept);
  assert.deepEqual(kept.alerts, []);
  assert.deepEqual(kept.tags, []);
});

test('bypass mode: everything passes, no evaluation', () => {
  const e = new PolicyEngine(policy(), 'bypass');
  for (const s of [bashExec, lsExec, passwdRead, otherRead]) assert.ok(e.process(makeView(s)));
  assert.equal(e.stats.emitted, 4);
  assert.equal(e.stats.matched, 0);
});

test('SysFlow JSON alert: exporter shape, exact int64, policies and tags', () => {
  const e = new PolicyEngine(policy(), 'alert');
  const a = e.process(makeView(bashExec))!;
  const json = toSysFlowJson(a);
  assert.ok(json.startsWith('{"version":5,"endts":0,"opflags":["EXEC"],"ret":0,"ts":1700000000123456789,"type":"PE",'), json);
  const o = JSON.parse(json) as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), ['version', 'endts', 'opflags', 'ret', 'ts', 'type', 'meta', 'node', 'pproc', 'proc', 'policies', 'tags']);
  assert.deepEqual(o['policies'], [{ id: 'Shell exec', desc: 'a shell was executed', priority: 2 }]);
  assert.deepEqual(o['tags'], ['mitre:T1059', 'shell', 'shell-activity']);
  const proc = o['proc'] as Record<string, unknown>;
  assert.deepEqual(proc['aname'], ['bash', 'sshd', 'init']);
  assert.deepEqual(proc['apid'], [10, 9, 1]);
  assert.equal(proc['cmdline'], '/bin/bash -i');
  assert.equal(proc['user'], 'alice');
  assert.deepEqual(o['node'], { id: 'node-a', ip: '10.0.0.1' });
  assert.deepEqual(o['meta'], { schema: 5, tracename: 'test.sf' });
  // FF records carry file and flow sections; a container section appears only with a container.
  const f = JSON.parse(toSysFlowJson(e.process(makeView({ ...passwdRead, container: { name: 'web' } }))!)) as Record<string, Record<string, unknown>>;
  assert.equal(f['file']!['path'], '/etc/passwd');
  assert.equal(f['file']!['directory'], '/etc');
  assert.deepEqual(f['file']!['openflags'], ['RDONLY']);
  assert.deepEqual(f['opflags'], ['OPEN', 'READ', 'CLOSE']);
  assert.deepEqual(f['flow'], { rbytes: 0, rops: 0, wbytes: 0, wops: 0 });
  assert.equal(f['container']!['name'], 'web');
  assert.equal(f['container']!['type'], 'DOCKER');
  assert.equal(f['container']!['privileged'], 0);
});

test('Falco JSON alert: rule, priority name, rendered output, output_fields, RFC 3339 ns time', () => {
  const p = policy();
  const v = makeView(bashExec);
  const o = JSON.parse(toFalcoJson(v, p.rules[0]!, 'host-1')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time']);
  assert.equal(o['rule'], 'Shell exec');
  assert.equal(o['priority'], 'Warning');
  assert.equal(o['time'], '2023-11-14T22:13:20.123456789Z');
  assert.equal(o['output'], '2023-11-14T22:13:20.123456789Z: Warning shell bash by sshd (alice) aname2=init file=<NA>');
  assert.deepEqual(o['output_fields'], { 'proc.name': 'bash', 'proc.pname': 'sshd', 'user.name': 'alice', 'proc.aname[2]': 'init', 'fd.name': null });
  assert.deepEqual(o['tags'], ['mitre:T1059', 'shell']);
  assert.equal(o['source'], 'syscall');
});

test('process oids: XXH64 reference vectors and an sf-processor oid from shellshock.sf', async () => {
  const { xxh64, processOidHex } = await import('../../src/policy/xxhash.js');
  // Reference vectors of XXH64 (seed 0).
  assert.equal(xxh64(Buffer.from('')).toString(16), 'ef46db3751d8e999');
  assert.equal(xxh64(Buffer.from('a')).toString(16), 'd24ec4f1a98c6e5b');
  assert.equal(xxh64(Buffer.from('abc')).toString(16), '44bc2cf5ad770999');
  assert.equal(xxh64(Buffer.from('Nobody inspects the spammish repetition')).toString(16), 'fbcea83c8a378bf1');
  // sf-processor exports apache2 pid 12705 of shellshock.sf with "oid":"ec53c3723015ac25"
  // (sysflow-notes §3.8); its createTS is 1669701713069783102.
  assert.equal(processOidHex(12705n, 1669701713069783102n), 'ec53c3723015ac25');
  const v = makeView({ type: 'PE', procs: [{ pid: 12705, exe: '/usr/lib/apache2/mpm-worker/apache2', createTS: 1669701713069783102n }, { pid: 12704, exe: '/usr/lib/apache2/mpm-worker/apache2' }] });
  const { compileFilterExpression } = await import('../../src/policy/index.js');
  assert.equal(compileFilterExpression('sf.proc.oid = ec53c3723015ac25')(v), true);
  const o = JSON.parse(toSysFlowJson({ view: v, alerts: [], tags: [] })) as { proc: { oid: string }; pproc: { oid: string } };
  assert.equal(o.proc.oid, 'ec53c3723015ac25');
  assert.equal(o.pproc.oid, processOidHex(12704n, 1000n + 12704n));
});
