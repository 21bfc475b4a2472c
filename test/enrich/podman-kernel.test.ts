// Kernel e2e with a real container (root + BPF + podman; run under flock
// /tmp/falconet-kernel.lock). Debian's podman with Debian's runc (crun cannot raise
// RLIMIT_NOFILE on hybrid cgroups, hence containers.conf `default_ulimits = []`), private
// storage under a temp dir (vfs), an image made by `podman import` of a rootfs holding Debian's
// busybox-static (no registry needed), and podman's docker-compatible API served by
// `podman system service` on a private socket. The container's processes must carry its id,
// name and image in the enrichment, in kflowd JSON, in SysFlow (Container entity) and in the
// policy fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ContainerStage, type ContainerEnrichment } from '../../src/enrich/containers.js';
import { hostInfo } from '../../src/enrich/host.js';
import { IdNames } from '../../src/enrich/ids.js';
import { addKflowdEnrichmentKeys } from '../../src/enrich/kflowd-keys.js';
import { Mounts } from '../../src/enrich/mounts.js';
import { ProcessStage } from '../../src/enrich/process-table.js';
import { sysflowProcessLookup } from '../../src/enrich/sysflow-lookup.js';
import { SysFlowOutput } from '../../src/agent/sysflow-output.js';
import { kflowdRecord } from '../../src/format/kflowd.js';
import type { FormatContext } from '../../src/format/context.js';
import { parseProcEvents } from '../../src/model/process-record.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { lookupField } from '../../src/policy/fields.js';
import { MON_PROCESS } from '../../src/sensor/layout.js';
import { sensorSource } from '../../src/sensor/source.js';
import { viewsOf } from '../../src/sysflow/entities.js';
import { readSysFlowFile } from '../../src/sysflow/reader.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { bpfSkipReason } from '../kernel/harness.js';

const run = promisify(execFile);
const skip = bpfSkipReason() ?? (!existsSync('/usr/bin/podman') || !existsSync('/usr/sbin/runc') || !existsSync('/bin/busybox') ? 'needs podman, runc and busybox-static' : false);

test('a podman container (runc, imported busybox image) is tagged with id, name and image everywhere', { skip, timeout: 300000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-podman-'));
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const pm = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs', '--runtime', '/usr/sbin/runc'];
  const podman = (...args: string[]) => run('podman', [...pm, ...args], { env, maxBuffer: 16 << 20 });
  const name = `falconet-ct-${process.pid}`;
  const image = `localhost/falconet-busybox:${process.pid}`;
  const sock = path.join(dir, 'podman.sock');
  let service: ChildProcess | undefined;
  let traces = '';
  try {
    // image: a rootfs with busybox-static and its applets, imported from a tar
    const rootfs = path.join(dir, 'rootfs');
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    for (const a of ['sh', 'sleep', 'cat', 'true']) symlinkSync('busybox', path.join(rootfs, 'bin', a));
    await run('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
    await podman('import', path.join(dir, 'rootfs.tar'), image);
    service = spawn('podman', [...pm, 'system', 'service', '--time=0', `unix://${sock}`], { env, stdio: 'ignore' });
    for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(sock), 'podman system service did not create its socket');

    const procs = new ProcessStage();
    await procs.start();
    const containers = new ContainerStage({ sockets: [sock], waitMs: 10000 });
    await containers.start();
    traces = path.join(dir, 'traces') + '/';
    let sysflow: SysFlowOutput | undefined;
    let ctx: FormatContext | undefined;
    const tagged: Array<{ env: Envelope; json: Map<string, unknown> }> = [];
    let containerId = '';
    const source = sensorSource({ monitors: MON_PROCESS, procEvents: parseProcEvents('FORK,EXEC,EXIT,CHDIR'), statsMs: 200 });
    let workload: Promise<void> | undefined;
    for await (const ev of source) {
      if (ev.kind === 'hello') {
        ctx = { host: await hostInfo(undefined), bootToRealNs: ev.hello.bootToRealNs, startBootNs: ev.hello.startBootNs, ids: new IdNames(), mounts: new Mounts() };
        sysflow = new SysFlowOutput({ output: traces, exporterId: 'podman', processLookup: sysflowProcessLookup(procs.table, containers) }, ev.hello.bootToRealNs, ctx.ids);
        workload = podman('run', '--rm', '--name', name, '--label', 'io.kubernetes.pod.name=web', '--label', 'io.kubernetes.pod.namespace=prod', image, '/bin/sh', '-c', 'sleep 1; cat /proc/self/cgroup; true')
          .then((r) => { containerId = /libpod-([0-9a-f]{64})/.exec(r.stdout)?.[1] ?? ''; })
          .then(() => new Promise<void>((r) => setTimeout(r, 1000)))
          .finally(() => source.stop());
      } else if (ev.kind === 'records') {
        for (const r of ev.records) {
          if (r.type !== 'proc') continue;
          const e: Envelope = { kind: 'process', rec: r };
          await procs.process([e]);
          await containers.process([e]);
          sysflow!.record(r);
          if (e.enrich?.['container']) {
            const o = kflowdRecord(r, 1, ctx!);
            if (o) {
              addKflowdEnrichmentKeys(o, e, { containers: true });
              tagged.push({ env: e, json: o as Map<string, unknown> });
            }
          }
        }
      }
    }
    await workload;
    await sysflow!.close();
    await containers.close();

    assert.match(containerId, /^[0-9a-f]{64}$/, 'the container printed its libpod cgroup');
    const inspect = JSON.parse((await podman('image', 'inspect', image)).stdout) as Array<{ Id: string }>;
    // 1. enrichment: the container's shell and sleep, with podman's metadata
    const execs = tagged.filter((t) => (t.env.rec as { event: string }).event === 'EXEC');
    assert.ok(execs.length >= 2, `container EXEC records: ${execs.length}`);
    if (process.env.DEBUG_PODMAN) for (const t of tagged) process.stderr.write(`${JSON.stringify(Object.fromEntries(t.json))} ${JSON.stringify(t.env.enrich!['container'])}\n`);
    for (const t of tagged) {
      const c = t.env.enrich!['container'] as ContainerEnrichment;
      assert.deepEqual([c.id, c.runtime, c.name, c.image, c.metadata, c.privileged], [containerId, 'podman', name, image, 'done', false]);
      assert.deepEqual([c.pod?.name, c.pod?.namespace, c.labels?.['io.kubernetes.pod.name']], ['web', 'prod', 'web'], 'pod from the CRI labels');
      assert.equal((c.imageId ?? '').replace(/^sha256:/, ''), inspect[0]!.Id);
    }
    // 2. kflowd JSON keys, right after ProcAge
    const j = execs[0]!.json;
    assert.deepEqual([j.get('ContainerId'), j.get('ContainerName'), j.get('ContainerImage')], [containerId.slice(0, 12), name, image]);
    const keys = [...j.keys()];
    assert.equal(keys[keys.indexOf('ProcAge') + 1], 'ContainerId');
    // 3. SysFlow: a Container entity, and the container's processes reference it; policy fields
    const objs: SfObject[] = [];
    for (const f of readdirSync(traces)) for (const o of readSysFlowFile(path.join(traces, f))) objs.push(o);
    const ct = objs.filter((o) => o.type === 'C' && o.rec.id === containerId.slice(0, 12));
    assert.ok(ct.length >= 1, 'Container entity');
    const views = [...viewsOf(objs)].filter((v) => v.proc?.containerId === containerId.slice(0, 12));
    assert.ok(views.length >= 1, 'records of container processes');
    const v = views.find((x) => x.type === 'PE')!;
    const get = (n: string) => lookupField(n)!.get(v);
    assert.deepEqual([get('sf.container.id'), get('container.name'), get('sf.container.image'), get('sf.container.privileged')], [containerId.slice(0, 12), name, image, false]);
  } finally {
    service?.kill('SIGTERM');
    try { await podman('rm', '-f', name); } catch { /* removed by --rm */ }
    try { await podman('rmi', '-f', image); } catch { /* */ }
    rmSync(dir, { recursive: true, force: true });
  }
});
