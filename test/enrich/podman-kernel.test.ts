// Kernel e2e through the CLI (`falconet -m process --containers --container-socket S -w DIR/`)
// with a real container (root + BPF + podman; run under flock
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
import { lookupField } from '../../src/policy/fields.js';
import { viewsOf } from '../../src/sysflow/entities.js';
import { readSysFlowFile } from '../../src/sysflow/reader.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { bpfSkipReason, captureRecords } from '../kernel/harness.js';

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

    traces = path.join(dir, 'traces') + '/';
    let containerId = '';
    const gate = path.join(dir, 'gate');
    mkdirSync(gate);
    const cap = await captureRecords(async (live) => {
      // the container keeps starting processes until the agent has tagged one with the API's
      // metadata (the API answers within a bounded wait, or for a later record: not a race with
      // a fixed sleep), then ends
      const ran = podman('run', '--rm', '--name', name, '-v', `${gate}:/gate`, '--label', 'io.kubernetes.pod.name=web', '--label', 'io.kubernetes.pod.namespace=prod', image,
        '/bin/sh', '-c', 'cat /proc/self/cgroup; while [ ! -e /gate/go ]; do sleep 1; done; true');
      let ended = false; // a container that failed to start: its error below, not a wait
      ran.then(() => { ended = true; }, () => { ended = true; });
      for (const t0 = Date.now(); !ended && Date.now() - t0 < 120_000; await new Promise((res) => setTimeout(res, 200))) {
        if (live().some((r) => r['ContainerId'] !== undefined && r['ContainerName'] !== '')) break;
      }
      writeFileSync(path.join(gate, 'go'), '');
      const r = await ran;
      containerId = /libpod-([0-9a-f]{64})/.exec(r.stdout)?.[1] ?? '';
      await new Promise<void>((res) => setTimeout(res, 1000));
    }, ['-m', 'process', '--proc-events', 'FORK,EXEC,EXIT,CHDIR', '--containers', '--container-socket', sock, '-w', traces, '--exporter-id', 'podman']);
    assert.match(containerId, /^[0-9a-f]{64}$/, 'the container printed its libpod cgroup');
    const inspect = JSON.parse((await podman('image', 'inspect', image)).stdout) as Array<{ Id: string }>;
    // 1. kflowd JSON: every record of the container's processes, keys right after ProcAge
    const tagged = cap.records.filter((r) => r['ContainerId'] !== undefined);
    const execs = tagged.filter((r) => r['EventType'] === 'EXEC');
    assert.ok(execs.length >= 2, `container EXEC records: ${execs.length}`);
    assert.ok(execs.some((r) => String(r['Proc']).startsWith('busybox')), 'the container\'s busybox');
    // metadata comes from the API within a bounded wait: records that left before it answered
    // carry the id alone; from the first record with metadata on, every record has it
    for (const r of tagged) assert.equal(r['ContainerId'], containerId.slice(0, 12));
    const firstFull = tagged.findIndex((r) => r['ContainerName'] !== '');
    assert.ok(firstFull >= 0, 'some container records carry the metadata');
    for (const r of tagged.slice(0, firstFull)) assert.deepEqual([r['ContainerName'], r['ContainerImage']], ['', '']);
    for (const r of tagged.slice(firstFull)) assert.deepEqual([r['ContainerId'], r['ContainerName'], r['ContainerImage']], [containerId.slice(0, 12), name, image]);
    const keys = Object.keys(execs[0]!);
    assert.equal(keys[keys.indexOf('ProcAge') + 1], 'ContainerId');
    // host processes (podman itself) are not tagged
    assert.ok(cap.records.some((r) => String(r['Proc']).startsWith('podman') && r['ContainerId'] === undefined));
    // 3. SysFlow: a Container entity, and the container's processes reference it; policy fields
    const objs: SfObject[] = [];
    for (const f of readdirSync(traces)) for (const o of readSysFlowFile(path.join(traces, f))) objs.push(o);
    const ct = objs.filter((o) => o.type === 'C' && o.rec.id === containerId.slice(0, 12));
    assert.ok(ct.length >= 1, 'Container entity');
    const last = ct.at(-1)!;
    if (last.type === 'C') assert.deepEqual([last.rec.name, last.rec.image, last.rec.imageid.replace(/^sha256:/, ''), last.rec.privileged], [name, image, inspect[0]!.Id, false]);
    const views = [...viewsOf(objs)].filter((v) => v.proc?.containerId === containerId.slice(0, 12));
    assert.ok(views.length >= 1, 'records of container processes');
    // the last process event: by then the Container entity carries the API's metadata
    const v = views.filter((x) => x.type === 'PE').at(-1)!;
    const get = (n: string) => lookupField(n)!.get(v);
    assert.deepEqual([get('sf.container.id'), get('container.name'), get('sf.container.image'), get('sf.container.privileged')], [containerId.slice(0, 12), name, image, false]);
  } finally {
    service?.kill('SIGTERM');
    try { await podman('rm', '-f', name); } catch { /* removed by --rm */ }
    try { await podman('rmi', '-f', image); } catch { /* */ }
    rmSync(dir, { recursive: true, force: true });
  }
});
