// SysFlow prototype traces (P4, P7, P8) and v5, written by our writer in each layout and read
// back exactly: by the reader, by `falconet print` in every output mode (against sysprint's own
// output, fixtures/prototypes/, made by make-prototype-fixtures.ts), and by `falconet process`.
// The P4 prototype stores the op flag as an EventType `type` on its ProcessFlow and the process
// state as `type` on Process; both must come back as opflags and state.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OP } from '../../src/sysflow/flags.js';
import { SysFlowOcfWriter, encodeSysFlowTrace } from '../../src/sysflow/ocf-writer.js';
import { openSysFlow } from '../../src/sysflow/reader.js';
import { layoutCodec } from '../../src/sysflow/schema.js';
import type { SysFlowLayout } from '../../src/sysflow/schema.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { runProcess } from '../../src/pipeline/process.js';
import { PROTOTYPE_MODES } from './make-prototype-fixtures.js';
import { PROTOTYPE_LAYOUTS, SCENARIO_SYNC, scenario } from './prototype-scenario.js';
import { FIXTURES, REPO, avscDecodeContainer, plain } from './helpers.js';

const BIN = join(REPO, 'bin/falconet');
const fixture = (name: string): string => readFileSync(join(FIXTURES, 'prototypes', name), 'utf8');
const encode = (layout: SysFlowLayout, objs: SfObject[] = scenario(layout)): Buffer => encodeSysFlowTrace(objs, { layout, sync: SCENARIO_SYNC });
const branchNames = (layout: SysFlowLayout): string[] =>
  (JSON.parse(layoutCodec(layout).schemaJson) as { fields: { type: { name: string; namespace?: string }[] }[] }).fields[0]!.type.map((t) =>
    t.namespace ? `${t.namespace}.${t.name}` : t.name,
  );

let dir = '';
const tracePathOf = (layout: SysFlowLayout): string => join(dir, `${layout}.sf`);
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sfproto-'));
  for (const l of PROTOTYPE_LAYOUTS) writeFileSync(tracePathOf(l), encode(l));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('prototype layouts: the writer writes them, the reader reads them back exactly', () => {
  for (const layout of PROTOTYPE_LAYOUTS) {
    it(`${layout}: read → the written objects, with the layout's own schema in the file`, () => {
      const r = openSysFlow(encode(layout));
      assert.deepEqual(r.info.branchNames, branchNames(layout));
      assert.deepStrictEqual([...r], scenario(layout));
    });
  }

  it('P4 on disk (read independently by avsc): ProcessFlow.type and Process.type hold the symbols, no opFlags/state', async () => {
    const { records } = await avscDecodeContainer(encode('P4'));
    const recs = records.map((r) => plain(r.rec) as Record<string, Record<string, unknown>>);
    const flows = recs.filter((r) => 'sysflow.flow.ProcessFlow' in r).map((r) => r['sysflow.flow.ProcessFlow']!);
    const procs = recs.filter((r) => 'sysflow.entity.Process' in r).map((r) => r['sysflow.entity.Process']!);
    assert.deepEqual(flows.map((f) => f.type), ['CLONE', 'CLONE', 'EXEC', 'EXIT', 'CLONE']);
    assert.deepEqual(procs.map((p) => p.type), ['REUP', 'CREATED', 'CREATED', 'MODIFIED']);
    assert.ok(flows.every((f) => !('opFlags' in f)) && procs.every((p) => !('state' in p) && !('tty' in p)));
  });

  it('P4 read: EventType → opFlags (CLONE 1, EXEC 2, EXIT 4), Process type → state', () => {
    const objs = [...openSysFlow(encode('P4'))];
    assert.deepEqual(objs.filter((o) => o.type === 'PE').map((o) => o.rec.opFlags), [OP.CLONE, OP.CLONE, OP.EXEC, OP.EXIT, OP.CLONE]);
    assert.deepEqual(objs.filter((o) => o.type === 'P').map((o) => o.rec.state), ['REUP', 'CREATED', 'CREATED', 'MODIFIED']);
  });

  it('the writer refuses a record its layout cannot carry, naming it, and writes nothing of it', () => {
    const objs = scenario('v5');
    const pick = (t: string, i = 0): SfObject => structuredClone(objs.filter((o) => o.type === t)[i]!);
    const w = new SysFlowOcfWriter(() => {}, { layout: 'P4' });
    assert.throws(() => w.write(pick('FF')), /layout P4 has no record for SysFlow type FF/);
    const setuid = pick('PE');
    (setuid.rec as { opFlags: number }).opFlags = OP.SETUID;
    assert.throws(() => w.write(setuid), /ProcessFlow\.type holds CLONE, EXEC or EXIT only; opFlags 8/);
    assert.throws(() => w.write(pick('P', 1)), /layout P4: Process cannot hold P\.tty = true/); // the v5 shell has a tty
    assert.equal(w.records, 0);
    const w7 = new SysFlowOcfWriter(() => {}, { layout: 'P7' });
    assert.throws(() => w7.write(pick('NF')), /layout P7: NetworkFlow cannot hold NF\.fd = 4 \(it would read back as -1\)/);
    assert.throws(() => w7.write(pick('FF')), /FileFlow cannot hold FF\.openFlags = 4097/);
    assert.throws(() => w7.write(pick('FE')), /layout P7 has no record for SysFlow type FE/);
    assert.equal(w7.records, 0);
  });
});

describe('print: prototype traces as sysprint prints them (fixtures/prototypes)', () => {
  const print = (args: string[]) => spawnSync(process.execPath, [BIN, 'print', ...args], { encoding: 'utf8' });
  for (const layout of PROTOTYPE_LAYOUTS) {
    for (const [name, args, toFile, cols] of PROTOTYPE_MODES) {
      it(`${layout} ${name}: falconet print ${args.join(' ')} equals sysprint's output byte for byte`, () => {
        const out = join(dir, `${layout}.${name}.out`);
        const r = print([...args, '--width', String(cols), ...(toFile ? ['-w', out] : []), tracePathOf(layout)]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, '');
        const got = toFile ? readFileSync(out, 'utf8') : r.stdout;
        const want = fixture(`${layout}.${name}.txt`);
        if (got !== want) {
          const a = got.split('\n');
          const b = want.split('\n');
          const i = a.findIndex((l, k) => l !== b[k]);
          assert.fail(`first difference at line ${i + 1}:\n falconet: ${a[i]}\n sysprint: ${b[i]}`);
        }
      });
    }
  }

  it('P4 json: the op flags and states the trace stores (not blank, not all CREATED)', () => {
    const r = print(['-o', 'flatjson', '-c', 'type,opflags,opflags_bitmap,state,proc.pid', tracePathOf('P4')]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>),
      [
        { type: 'PE', opflags: 'CLONE', opflags_bitmap: 1, state: 'CREATED', 'proc.pid': 100 },
        { type: 'PE', opflags: 'CLONE', opflags_bitmap: 1, state: 'CREATED', 'proc.pid': 101 },
        { type: 'PE', opflags: 'EXEC', opflags_bitmap: 2, state: 'MODIFIED', 'proc.pid': 101 },
        { type: 'PE', opflags: 'EXIT', opflags_bitmap: 4, state: 'MODIFIED', 'proc.pid': 101 },
        { type: 'PE', opflags: 'CLONE', opflags_bitmap: 1, state: 'REUP', 'proc.pid': 50 },
      ],
    );
  });

  it('-l lists sysprint\'s field table: its order, descriptions and nothing else', () => {
    const r = print(['-l']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, fixture('list.txt'));
  });
});

describe('process: prototype traces give the same records as the same objects written as v5', () => {
  const pipeline = (): string => {
    const p = join(dir, 'pipeline.json');
    writeFileSync(p, JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'exporter', in: 'flat flattenerchan', export: 'terminal', format: 'json' },
      ],
    }));
    return p;
  };
  const processJson = async (trace: string): Promise<string[]> => {
    const out = join(dir, 'process.out');
    const fd = openSync(out, 'w');
    let code: number;
    try {
      code = await runProcess({ config: pipeline(), traces: [trace], outFd: fd });
    } finally {
      closeSync(fd);
    }
    assert.equal(code, 0);
    return readFileSync(out, 'utf8').trim().split('\n');
  };
  for (const layout of ['P4', 'P7', 'P8'] as const) {
    it(`${layout}: every exported record equals the v5 encoding's`, async () => {
      const asV5 = join(dir, `${layout}-as-v5.sf`);
      writeFileSync(asV5, encode('v5', scenario(layout)));
      const got = await processJson(tracePathOf(layout));
      assert.deepEqual(got, await processJson(asV5));
      const flags = got.map((l) => (JSON.parse(l) as { type: string; opflags: string[] }))
        .filter((r) => r.type === 'PE').map((r) => r.opflags.join('|'));
      assert.deepEqual(flags, ['CLONE', 'CLONE', 'EXEC', 'EXIT', 'CLONE']);
    });
  }
});
