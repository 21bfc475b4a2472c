// pipeline.json: errors name file:line:col and the field; the parser is fuzzed (mutations of
// sf-processor's shipped pipelines and ours): it returns a configuration or throws a
// PipelineConfigError with a position, never anything else, and never takes long.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePipelineConfig, PipelineConfigError } from '../../src/pipeline/config.js';
import { parseJsonWithPositions } from '../../src/pipeline/json-positions.js';
import { defaultPipeline } from '../../src/pipeline/defaults.js';
import { Rng } from '../policy/fuzz-lib.js';
import { CostOutliers, cpuMs } from '../lib/cost-outliers.js';

const SHARED = process.env.FALCONET_SHARED ?? '/work/shared';

const err = (text: string): string => {
  try {
    parsePipelineConfig('p.json', text, {});
  } catch (e) {
    assert.ok(e instanceof PipelineConfigError, String(e));
    return e.message;
  }
  assert.fail('no error');
};

test('bad pipeline.json: file:line:col and the field', () => {
  assert.equal(err('{\n  "pipeline": [\n    {"processor": "exporter", "in": "evt"}\n  ]\n}'), 'p.json:3:37: pipeline[0].in must be "<name> <type>", got "evt"');
  assert.equal(err('{"pipeline": [\n {"processor": 7, "in": "a b"}]}'), 'p.json:2:16: pipeline[0].processor must be a non-empty string');
  assert.equal(err('{"pipeline": [{"processor": "exporter", "in": "a b"},\n  3]}'), 'p.json:2:3: pipeline[1] must be an object');
  assert.equal(err('{"pipeline": [{"processor": "x", "in": "a b", "out": ["c d", 5]}]}'), 'p.json:1:62: pipeline[0].out[1] must be a string "<name> <type>"');
  assert.match(err('{"pipeline": [\n  {"processor": "x", "in": "a b",}\n]}'), /^p\.json:2:34: invalid JSON: expected a member name/);
  assert.match(err('{"pipeline": []}'), /^p\.json:1:14: pipeline: the array is empty/);
  assert.match(err('[1]'), /^p\.json:1:1: expected an object with a "pipeline" array/);
  assert.match(err('{"pipeline": [{"processor": "a", "in": "x y", "out": "c d"}, {"processor": "b", "in": "c e"}]}'), /^p\.json:1:62: pipeline\[1\] \(b\) reads "c" as e, but it is written as d/);
  assert.match(err('{"pipeline": [{"processor": "a", "in": "x y"}, {"processor": "b", "in": "q r"}]}'), /reads channel "q", which no earlier plugin writes/);
  assert.match(err('{"pipeline": [{"processor": "a", "in": "x y", "a": 1, "a": 2}]}'), /^p\.json:1:55: invalid JSON: duplicate member "a"/);
  assert.match(err('{"a": "\u0001"}'), /control character/);
  assert.match(err('['.repeat(100)), /nesting deeper than 64/);
});

test('settings: strings kept, others warned about with their place; env overrides name their variable', () => {
  const cfg = parsePipelineConfig('p.json', '{"pipeline": [{"processor": "policyengine", "in": "a b",\n "concurrency": 4}]}', { POLICYENGINE_MODE: 'enrich' });
  assert.equal(cfg.plugins[0]!.settings['concurrency'], '4');
  assert.equal(cfg.warnings[0], 'p.json:2:17: pipeline[0].concurrency is not a string (sf-processor ignores non-string settings); using 4');
  assert.equal(cfg.plugins[0]!.settings['mode'], 'enrich');
  assert.equal(cfg.plugins[0]!.settingWhere['mode'], 'environment POLICYENGINE_MODE');
});

test('the positions parser agrees with JSON.parse on valid documents', () => {
  for (const t of ['{}', '[]', '{"a":[1,2,{"b":null}],"c":"\\u00e9\\n","d":-1.5e3,"__proto__":{"x":true}}', ' "s" ', '0']) {
    assert.deepEqual(parseJsonWithPositions(t).value, JSON.parse(t));
  }
});

function seeds(): string[] {
  const dir = join(SHARED, 'data/sysflow/pipelines');
  const out = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => readFileSync(join(dir, f), 'utf8'));
  out.push(JSON.stringify(defaultPipeline({ output: 'json-min', filter: 'sf.proc.name = x', rules: '/r', sinks: ['file:///x'], sysflow: { output: '/t/' } }), null, 1));
  return out;
}

const PIECES = ['{', '}', '[', ']', ',', ':', '"', '\\', '"in"', '"out"', '"processor"', '"pipeline"', '"a b"', '"a"', '1', '-0', '1e400',
  'null', 'true', '\n', ' ', '"\\u0000"', '"\\ud800"', '\u00e9', '\uFEFF', '"_c"', '"exporter"', '"policyengine"', '"flat flattenerchan"'];

test('fuzz: 20,000 mutations of shipped pipelines parse or fail with a positioned PipelineConfigError', (tc) => {
  const base = seeds();
  const cost = new CostOutliers();
  assert.ok(base.length >= 2);
  const rng = new Rng(0x5eed1);
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < 20_000; i++) {
    let t = rng.pick(base);
    for (let m = 1 + rng.int(4); m > 0; m--) {
      const at = rng.int(t.length + 1);
      switch (rng.int(3)) {
        case 0: t = t.slice(0, at) + rng.pick(PIECES) + t.slice(at); break;
        case 1: t = t.slice(0, at) + t.slice(at + 1 + rng.int(8)); break;
        default: { const from = rng.int(t.length + 1); t = t.slice(0, at) + t.slice(from, from + rng.int(40)) + t.slice(at); }
      }
    }
    const started = cpuMs();
    try {
      const cfg = parsePipelineConfig('f.json', t, { EXPORTER_FORMAT: 'json' });
      assert.ok(cfg.plugins.length > 0);
      ok++;
    } catch (e) {
      if (!(e instanceof PipelineConfigError)) assert.fail(`mutation ${i} threw ${String(e)} for ${JSON.stringify(t.slice(0, 200))}`);
      assert.match(e.message, /^f\.json(:\d+:\d+)?: /, `mutation ${i}: ${e.message}`);
      failed++;
    }
    const text = t;
    cost.check(cpuMs() - started, t.length, `mutation ${i}`, () => parsePipelineConfig('f.json', text, { EXPORTER_FORMAT: 'json' }));
  }
  tc.diagnostic(cost.summary());
  assert.deepEqual(cost.report.outliers, [], 'no mutation costs out of proportion to its size');
  assert.ok(ok > 100 && failed > 100, `${ok} parsed, ${failed} rejected`);
});
