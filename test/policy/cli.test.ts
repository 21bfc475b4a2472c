// `falconet rules check` and `falconet process` end to end (spawned CLI), plus pipeline.json
// parsing. The process tests use sfprocessor's single-dash `-config`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig, readersOf } from '../../src/pipeline/config.js';
import { normaliseProcessArgv } from '../../src/cli/process-command.js';

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/falconet');
const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';
const POLICIES = join(SHARED, 'data/sysflow/policies');
const SHELLSHOCK = join(SHARED, 'data/sysflow/traces/sf-processor/shellshock.sf');

function run(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'falconet-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('rules fields lists the catalogue', () => {
  const r = run(['rules', 'fields']);
  assert.equal(r.code, 0);
  assert.match(r.out, /^sf\.proc\.aname\s+strings\[index\]\s+Names of the process and its ancestors$/m);
  assert.match(r.out, /^fd\.name\s+string\s+/m);
});

test('rules check: a clean file exits 0 with a summary', () => {
  const r = run(['rules', 'check', join(POLICIES, 'distribution/filter.yaml')]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /1 file\(s\): 21 rules \(21 enabled\), 84 macros, 42 lists, 1 filters; 0 error\(s\), 0 warning\(s\)/);
});

test('rules check: errors are listed with file:line:col and exit 1', () => {
  const bad = join(tmp, 'bad.yaml');
  writeFileSync(bad, '- rule: R\n  desc: d\n  condition: (sf.proc.name = bash\n  priority: sometimes\n- macro: m\n  condition: sf.nope exists\n');
  const r = run(['rules', 'check', bad]);
  assert.equal(r.code, 1);
  assert.equal(r.out, [
    `${bad}:3:14: error: unbalanced parentheses: '(' is never closed: '(sf.proc.name'`,
    `${bad}:4:13: error: bad priority (expected one of low, medium, high, debug, informational, notice, warning, error, critical, alert, emergency, info): 'sometimes'`,
    `${bad}:6:14: error: unknown field 'sf.nope': 'sf.nope'`,
    '3 error(s), 0 warning(s)',
    '',
  ].join('\n'));
});

test('rules check: the shipped runtimeintegrity directory fails strict and passes --lenient; --strict fails on warnings', () => {
  const dir = join(POLICIES, 'runtimeintegrity');
  const strict = run(['rules', 'check', dir]);
  assert.equal(strict.code, 1);
  assert.match(strict.out, /ttps\.yaml:949:36: error: unknown field 'sf\.poc\.name'/);
  const lenient = run(['rules', 'check', '--lenient', '-q', dir]);
  assert.equal(lenient.code, 0, lenient.out);
  assert.match(lenient.out, /4 file\(s\): 79 rules \(79 enabled\), 62 macros, 90 lists, 1 filters; 0 error\(s\), \d+ warning\(s\)/);
  assert.equal(run(['rules', 'check', '--lenient', '--strict', dir]).code, 1);
  assert.equal(run(['rules', 'check', '--dialect', 'yaml', dir]).code, 2);
});

function pipeline(extra: Record<string, string> = {}, exporter: Record<string, string> = {}): string {
  const p = join(tmp, `pipeline-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify({
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: join(POLICIES, 'runtimeintegrity'), mode: 'alert', ...extra },
      { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format: 'json', ...exporter },
    ],
  }));
  return p;
}

test('process -config: one SysFlow JSON alert per line', () => {
  const r = run(['process', '-config', pipeline({ lenient: 'true' }), SHELLSHOCK]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 6); // records 36, 51, 58, 59, 77, 80 (see the golden file)
  const first = JSON.parse(lines[0]!) as { type: string; proc: { exe: string }; policies: { id: string }[] };
  assert.equal(first.proc.exe, '/usr/lib/cgi-bin/vulnerable');
  assert.deepEqual(first.policies.map((p) => p.id), ['Suspicious process spawned']);
  assert.match(r.err, /loaded 79 rules, 1 filters from .*; 28 warning\(s\)/);
});

test('process: without --strict the shipped policies load with positioned warnings (sf-processor default); --strict stops the run with exit 1', () => {
  const lax = run(['process', '--config', pipeline(), SHELLSHOCK]);
  assert.equal(lax.code, 0, lax.err);
  assert.equal(lax.out.trim().split('\n').length, 6);
  assert.match(lax.err, /ttps\.yaml:513:37: warning: unknown field 'sf\.proc\.username'/);
  const r = run(['process', '--config', pipeline(), '--strict', SHELLSHOCK]);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /ttps\.yaml:513:37: error: unknown field 'sf\.proc\.username'/);
  assert.match(r.err, /without --strict/);
});

test('process: --format falco, --mode override, env overrides, file export, --stats', () => {
  const falco = run(['process', '-config', pipeline(), '--lenient', '--format', 'falco', SHELLSHOCK]);
  assert.equal(falco.code, 0, falco.err);
  const alerts = falco.out.trim().split('\n').map((l) => JSON.parse(l) as { rule: string; priority: string; hostname: string });
  assert.equal(alerts.length, 8); // one per (record, rule): 8 golden matches
  assert.equal(alerts[0]!.rule, 'Suspicious process spawned');
  assert.equal(alerts[0]!.priority, 'Notice');
  assert.equal(alerts[0]!.hostname, 'local'); // the trace's exporter (node id)
  const bypass = run(['process', '-config', pipeline({ lenient: 'true' }), '--mode', 'bypass', '--stats', SHELLSHOCK]);
  assert.equal(bypass.out.trim().split('\n').length, 56); // every PE/FF record of the trace
  assert.match(bypass.err, /56 records, 0 filtered, 0 matched, 56 emitted \(mode bypass/);
  const out = join(tmp, 'export.out');
  const env = run(['process', '-config', pipeline({ lenient: 'true' }, { export: 'file', 'file.path': out }), SHELLSHOCK], { POLICYENGINE_MODE: 'enrich' });
  assert.equal(env.code, 0, env.err);
  assert.equal(env.out, '');
  assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 56);
});

test('process: usage errors', () => {
  assert.equal(run(['process', '-config', join(tmp, 'missing.json'), SHELLSHOCK]).code, 1);
  const bad = run(['process', '-config', pipeline({ lenient: 'true', mode: 'panic' }), SHELLSHOCK]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /unknown policy engine mode "panic"/);
  const es = run(['process', '-config', pipeline({ lenient: 'true' }, { export: 'es' }), SHELLSHOCK]);
  assert.match(es.err, /export "es" is not supported yet/);
  const notTrace = run(['process', '-config', pipeline({ lenient: 'true' }), join(POLICIES, 'examples/actions-example-policy.yaml')]);
  assert.equal(notTrace.code, 1);
  assert.match(notTrace.err, /falconet process: /);
});

test('argv normalisation only touches the process subcommand', () => {
  const a = ['node', 'falconet', 'process', '-config', 'p.json', '-log=info', '-x', 'trace.sf'];
  normaliseProcessArgv(a);
  assert.deepEqual(a, ['node', 'falconet', 'process', '--config', 'p.json', '--log=info', '-x', 'trace.sf']);
  const b = ['node', 'falconet', 'print', '-config', 'process'];
  normaliseProcessArgv(b);
  assert.deepEqual(b, ['node', 'falconet', 'print', '-config', 'process']);
});

test('pipeline.json: channels, string settings, env overrides, fan-out, errors with file:line:col', () => {
  const text = JSON.stringify({
    _comment: 'x',
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: '/p', concurrency: 10 },
      { processor: 'exporter', in: 'evt eventchan', export: 'terminal' },
    ],
  });
  const cfg = parsePipelineConfig('p.json', text, { POLICYENGINE_MODE: 'enrich', EXPORTER_SYSLOG_HOST: 'h', OTHER_X: 'y' });
  assert.equal(cfg.plugins[1]!.settings['mode'], 'enrich');
  assert.equal(cfg.plugins[1]!.settings['concurrency'], '10');
  assert.equal(cfg.plugins[2]!.settings['syslog.host'], 'h');
  assert.match(cfg.warnings[0]!, /concurrency is not a string/);
  assert.equal(readersOf(cfg, 'flat')[0]!.settings['policies'], '/p');
  assert.throws(() => parsePipelineConfig('p.json', '{"pipeline": [{"processor": "exporter", "in": "evt"}]}'), /^PipelineConfigError: p\.json:1:47: pipeline\[0\]\.in must be "<name> <type>"/);
  assert.throws(() => parsePipelineConfig('p.json', '{'), /p\.json:1:2: invalid JSON/);
  assert.throws(
    () => parsePipelineConfig('p.json', JSON.stringify({ pipeline: [{ processor: 'sysflowreader', in: 'a sysflowchan', out: 'b flattenerchan' }, { processor: 'exporter', in: 'c eventchan' }] })),
    /reads channel "c", which no earlier plugin writes/,
  );
  const tee = parsePipelineConfig('p.json', JSON.stringify({ pipeline: [{ processor: 'sysflowreader', in: 'a sysflowchan', out: ['b flattenerchan', 'c flattenerchan'] }, { processor: 'exporter', in: 'b flattenerchan' }] }));
  assert.deepEqual(tee.plugins[0]!.out.map((c) => c.name), ['b', 'c']); // fan-out is supported
});
