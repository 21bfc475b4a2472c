// The fleet wire format (format=sysflow-msg): every event and flow of the sample traces survives
// encode → decode with the same sf.* view (sysflow-json text, ancestry, policy matches); bad
// bytes are rejected with FleetMessageError and never anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicies, PolicyEngine, toSysFlowJson } from '../../src/policy/index.js';
import { readSysFlowFile, viewsOf, type SfRecordView } from '../../src/sysflow/index.js';
import { decodeSysFlowMessage, encodeSysFlowMessage, FleetMessageError, messageObjects, sysflowMessageEncoder } from '../../src/fleet/sysflow-message.js';
import { encoderFor } from '../../src/pipeline/registry.js';
import { Rng } from '../policy/fuzz-lib.js';

const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';
const TRACES = join(SHARED, 'data/sysflow/traces/sf-processor');
const POLICIES = join(SHARED, 'data/sysflow/policies/runtimeintegrity');
const ENGINE = new Set(['PE', 'FF', 'FE', 'NF', 'KE']);

// The a* lists (aname, aexe, acmdline, apid) are memoised per process entity by the field
// resolver, at the first record of that process that asks: the trace side can hold an older
// chain than the view's own ancestry. Those are compared through ancestors() (names below).
function json(v: SfRecordView): string {
  const o = JSON.parse(toSysFlowJson({ view: v, alerts: [], tags: [] })) as { proc?: Record<string, unknown> };
  if (o.proc) for (const k of ['aname', 'aexe', 'acmdline', 'apid']) delete o.proc[k];
  return JSON.stringify(o);
}

function names(v: SfRecordView): string {
  return v.ancestors().map((p) => `${p.exe}#${p.oid.hpid}`).join('<');
}

test('sysflow-msg: every engine record of the sample traces decodes to the same view and the same policy matches', () => {
  const policy = loadPolicies([POLICIES], { lenient: true });
  let records = 0;
  let matched = 0;
  let maxObjects = 0;
  for (const t of readdirSync(TRACES).sort()) {
    const e1 = new PolicyEngine(policy, 'alert');
    const e2 = new PolicyEngine(policy, 'alert');
    for (const v of viewsOf(readSysFlowFile(join(TRACES, t)))) {
      if (!ENGINE.has(v.type)) continue;
      records++;
      maxObjects = Math.max(maxObjects, messageObjects(v).length);
      const d = decodeSysFlowMessage(encodeSysFlowMessage(v));
      assert.equal(json(d), json(v), `${t} #${v.index}`);
      assert.equal(names(d), names(v), `${t} #${v.index} ancestry`);
      assert.deepEqual([d.header?.exporter, d.container?.id, d.pod?.id, d.newFile?.path], [v.header?.exporter, v.container?.id, v.pod?.id, v.newFile?.path]);
      const a = e1.evaluate(v) > 0 ? e1.matches().map((r) => r.name) : [];
      const b = e2.evaluate(d) > 0 ? e2.matches().map((r) => r.name) : [];
      assert.deepEqual(b, a, `${t} #${v.index} matches`);
      if (a.length) matched++;
    }
  }
  console.log(`sysflow-msg: ${records} records, ${matched} with policy matches, up to ${maxObjects} objects per message`);
  assert.ok(records > 10_000, `${records} records`);
  assert.ok(matched > 100, `${matched} matched`);
});

test('sysflow-msg: format=sysflow-msg is an exporter format; kernel records are skipped', () => {
  assert.equal(encoderFor('sysflow-msg', 'x'), sysflowMessageEncoder);
  assert.equal(sysflowMessageEncoder.encode({ kind: 'file', rec: {} }), null);
});

test('sysflow-msg: truncated, mutated and empty messages throw FleetMessageError only', () => {
  const views = [...viewsOf(readSysFlowFile(join(TRACES, 'shellshock.sf')))].filter((v) => ENGINE.has(v.type));
  const msgs = views.map((v) => encodeSysFlowMessage(v));
  assert.throws(() => decodeSysFlowMessage(Buffer.alloc(0)), /SysFlow message is empty/);
  const v0 = msgs[0]!;
  assert.throws(() => decodeSysFlowMessage(Buffer.concat([v0, v0])), /bytes after its event/);
  const rng = new Rng(1303);
  let ok = 0; let bad = 0;
  for (let i = 0; i < 20_000; i++) {
    const m = Buffer.from(msgs[rng.int(msgs.length)]!);
    let cut = m;
    switch (rng.int(3)) {
      case 0: cut = m.subarray(0, rng.int(m.length)); break;
      case 1: for (let k = 1 + rng.int(4); k > 0; k--) m[rng.int(m.length)] = rng.int(256); break;
      default: m[rng.int(m.length)] ^= 1 << rng.int(8);
    }
    try {
      const v = decodeSysFlowMessage(cut);
      assert.ok(ENGINE.has(v.type) || ['NE', 'PF'].includes(v.type));
      ok++;
    } catch (e) {
      assert.ok(e instanceof FleetMessageError, `#${i}: ${String(e)}`);
      bad++;
    }
  }
  assert.ok(ok > 100 && bad > 1000, `${ok} decoded, ${bad} rejected`);
});
