// Container ids from cgroup paths: every runtime's path form (pure), then real processes the test
// places in docker-, containerd-, CRI-O- and podman-style cgroups, both in the v2 hierarchy
// (found through the record's cgroup id) and in a v1 hierarchy (found through /proc/PID/cgroup).
// Needs root and writable cgroup mounts (skipped otherwise). Also: the docker-compatible API
// client against a stand-in socket, and a fuzzed parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CgroupIndex, ContainerStage, containerFromCgroupPath, containerFromProcCgroup, type ContainerEnrichment } from '../../src/enrich/containers.js';
import type { ProcessEnrichment } from '../../src/enrich/process-table.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { Rng } from '../policy/fuzz-lib.js';
import { KernelToSysFlow } from '../../src/pipeline/stages/kernel-sysflow.js';
import { IdNames } from '../../src/enrich/ids.js';
import { lookupField } from '../../src/policy/fields.js';
import { viewsOf } from '../../src/sysflow/entities.js';
import type { Container, Pod } from '../../src/sysflow/types.js';
import { PROC_EVENTS_SAMPLE } from '../fleet/ecs-records.js';

const ID = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef0123456789abcdef01234567';
const UID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const U_ = UID.replace(/-/g, '_');

test('cgroup path forms of docker, containerd, CRI-O, podman, lxc and systemd slices', () => {
  const cases: Array<[string, ReturnType<typeof containerFromCgroupPath>]> = [
    [`/docker/${ID}`, { id: ID, runtime: 'docker' }],
    [`/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker' }],
    [`/default/${ID}`, { id: ID, runtime: 'containerd' }],
    [`/kubepods/besteffort/pod${UID}/${ID}`, { id: ID, runtime: 'containerd', podUid: UID }],
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/cri-containerd-${ID}.scope`, { id: ID, runtime: 'containerd', podUid: UID }],
    [`/kubepods.slice/kubepods-pod${U_}.slice/crio-${ID}.scope`, { id: ID, runtime: 'cri-o', podUid: UID }],
    [`/kubepods/pod${UID}/crio-${ID}`, { id: ID, runtime: 'cri-o', podUid: UID }],
    [`/libpod_parent/libpod-${ID}`, { id: ID, runtime: 'podman' }],
    [`/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman' }],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
    [`/lxc/web1`, { id: 'web1', runtime: 'lxc' }],
    [`/lxc.payload.web2`, { id: 'web2', runtime: 'lxc' }],
    // host: conmon and shims, ordinary services, user sessions, the root
    [`/machine.slice/libpod-conmon-${ID}.scope`, undefined],
    [`/kubepods.slice/crio-conmon-${ID}.scope`, undefined],
    ['/system.slice/ssh.service', undefined],
    ['/user.slice/user-1000.slice/session-3.scope', undefined],
    ['/', undefined],
    [`/docker/${ID.slice(0, 63)}`, undefined],
  ];
  for (const [p, want] of cases) assert.deepEqual(containerFromCgroupPath(p), want, p);
  // /proc/PID/cgroup: v2 line first, then v1 lines
  assert.deepEqual(containerFromProcCgroup(`12:pids:/docker/${ID}\n0::/\n`), { id: ID, runtime: 'docker' });
  assert.deepEqual(containerFromProcCgroup(`0::/libpod_parent/libpod-${ID}\n`), { id: ID, runtime: 'podman' });
  assert.equal(containerFromProcCgroup('0::/init.scope\n1:name=systemd:/init.scope\n'), undefined);
});

test('fuzz: cgroup parsers never throw', () => {
  const rng = new Rng(99);
  const parts = ['/', 'docker', '-', ID, '.scope', 'libpod', 'crio', 'pod', UID, 'kubepods', ':', '0::', '\n', 'lxc', 'lxc.payload.', 'x', '_'];
  for (let i = 0; i < 5000; i++) {
    let s = '';
    for (let j = rng.int(12); j > 0; j--) s += rng.pick(parts);
    const c = containerFromProcCgroup(s);
    if (c) assert.ok(c.id.length > 0);
  }
});

// ---- real cgroups --------------------------------------------------------------------------

const V2 = '/sys/fs/cgroup/unified';
const V1 = '/sys/fs/cgroup/pids';
const cgSkip = process.geteuid?.() !== 0 ? 'needs root' : !existsSync(`${V2}/cgroup.procs`) || !existsSync(`${V1}/cgroup.procs`) ? 'needs a hybrid cgroup layout (v2 at /sys/fs/cgroup/unified, v1 pids)' : false;

function sleeper(): ChildProcess {
  return spawn('sleep', ['60'], { stdio: 'ignore' });
}
function place(root: string, rel: string, pid: number): string {
  const dir = path.join(root, rel);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  return dir;
}
function removeTree(root: string, rel: string): void {
  // deepest first; a cgroup directory can only be removed empty
  const parts = rel.split('/').filter(Boolean);
  for (let i = parts.length; i > 0; i--) {
    try { rmdirSync(path.join(root, ...parts.slice(0, i))); } catch { /* not empty or gone */ }
  }
}
function entryFor(pid: number, cgroupId: bigint): ProcessEnrichment {
  return { pid, ppid: process.pid, startNs: 1n, exe: '/usr/bin/sleep', argv: ['sleep', '60'], cwd: '/', tty: 0, loginUid: 0, sessionId: 0, uid: 0, gid: 0, cgroupId, cgroup: '', origin: 'fork', exited: false, ancestors: [] };
}

const PLACED: Array<[string, string, ContainerEnrichment['runtime']]> = [
  ['docker v2 (systemd)', `falconet-test/system.slice/docker-${ID}.scope`, 'docker'],
  ['containerd v2 (systemd, k8s)', `falconet-test/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${U_}.slice/cri-containerd-${ID}.scope`, 'containerd'],
  ['CRI-O v2 (systemd)', `falconet-test/kubepods.slice/kubepods-pod${U_}.slice/crio-${ID}.scope`, 'cri-o'],
  ['docker v1 (cgroupfs)', `falconet-test/docker/${ID}`, 'docker'],
  ['containerd v1 (cgroupfs, k8s)', `falconet-test/kubepods/besteffort/pod${UID}/${ID}`, 'containerd'],
  ['CRI-O v1 (cgroupfs)', `falconet-test/kubepods/pod${UID}/crio-${ID}`, 'cri-o'],
];

test('processes placed in runtime-style cgroups (v2 through the cgroup id, v1 through /proc) get the id', { skip: cgSkip }, async () => {
  for (const [label, rel, runtime] of PLACED) {
    const v2 = label.includes('v2');
    const root = (v2 ? V2 : V1) + `/falconet-${process.pid}`;
    const relHere = rel.replace(/^falconet-test\//, '');
    const child = sleeper();
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid!;
    try {
      const dir = place(root, relHere, pid);
      // what the kernel says about the process is the ground truth the parser sees
      const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      assert.ok(cg.includes(relHere), `${label}: /proc/${pid}/cgroup does not show the placement:\n${cg}`);
      assert.deepEqual(containerFromProcCgroup(cg)?.id, ID, label);
      // the stage: v2 → the record's cgroup id (inode of the directory) resolved by the index;
      // v1 → the v2 id says "host", so the stage reads /proc/PID/cgroup once
      const cgroupId = v2 ? statSync(dir, { bigint: true }).ino : statSync(V2, { bigint: true }).ino;
      const stage = new ContainerStage({ criSockets: [], sockets: [], cgroupIndex: new CgroupIndex(V2, 0), procFallback: !v2, waitMs: 30000 });
      await stage.start();
      const env: Envelope = { kind: 'file', rec: { hdr: { pid } }, enrich: { process: entryFor(pid, cgroupId) } };
      await stage.process([env]);
      const c = env.enrich!['container'] as ContainerEnrichment;
      assert.deepEqual([c?.id, c?.shortId, c?.runtime, c?.metadata], [ID, ID.slice(0, 12), runtime, 'none'], label);
      assert.equal(stage.stats.procCgroupReads, v2 ? 0 : 1, label);
    } finally {
      // move the sleeper back to the root cgroups before removing ours
      try { writeFileSync(`${v2 ? V2 : V1}/cgroup.procs`, String(pid)); } catch { /* exited */ }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      removeTree(root, relHere);
      try { rmdirSync(root); } catch { /* */ }
    }
  }
});

test('docker-compatible API: metadata and CRI pod labels from /containers/{id}/json (stand-in server on a UNIX socket)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-api-'));
  const sock = path.join(dir, 'docker.sock');
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    if (req.url === `/containers/${ID}/json`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        Id: ID, Name: '/web-1', Image: 'sha256:feed', Config: { Image: 'nginx:1.25', Labels: { 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'prod', 'io.kubernetes.pod.uid': UID, app: 'web' } },
        HostConfig: { Privileged: true },
      }));
    } else { res.writeHead(404); res.end('{"message":"no such container"}'); }
  });
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    const stage = new ContainerStage({ criSockets: [], sockets: [path.join(dir, 'missing.sock'), sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000 });
    const mk = (cgroup: string): Envelope => ({ kind: 'socket', rec: {}, enrich: { process: { ...entryFor(1234, 0n), cgroup } } });
    const a = mk(`0::/kubepods/besteffort/pod${UID}/${ID}\n`);
    const host = mk('0::/system.slice/ssh.service\n');
    await stage.process([a, host]);
    assert.deepEqual(a.enrich!['container'], {
      id: ID, shortId: ID.slice(0, 12), runtime: 'containerd', name: 'web-1', image: 'nginx:1.25', imageId: 'sha256:feed', privileged: true,
      labels: { 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'prod', 'io.kubernetes.pod.uid': UID, app: 'web' },
      pod: { name: 'web', namespace: 'prod', uid: UID, labels: { app: 'web' } },
      metadata: 'done',
    } satisfies ContainerEnrichment);
    assert.equal(host.enrich!['container'], undefined);
    // SysFlow: a Pod entity (uid, name, namespace, labels) before the Container that names it,
    // and the policy fields of the process's events
    const k2s = new KernelToSysFlow(0n, new IdNames());
    const exec = PROC_EVENTS_SAMPLE[0]!;
    const proc = { ...a.enrich!['process'] as ProcessEnrichment, pid: exec.hdr.pid, exe: '/usr/bin/curl', argv: ['curl', '-s'] };
    const objs = [...k2s.record(exec, { ...a.enrich, process: proc }), ...k2s.record(exec, { ...a.enrich, process: proc })];
    const kinds = objs.map((o) => o.type);
    assert.deepEqual(kinds.filter((t) => t === 'POD' || t === 'C'), ['POD', 'C'], 'each entity once');
    assert.ok(kinds.indexOf('POD') < kinds.indexOf('C'));
    const podObj = objs.find((o) => o.type === 'POD')!.rec as Pod;
    assert.deepEqual({ ...podObj, ts: 0n }, { ts: 0n, id: UID, name: 'web', nodeName: '', hostIP: [], internalIP: [], namespace: 'prod', restartCount: 0n, labels: { app: 'web' }, selectors: {}, services: [] });
    assert.equal(podObj.ts, exec.hdr.ts, 'first seen at the record (boot-to-real offset 0 here)');
    assert.equal((objs.find((o) => o.type === 'C')!.rec as Container).podId, UID);
    const pe = [...viewsOf(objs)].find((v) => v.type === 'PE')!;
    const get = (n: string) => lookupField(n)!.get(pe);
    assert.deepEqual([get('sf.pod.name'), get('k8s.ns.name'), get('sf.pod.id'), get('sf.container.name')], ['web', 'prod', UID, 'web-1']);
    // cached: a second record makes no call
    const b = mk(`0::/kubepods/besteffort/pod${UID}/${ID}\n`);
    await stage.process([b]);
    assert.equal(calls, 1);
    // unknown to the API: id and runtime only
    const other = 'b'.repeat(64);
    const c = mk(`0::/docker/${other}\n`);
    await stage.process([c]);
    assert.deepEqual(c.enrich!['container'], { id: other, shortId: 'bbbbbbbbbbbb', runtime: 'docker', metadata: 'none' });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a slow API: the record leaves after the wait with metadata pending; a later record has it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-api-'));
  const sock = path.join(dir, 'docker.sock');
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const server = createServer((_req, res) => {
    void gate.then(() => {
      res.writeHead(200);
      res.end(JSON.stringify({ Name: '/slow', Image: 'sha256:1', Config: { Image: 'busybox' }, HostConfig: { Privileged: false } }));
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    const stage = new ContainerStage({ criSockets: [], sockets: [sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 50 });
    const mk = (): Envelope => ({ kind: 'file', rec: {}, enrich: { process: { ...entryFor(1, 0n), cgroup: `0::/docker/${ID}\n` } } });
    const first = mk();
    await stage.process([first]);
    assert.equal((first.enrich!['container'] as ContainerEnrichment).metadata, 'pending');
    release();
    // a later record has it once the answer is in (however long that takes here: bounded, polled)
    let later = mk();
    for (const t0 = Date.now(); Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 50))) {
      later = mk();
      await stage.process([later]);
      if ((later.enrich!['container'] as ContainerEnrichment).metadata !== 'pending') break;
    }
    const c = later.enrich!['container'] as ContainerEnrichment;
    assert.deepEqual([c.metadata, c.name, c.image], ['done', 'slow', 'busybox']);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
