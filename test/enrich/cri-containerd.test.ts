// A REAL containerd (Debian's 1.6, its CRI plugin) with a private config, root, state and socket
// under a temp dir: the test acts as kubelet — RunPodSandbox (host network, so no CNI), then
// CreateContainer/StartContainer with kubelet's io.kubernetes.* labels — and the container's
// process, placed by runc in a kubepods-style cgroup (cgroupfs driver), must resolve through the
// enrichment stage to its id (from the cgroup id → path) and then its CRI metadata. No registry:
// the sandbox and container image is a busybox-static rootfs imported with podman, saved as an
// OCI archive and imported with `ctr -n k8s.io images import`. No BPF. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CgroupIndex, ContainerStage, type ContainerEnrichment } from '../../src/enrich/containers.js';
import type { ProcessEnrichment } from '../../src/enrich/process-table.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { criClient } from './cri-lib.js';

const run = promisify(execFile);
const V2 = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : undefined;
const skip = process.geteuid?.() !== 0 ? 'needs root'
  : !existsSync('/usr/bin/containerd') || !existsSync('/usr/bin/ctr') || !existsSync('/usr/sbin/runc') ? 'needs containerd and runc (Debian packages containerd, runc)'
  : !existsSync('/usr/bin/podman') || !existsSync('/bin/busybox') ? 'needs podman and busybox-static (to build the image)'
  : !V2 ? 'needs a cgroup v2 hierarchy' : false;

const UID = '3c9d5e2a-1b4f-4a6e-9d8c-7f6e5d4c3b2a';

function config(dir: string, image: string): string {
  const q = (p: string) => JSON.stringify(path.join(dir, p));
  return `version = 2
root = ${q('root')}
state = ${q('state')}
[grpc]
  address = ${q('containerd.sock')}
[ttrpc]
  address = ${q('containerd.sock.ttrpc')}
[debug]
  address = ${q('debug.sock')}
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = ${q('opt')}
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${JSON.stringify(image)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # the sandbox asks for oom_score_adj -998; a nested or unprivileged-ish host refuses lowering it
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = ${q('runc')}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q('cni/bin')}
    conf_dir = ${q('cni/conf')}
`;
}

/** Every cgroup hierarchy's copy of rel, deepest first (runc made them; only empty ones go). */
function removeCgroups(rel: string): void {
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const base = path.join('/sys/fs/cgroup', h);
    const parts = rel.split('/').filter(Boolean);
    for (let i = parts.length; i > 0; i--) {
      try { rmdirSync(path.join(base, ...parts.slice(0, i))); } catch { /* not there, or not empty */ }
    }
  }
}

/** Processes whose command line names dir (the shims containerd started for this test). */
function leftovers(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(p)) continue;
    try { if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p)); } catch { /* gone */ }
  }
  return out;
}

test('real containerd (CRI plugin): a container\'s process resolves to its id and CRI metadata through the enrichment stage', { skip, timeout: 180000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-cri-'));
  const image = `localhost/falconet-busybox:${process.pid}`;
  const cgroupParent = `/falconet-cri-${process.pid}/kubepods/besteffort/pod${UID}`;
  const sock = path.join(dir, 'containerd.sock');
  let containerd: ChildProcess | undefined;
  let client: ReturnType<typeof criClient> | undefined;
  let sandboxId = '';
  let stage: ContainerStage | undefined;
  try {
    // the image: busybox-static; its entrypoint keeps the sandbox ("pause") container alive
    const rootfs = path.join(dir, 'rootfs');
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    for (const a of ['sh', 'sleep']) symlinkSync('busybox', path.join(rootfs, 'bin', a));
    await run('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
    writeFileSync(path.join(dir, 'containers.conf'), '[containers]\ndefault_ulimits = []\n');
    const pm = ['--root', path.join(dir, 'proot'), '--runroot', path.join(dir, 'prun'), '--storage-driver', 'vfs'];
    const penv = { ...process.env, CONTAINERS_CONF: path.join(dir, 'containers.conf') };
    const imageId = (await run('podman', [...pm, 'import', '--change', 'ENTRYPOINT ["/bin/sleep","100000"]', path.join(dir, 'rootfs.tar'), image], { env: penv })).stdout.trim().split('\n').at(-1)!;
    assert.match(imageId, /^sha256:[0-9a-f]{64}$/);
    await run('podman', [...pm, 'save', '--format', 'oci-archive', '-o', path.join(dir, 'image.tar'), image], { env: penv });

    writeFileSync(path.join(dir, 'config.toml'), config(dir, image));
    containerd = spawn('/usr/bin/containerd', ['--config', path.join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    containerd.stderr!.on('data', (d: Buffer) => { if (log.length < 1 << 20) log += d.toString(); });
    for (let i = 0; i < 300 && !log.includes('containerd successfully booted'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(sock), `containerd did not start:\n${log.slice(-2000)}`);
    await run('/usr/bin/ctr', ['-a', sock, '-n', 'k8s.io', 'images', 'import', '--snapshotter', 'native', path.join(dir, 'image.tar')]);

    // as kubelet does it: pod labels (and its own io.kubernetes.pod.*) on the sandbox, its own
    // labels on the container
    client = criClient(sock);
    const kube = { 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'prod', 'io.kubernetes.pod.uid': UID };
    const podConfig = {
      metadata: { name: 'web', namespace: 'prod', uid: UID, attempt: 0 }, log_directory: path.join(dir, 'logs'),
      labels: { ...kube, app: 'web', tier: 'front' }, annotations: { 'kubernetes.io/config.source': 'api' },
      linux: { cgroup_parent: cgroupParent, security_context: { privileged: true, namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    sandboxId = String((await client.call('RunPodSandbox', { config: podConfig })).pod_sandbox_id);
    const containerLabels = { ...kube, 'io.kubernetes.container.name': 'app' };
    const containerAnnotations = { 'io.kubernetes.container.restartCount': '0', 'example.com/note': 'a b' };
    const id = String((await client.call('CreateContainer', {
      pod_sandbox_id: sandboxId, sandbox_config: podConfig,
      config: { metadata: { name: 'app', attempt: 0 }, image: { image }, command: ['/bin/sleep', '100000'], labels: containerLabels, annotations: containerAnnotations, log_path: 'app.log', linux: { security_context: { privileged: false } } },
    })).container_id);
    await client.call('StartContainer', { container_id: id });
    const st = await client.call('ContainerStatus', { container_id: id, verbose: true });
    const pid = (JSON.parse((st['info'] as Record<string, string>)['info']!) as { pid: number }).pid;

    // ground truth from the kernel: the process's cgroup, placed by runc
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const v2line = cg.split('\n').find((l) => l.startsWith('0::'))!;
    assert.equal(v2line, `0::${cgroupParent}/${id}`, cg);
    const cgroupId = statSync(path.join(V2!, cgroupParent, id), { bigint: true }).ino;

    stage = new ContainerStage({ sockets: [], criSockets: [path.join(dir, 'missing.sock'), sock], cgroupIndex: new CgroupIndex(V2, 0), procFallback: false, waitMs: 30000 });
    await stage.start();
    const entry = (p: number, cgid: bigint): ProcessEnrichment => ({
      pid: p, ppid: 1, startNs: 1n, exe: '/bin/busybox', argv: ['/bin/sleep', '100000'], cwd: '/', tty: 0, loginUid: -1, sessionId: 0, uid: 0, gid: 0,
      cgroupId: cgid, cgroup: '', origin: 'seed', exited: false, ancestors: [],
    });
    const env = (): Envelope => ({ kind: 'process', rec: { hdr: { pid } }, enrich: { process: entry(pid, cgroupId) } });
    const a = env();
    await stage.process([a]);
    assert.deepEqual(a.enrich!['container'], {
      id, shortId: id.slice(0, 12), runtime: 'containerd', name: 'app', image, imageId, privileged: false,
      labels: containerLabels, annotations: containerAnnotations,
      pod: { name: 'web', namespace: 'prod', uid: UID, labels: { app: 'web', tier: 'front' } },
      metadata: 'done',
    } satisfies ContainerEnrichment);
    assert.equal(stage.stats.apiCalls, 1);
    // cached per id: the next record asks nothing
    const b = env();
    await stage.process([b]);
    assert.deepEqual(b.enrich!['container'], a.enrich!['container']);
    assert.equal(stage.stats.apiCalls, 1);
    // a privileged container of the same pod (the sandbox allows it): the flag comes from
    // containerd's verbose info (the CreateContainer config it echoes)
    const pid2Id = String((await client.call('CreateContainer', {
      pod_sandbox_id: sandboxId, sandbox_config: podConfig,
      config: { metadata: { name: 'priv', attempt: 0 }, image: { image }, command: ['/bin/sleep', '100000'], labels: { ...kube, 'io.kubernetes.container.name': 'priv' }, log_path: 'priv.log', linux: { security_context: { privileged: true } } },
    })).container_id);
    await client.call('StartContainer', { container_id: pid2Id });
    const pid2 = (JSON.parse(((await client.call('ContainerStatus', { container_id: pid2Id, verbose: true }))['info'] as Record<string, string>)['info']!) as { pid: number }).pid;
    const p2: Envelope = { kind: 'process', rec: {}, enrich: { process: entry(pid2, statSync(path.join(V2!, cgroupParent, pid2Id), { bigint: true }).ino) } };
    await stage.process([p2]);
    const e2 = p2.enrich!['container'] as ContainerEnrichment;
    assert.deepEqual([e2.id, e2.name, e2.privileged, e2.pod?.name, e2.pod?.labels], [pid2Id, 'priv', true, 'web', { app: 'web', tier: 'front' }]);
    assert.equal(stage.stats.apiCalls, 2);
    // an id containerd does not know (NOT_FOUND): id and runtime only, and remembered as such
    const unknown = 'e'.repeat(64);
    const other = (): Envelope => ({ kind: 'process', rec: {}, enrich: { process: { ...entry(pid, 0n), cgroup: `0::/kubepods/besteffort/pod${UID}/${unknown}\n` } } });
    const c = other();
    await stage.process([c]);
    assert.deepEqual(c.enrich!['container'], { id: unknown, shortId: unknown.slice(0, 12), runtime: 'containerd', metadata: 'none' });
    assert.equal(stage.stats.apiCalls, 3);
    await stage.process([other()]);
    assert.equal(stage.stats.apiCalls, 3);
  } finally {
    stage?.close();
    if (client && sandboxId) {
      try { await client.call('StopPodSandbox', { pod_sandbox_id: sandboxId }); await client.call('RemovePodSandbox', { pod_sandbox_id: sandboxId }); } catch { /* containerd gone */ }
    }
    client?.close();
    if (containerd && containerd.exitCode === null) {
      containerd.kill('SIGTERM');
      await new Promise((r) => containerd!.once('exit', r));
    }
    for (const p of leftovers(dir)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    removeCgroups(cgroupParent);
    for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
      const m = l.split(' ')[4];
      if (m?.startsWith(dir)) try { await run('umount', ['-l', m]); } catch { /* */ }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
