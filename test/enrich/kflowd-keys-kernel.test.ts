// Kernel e2e (root + BPF; run under flock /tmp/falconet-kernel.lock): -v and -c on real records.
// curl's records carry the ProcVersion dpkg reports for curl; running /usr/bin/true gives a file
// record with coreutils' FileVersion; an executable the workload writes gets FileMD5/FileSHA256
// equal to md5sum/sha256sum. Stages: process table → packages → checksums, keys added to the
// kflowd encoder's own record objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ChecksumStage } from '../../src/enrich/checksums.js';
import { hostInfo } from '../../src/enrich/host.js';
import { IdNames } from '../../src/enrich/ids.js';
import { addKflowdEnrichmentKeys } from '../../src/enrich/kflowd-keys.js';
import { Mounts } from '../../src/enrich/mounts.js';
import { PackageIndex, PackageStage } from '../../src/enrich/packages.js';
import { ProcessStage } from '../../src/enrich/process-table.js';
import type { FormatContext } from '../../src/format/context.js';
import { isOutputRecord, kflowdRecord } from '../../src/format/kflowd.js';
import type { JObject } from '../../src/format/json.js';
import { parseProcEvents } from '../../src/model/process-record.js';
import type { Envelope, RecordKind, Stage } from '../../src/pipeline/types.js';
import { MON_FILE, MON_PROCESS } from '../../src/sensor/layout.js';
import { sensorSource } from '../../src/sensor/source.js';
import { skipUnlessBpf } from '../kernel/harness.js';

const skip = skipUnlessBpf();
const run = promisify(execFile);
const dpkgVersion = (pkg: string) => execFileSync('dpkg-query', ['-W', `-f=\${Version}`, pkg], { encoding: 'utf8' });
const sum = (tool: string, p: string) => execFileSync(tool, [p], { encoding: 'utf8' }).split(' ')[0]!;
const KIND: Record<string, RecordKind> = { proc: 'process', sock: 'socket', file: 'file', pid_exit: 'pid_exit' };

test('-v: curl has dpkg\'s ProcVersion, /usr/bin/true coreutils\' FileVersion; -c: a written executable\'s digests equal md5sum/sha256sum', { skip, timeout: 240000 }, async () => {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'falconet-vc-')));
  const exe = path.join(dir, 'written-tool');
  const procs = new ProcessStage();
  const packages = new PackageStage(new PackageIndex({ rpm: null }), { watch: false, readyWaitMs: 60000 });
  const checksums = new ChecksumStage({ waitMs: 30000 });
  const stages: Stage[] = [procs, packages, checksums];
  const out: Array<{ env: Envelope; json: JObject }> = [];
  const log = () => {};
  for (const s of stages) await s.start?.({ log });
  let ctx: FormatContext | undefined;
  const source = sensorSource({ monitors: MON_FILE | MON_PROCESS, procEvents: parseProcEvents('FORK,EXEC,EXIT,CHDIR'), statsMs: 200 });
  let workload: Promise<void> | undefined;
  try {
    for await (const ev of source) {
      if (ev.kind === 'hello') {
        ctx = { host: await hostInfo(undefined), bootToRealNs: ev.hello.bootToRealNs, startBootNs: ev.hello.startBootNs, ids: new IdNames(), mounts: new Mounts() };
        workload = (async () => {
          await run('curl', ['-s', '-o', '/dev/null', 'file:///etc/hostname']);
          await run('/usr/bin/true');
          copyFileSync('/usr/bin/true', exe); // our own writes are filtered (agent pid): let cp write it
          rmSync(exe);
          await run('cp', ['/usr/bin/true', exe]);
          appendFileSync(exe, `made by ${process.pid}`); // filtered, and makes its digest unique
          await run(exe);
          await new Promise((r) => setTimeout(r, 1500));
        })().finally(() => source.stop());
      } else if (ev.kind === 'records') {
        let batch: Envelope[] = ev.records.filter(isOutputRecord).map((r) => ({ kind: KIND[r.type]!, rec: r }));
        for (const s of stages) batch = await s.process(batch);
        for (const env of batch) {
          const o = kflowdRecord(env.rec as Parameters<typeof kflowdRecord>[0], 1, ctx!);
          if (!o) continue;
          addKflowdEnrichmentKeys(o, env, { versions: true, checksums: true });
          out.push({ env, json: o });
        }
      }
    }
    await workload;
  } finally {
    source.stop();
    for (const s of stages) await s.close?.();
  }
  try {
    const byProc = (exe: string) => out.filter((o) => (o.env.enrich?.['process'] as { exe?: string } | undefined)?.exe === exe);
    // -v, process side: every curl record
    const curl = byProc('/usr/bin/curl');
    assert.ok(curl.length >= 1, 'records of the curl process');
    for (const o of curl) assert.equal(o.json.get('ProcVersion'), dpkgVersion('curl'));
    const keys = [...curl[0]!.json.keys()];
    assert.equal(keys[keys.indexOf('Proc') + 1], 'ProcVersion');
    // -v, file side: the exec of /usr/bin/true is a file record of an executable
    const trueFile = out.filter((o) => o.json.get('InfoMonitor') === 'filesystem' && o.json.get('FilePath') === '/usr/bin/' && o.json.get('File') === 'true');
    assert.ok(trueFile.length >= 1, 'file record of /usr/bin/true');
    for (const o of trueFile) assert.equal(o.json.get('FileVersion'), dpkgVersion('coreutils'));
    // -c: the written executable
    const mine = out.filter((o) => o.json.get('InfoMonitor') === 'filesystem' && o.json.get('FilePath') === dir + '/' && o.json.get('File') === 'written-tool');
    assert.ok(mine.length >= 1, 'file records of the written executable');
    const md5 = sum('md5sum', exe), sha = sum('sha256sum', exe);
    for (const o of mine) {
      assert.ok(o.json.has('FileMD5') && o.json.has('FileSHA256'), 'the keys are always there with -c');
      assert.equal(o.json.get('FileVersion'), '', 'not a packaged file');
    }
    // the last record (its exec) sees the final file: digests equal the tools'; earlier records
    // of the file as cp left it may be pending or hold that content's digests
    const last = mine.at(-1)!;
    assert.deepEqual([last.json.get('FileMD5'), last.json.get('FileSHA256')], [md5, sha]);
    assert.equal(last.json.has('FileChecksumState'), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
