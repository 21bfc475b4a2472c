// Kernel e2e (root + BPF; run under flock /tmp/falconet-kernel.lock): a 3-level tree of
// short-lived shells, each changing directory, then a leaf command. The real sensor's process
// records feed the process table; the live SysFlow mapping takes exe/args/cwd from the record's
// table snapshot, and the policy fields read them from the SysFlow objects. /proc is read only by the seed: counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessStage, type ProcessEnrichment } from '../../src/enrich/process-table.js';
import { IdNames } from '../../src/enrich/ids.js';
import { KernelToSysFlow } from '../../src/pipeline/stages/kernel-sysflow.js';
import { parseProcEvents } from '../../src/model/process-record.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { lookupField } from '../../src/policy/fields.js';
import { MON_PROCESS } from '../../src/sensor/layout.js';
import { sensorSource } from '../../src/sensor/source.js';
import { viewsOf } from '../../src/sysflow/entities.js';
import type { SfObject } from '../../src/sysflow/types.js';
import type { SfRecordView } from '../../src/sysflow/view.js';
import { skipUnlessBpf } from '../kernel/harness.js';

const skip = skipUnlessBpf();

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd, stdio: 'ignore' });
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

test('3-level tree of short-lived processes: exe, args and cwd from the table in enrichment, SysFlow and policy fields', { skip, timeout: 240000 }, async () => {
  const base = realpathSync(mkdtempSync(path.join(tmpdir(), 'falconet-tree-')));
  mkdirSync(path.join(base, 'l1/l2/l3'), { recursive: true });
  const marker = `leaf-${process.pid}`;
  const stage = new ProcessStage();
  await stage.start();
  const readsAfterSeed = stage.table.procfs.reads;
  const leafEnrich: ProcessEnrichment[] = [];
  let sysflow: KernelToSysFlow | undefined;
  const objs: SfObject[] = [];
  const source = sensorSource({ monitors: MON_PROCESS, procEvents: parseProcEvents('FORK,EXEC,EXIT,CHDIR'), statsMs: 200 });
  let workload: Promise<void> | undefined;
  try {
    for await (const ev of source) {
      if (ev.kind === 'hello') {
        sysflow = new KernelToSysFlow(ev.hello.bootToRealNs, new IdNames());
        // level 1 and 2 keep running after their child (the trailing `; true`), so no shell
        // replaces itself with its last command
        workload = run('sh', ['-c', `cd l1 && sh -c 'cd l2 && sh -c "cd l3 && /usr/bin/printf %s ${marker} >/dev/null; true"; true'; true`], base)
          .then(() => new Promise((r) => setTimeout(r, 1000)))
          .then(() => source.stop());
      } else if (ev.kind === 'records') {
        for (const r of ev.records) {
          const env: Envelope = { kind: r.type === 'proc' ? 'process' : r.type === 'sock' ? 'socket' : r.type === 'pid_exit' ? 'pid_exit' : 'file', rec: r };
          await stage.process([env]);
          objs.push(...sysflow!.record(r, env.enrich)); // SysFlow from the record's own enrichment
          if (r.type === 'proc' && r.event === 'EXEC' && r.exec?.argv.includes(marker)) leafEnrich.push(env.enrich!['process'] as ProcessEnrichment);
        }
      }
    }
    await workload;
  } finally {
    source.stop();
  }
  try {
    const l1 = path.join(base, 'l1'), l2 = path.join(l1, 'l2'), l3 = path.join(l2, 'l3');
    // 1. enrichment
    assert.equal(leafEnrich.length, 1, 'the leaf exec was seen once');
    const leaf = leafEnrich[0]!;
    assert.deepEqual([leaf.exe, leaf.argv, leaf.cwd], ['/usr/bin/printf', ['/usr/bin/printf', '%s', marker], l3]);
    const [p1, p2, p3] = leaf.ancestors;
    assert.deepEqual([p1!.exe, p1!.argv.slice(0, 2), p1!.cwd], ['/usr/bin/dash', ['sh', '-c'], l3]);
    assert.deepEqual([p2!.exe, p2!.argv.slice(0, 2), p2!.cwd], ['/usr/bin/dash', ['sh', '-c'], l2]);
    assert.deepEqual([p3!.exe, p3!.argv.slice(0, 2), p3!.cwd], ['/usr/bin/dash', ['sh', '-c'], l1]);
    assert.ok(p3!.argv[2]!.startsWith('cd l1'));
    assert.equal(p3!.ppid, process.pid, 'level 1 is our child');
    // 2. no /proc read on the record path
    assert.equal(stage.table.procfs.reads, readsAfterSeed, 'the record path read /proc');
    // 3. SysFlow objects + policy fields
    const views = [...viewsOf(objs)];
    const get = (v: SfRecordView, name: string): unknown => lookupField(name)!.get(v);
    const leafViews = views.filter((v) => v.type === 'PE' && v.proc?.exe === '/usr/bin/printf' && v.proc.exeArgs.includes(marker));
    assert.ok(leafViews.length >= 1, 'a PE of the leaf process');
    const v = leafViews[0]!;
    assert.equal(get(v, 'sf.proc.exe'), '/usr/bin/printf');
    assert.equal(get(v, 'sf.proc.args'), `%s ${marker}`);
    assert.equal(get(v, 'sf.proc.cwd'), l3);
    assert.equal(get(v, 'sf.pproc.exe'), '/usr/bin/dash');
    assert.equal(get(v, 'proc.pcmdline'), `/usr/bin/dash -c cd l3 && /usr/bin/printf %s ${marker} >/dev/null; true`);
    const anames = get(v, 'proc.aname') as string[];
    assert.deepEqual(anames.slice(0, 4), ['printf', 'dash', 'dash', 'dash']);
    const acmd = get(v, 'sf.proc.acmdline') as string[];
    assert.ok(acmd[3]!.startsWith('/usr/bin/dash -c cd l1'), acmd[3]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
