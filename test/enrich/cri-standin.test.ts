// The CRI metadata client against a STAND-IN CRI server (grpc-js, in the test, built from the
// full upstream proto): CRI-O-shaped replies (no CRI-O in Debian), NOT_FOUND, a socket nobody
// listens on, a server that never answers, malformed and odd replies, a fuzzed reply parser,
// processes the test places in CRI-O/containerd-style cgroups resolved end to end through the
// container stage, and grpc-js loaded only when a CRI socket is used. The real containerd test
// is cri-containerd.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { CgroupIndex, ContainerStage, type ContainerEnrichment } from '../../src/enrich/containers.js';
import { parseVerboseInfo, podOfSandbox } from '../../src/enrich/cri-api.js';
import { enrichmentStages } from '../../src/enrich/stages.js';
import type { ProcessEnrichment } from '../../src/enrich/process-table.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { Rng } from '../policy/fuzz-lib.js';
import { criServer, grpcError, type Handler } from './cri-lib.js';

const run = promisify(execFile);
const hex = (c: string) => c.repeat(64);
const UID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const U_ = UID.replace(/-/g, '_');
const KUBE = { 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'prod', 'io.kubernetes.pod.uid': UID };

function entry(cgroup: string, cgroupId = 0n, pid = 4242): ProcessEnrichment {
  return { pid, ppid: 1, startNs: 1n, exe: '/usr/sbin/nginx', argv: ['nginx'], cwd: '/', tty: 0, loginUid: -1, sessionId: 0, uid: 0, gid: 0, cgroupId, cgroup, origin: 'seed', exited: false, ancestors: [] };
}
const rec = (cgroup: string, cgroupId = 0n, pid = 4242): Envelope => ({ kind: 'process', rec: {}, enrich: { process: entry(cgroup, cgroupId, pid) } });
const ct = (e: Envelope) => e.enrich!['container'] as ContainerEnrichment | undefined;

/** A CRI-O-shaped ContainerStatus reply (verbose: sandboxID, pid, privileged, runtimeSpec). */
function crioStatus(id: string, name: string, privileged: boolean): Record<string, unknown> {
  return {
    status: {
      id, metadata: { name, attempt: 0 }, state: 'CONTAINER_RUNNING', created_at: '1700000000000000000',
      image: { image: 'registry.example/web:1.0', annotations: {}, user_specified_image: '' },
      image_ref: 'registry.example/web@sha256:' + hex('c'), image_id: 'sha256:' + hex('d'),
      labels: { ...KUBE, 'io.kubernetes.container.name': name }, annotations: { 'io.kubernetes.container.restartCount': '2' },
    },
    info: { info: JSON.stringify({ sandboxID: 'sb-1', pid: 4242, privileged, runtimeSpec: { ociVersion: '1.0.2', annotations: { 'io.kubernetes.cri-o.SandboxID': 'sb-1' } } }) },
  };
}
const SANDBOX = { status: { id: 'sb-1', metadata: { name: 'web', uid: UID, namespace: 'prod', attempt: 0 }, state: 'SANDBOX_READY', labels: { ...KUBE, app: 'web', 'pod-template-hash': '7d9f' }, annotations: { 'kubernetes.io/config.seen': 'x' } } };

async function withServer(handlers: Record<string, Handler>, body: (sock: string, calls: Record<string, number>, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-cri-standin-'));
  const sock = path.join(dir, 'crio.sock');
  const srv = await criServer(sock, handlers);
  try { await body(sock, srv.calls, dir); } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('CRI stand-in (CRI-O-shaped replies): name, image, image ref, privileged, labels, annotations and the pod from its sandbox, mapped exactly; cached per id and per pod', async () => {
  const A = hex('a'), B = hex('b');
  await withServer({
    Version: () => ({ version: '0.1.0', runtime_name: 'cri-o', runtime_version: '1.29.0', runtime_api_version: 'v1' }),
    ContainerStatus: (r) => (r['container_id'] === A ? crioStatus(A, 'nginx', true) : r['container_id'] === B ? crioStatus(B, 'sidecar', false) : grpcError(status.NOT_FOUND, 'no such container')),
    PodSandboxStatus: (r) => (r['pod_sandbox_id'] === 'sb-1' ? SANDBOX : grpcError(status.NOT_FOUND, 'no such sandbox')),
  }, async (sock, calls) => {
    const stage = new ContainerStage({ sockets: [], criSockets: [sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000 });
    // CRI-O's systemd path, and a bare-id cgroupfs path the cgroup alone would call containerd
    const a = rec(`0::/kubepods.slice/kubepods-pod${U_}.slice/crio-${A}.scope\n`);
    const b = rec(`0::/kubepods/pod${UID}/${B}\n`);
    await stage.process([a, b]);
    assert.deepEqual(ct(a), {
      id: A, shortId: A.slice(0, 12), runtime: 'cri-o', name: 'nginx', image: 'registry.example/web:1.0', imageId: 'registry.example/web@sha256:' + hex('c'),
      privileged: true, labels: { ...KUBE, 'io.kubernetes.container.name': 'nginx' }, annotations: { 'io.kubernetes.container.restartCount': '2' },
      pod: { name: 'web', namespace: 'prod', uid: UID, labels: { app: 'web', 'pod-template-hash': '7d9f' } }, metadata: 'done',
    } satisfies ContainerEnrichment);
    assert.deepEqual([ct(b)!.runtime, ct(b)!.name, ct(b)!.privileged, ct(b)!.pod?.name], ['cri-o', 'sidecar', false, 'web']);
    assert.deepEqual(calls, { ContainerStatus: 2, Version: 1, PodSandboxStatus: 1 });
    await stage.process([rec(`0::/kubepods/pod${UID}/${B}\n`), rec(`0::/crio-${A}.scope\n`)]);
    assert.deepEqual(calls, { ContainerStatus: 2, Version: 1, PodSandboxStatus: 1 });
    stage.close();
  });
});

test('CRI stand-in: an unknown container (NOT_FOUND) gets no metadata and is remembered as such', async () => {
  await withServer({ ContainerStatus: () => grpcError(status.NOT_FOUND, 'container not found') }, async (sock, calls) => {
    const X = hex('9');
    const stage = new ContainerStage({ sockets: [], criSockets: [sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000 });
    const a = rec(`0::/system.slice/cri-containerd-${X}.scope\n`);
    await stage.process([a]);
    assert.deepEqual(ct(a), { id: X, shortId: X.slice(0, 12), runtime: 'containerd', metadata: 'none' });
    await stage.process([rec(`0::/system.slice/cri-containerd-${X}.scope\n`)]);
    assert.equal(calls['ContainerStatus'], 1, 'the negative answer is cached');
    stage.close();
    // once the negative answer is older than its TTL it is asked again
    const again = new ContainerStage({ sockets: [], criSockets: [sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000, negativeTtlMs: 1000 });
    await again.process([rec(`0::/default/${X}\n`)]);
    await again.process([rec(`0::/default/${X}\n`)]);
    assert.equal(calls['ContainerStatus'], 2);
    await new Promise((r) => setTimeout(r, 1100));
    await again.process([rec(`0::/default/${X}\n`)]);
    assert.equal(calls['ContainerStatus'], 3);
    again.close();
  });
});

test('CRI socket nobody listens on, and a server that never answers: no metadata, and a record never waits for the call', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-cri-dead-'));
  const stale = path.join(dir, 'stale.sock');
  const silent = path.join(dir, 'silent.sock');
  // a socket file left by a runtime that is gone: bound, never listening (connect is refused)
  await run('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stale]);
  assert.ok(existsSync(stale));
  // a server that accepts and never says anything (no HTTP/2 settings, no reply)
  const conns: Socket[] = [];
  const hole = createNetServer((c) => { conns.push(c); c.on('error', () => {}); });
  await new Promise<void>((r) => hole.listen(silent, r));
  try {
    for (const [label, sock] of [['refused', stale], ['silent', silent]] as const) {
      const id = label === 'refused' ? hex('1') : hex('2');
      // the silent server's call could only end at its deadline, 10 min away: a record that came
      // back without its metadata did not wait for the call (an order, not a duration, so a slow
      // machine cannot fail it); the test ends the call by closing the server's side
      const stage = new ContainerStage({ sockets: [], criSockets: [sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 100, apiTimeoutMs: 600_000 });
      const t0 = Date.now();
      const a = rec(`0::/kubepods/pod${UID}/crio-${id}\n`);
      await stage.process([a]);
      t.diagnostic(`${label}: the record waited ${Date.now() - t0} ms (bound 100 ms)`);
      assert.equal(ct(a)!.id, id);
      if (label === 'silent') {
        assert.equal(ct(a)!.metadata, 'pending', 'the record came back while the call was outstanding');
        // the call's connection may reach the server after the record left (a slow machine)
        for (const until = Date.now() + 30_000; conns.length === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
        assert.ok(conns.length >= 1, 'the call reached the server');
        for (const c of conns) c.destroy();
      } else {
        assert.ok(['pending', 'none'].includes(ct(a)!.metadata), label); // refused at once: either
      }
      // after the call ended (refused at once; silent once its connection is closed): no metadata
      const until = Date.now() + 30_000;
      for (;;) {
        const later = rec(`0::/kubepods/pod${UID}/crio-${id}\n`);
        await stage.process([later]);
        if (ct(later)!.metadata === 'none' || Date.now() > until) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const last = rec(`0::/kubepods/pod${UID}/crio-${id}\n`);
      await stage.process([last]);
      assert.deepEqual(ct(last), { id, shortId: id.slice(0, 12), runtime: 'cri-o', metadata: 'none' }, label);
      assert.equal(stage.stats.apiCalls, 1, `${label}: asked once, the failure is remembered`);
      stage.close();
    }
  } finally {
    for (const c of conns) c.destroy();
    hole.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CRI stand-in: malformed and odd replies are handled without a crash', async () => {
  const ids = { noStatus: hex('3'), otherId: hex('4'), badInfo: hex('5'), arrayInfo: hex('6'), bare: hex('7'), internal: hex('8'), sandboxDown: hex('e') };
  await withServer({
    Version: () => grpcError(status.UNIMPLEMENTED, 'no'),
    PodSandboxStatus: () => grpcError(status.INTERNAL, 'sandbox store broken'),
    ContainerStatus: (r) => {
      const id = String(r['container_id']);
      if (id === ids.noStatus) return { info: { info: '{}' } };
      if (id === ids.otherId) return { status: { id: hex('f'), metadata: { name: 'someone-else' } } };
      if (id === ids.badInfo) return { status: { id, metadata: { name: 'x' }, labels: { a: 'b' } }, info: { info: '{"sandboxID": "sb-', privileged: 'true' } };
      if (id === ids.arrayInfo) return { status: { id, metadata: { name: 'y' } }, info: { info: '[1,2,3]' } };
      if (id === ids.bare) return { status: { id: '' } };
      if (id === ids.internal) return grpcError(status.INTERNAL, 'boom');
      if (id === ids.sandboxDown) return { status: { id, metadata: { name: 'z' }, labels: { ...KUBE, team: 'blue' } }, info: { info: JSON.stringify({ sandboxID: 'sb-9', pid: 'not a number', config: { linux: { security_context: {} } } }) } };
      return grpcError(status.NOT_FOUND, 'no');
    },
  }, async (sock) => {
    const stage = new ContainerStage({ sockets: [], criSockets: [sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000 });
    const envs = Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, rec(`0::/kubepods/pod${UID}/${id}\n`)]));
    await stage.process(Object.values(envs));
    const got = (k: keyof typeof ids) => ct(envs[k]!)!;
    const none = (k: keyof typeof ids) => ({ id: ids[k], shortId: ids[k].slice(0, 12), runtime: 'containerd', metadata: 'none' });
    assert.deepEqual(got('noStatus'), none('noStatus'), 'no status: no answer');
    assert.deepEqual(got('otherId'), none('otherId'), 'a status about another container is no answer');
    assert.deepEqual(got('internal'), none('internal'));
    // what is there is used; privileged is left out when the reply does not tell
    assert.deepEqual(got('badInfo'), { id: ids.badInfo, shortId: ids.badInfo.slice(0, 12), runtime: 'containerd', name: 'x', image: '', imageId: '', labels: { a: 'b' }, annotations: {}, metadata: 'done' });
    assert.deepEqual([got('arrayInfo').name, got('arrayInfo').privileged, got('arrayInfo').metadata], ['y', undefined, 'done']);
    assert.deepEqual([got('bare').name, got('bare').image, got('bare').labels, got('bare').metadata], ['', '', {}, 'done']);
    // the sandbox cannot be asked: the pod comes from the container's own io.kubernetes.* labels;
    // containerd's echoed config with an empty security context means not privileged
    assert.deepEqual([got('sandboxDown').privileged, got('sandboxDown').pod], [false, { name: 'web', namespace: 'prod', uid: UID, labels: { team: 'blue' } }]);
    stage.close();
  });
  // not a gRPC server at all: an HTTP/1.1 server (a docker API) on the CRI socket
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-cri-http-'));
  const sock = path.join(dir, 'docker.sock');
  const http = createHttpServer((_q, s) => { s.writeHead(200); s.end('{}'); });
  await new Promise<void>((r) => http.listen(sock, r));
  try {
    const stage = new ContainerStage({ sockets: [], criSockets: [sock], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000, apiTimeoutMs: 2000 });
    const a = rec(`0::/kubepods/pod${UID}/${hex('a')}\n`);
    await stage.process([a]);
    assert.deepEqual([ct(a)!.id, ct(a)!.metadata], [hex('a'), 'none']);
    stage.close();
  } finally {
    http.closeAllConnections();
    http.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz: CRI verbose info and sandbox parsers never throw', () => {
  const rng = new Rng(15);
  const parts = ['{', '}', '[', ']', '"sandboxID"', '"privileged"', '"pid"', '"config"', '"linux"', '"security_context"', ':', ',', 'true', 'false', 'null', '1', '-1', '1.5', '"x"', '{}'];
  for (let i = 0; i < 5000; i++) {
    let s = '';
    for (let j = rng.int(16); j > 0; j--) s += rng.pick(parts);
    const v = parseVerboseInfo({ info: s });
    if (v) {
      assert.ok(v.privileged === undefined || typeof v.privileged === 'boolean', s);
      assert.ok(v.pid === undefined || (Number.isInteger(v.pid) && v.pid > 0), s);
      assert.ok(v.sandboxId === undefined || (typeof v.sandboxId === 'string' && v.sandboxId.length > 0), s);
    }
    let j: unknown;
    try { j = JSON.parse(s); } catch { j = s; }
    const pod = podOfSandbox({ metadata: j, labels: j });
    if (pod) assert.ok(typeof pod.name === 'string' && pod.name.length > 0 && typeof pod.namespace === 'string' && typeof pod.uid === 'string');
  }
  assert.equal(parseVerboseInfo({}), undefined);
  assert.deepEqual(parseVerboseInfo({ info: '{"sandboxID":"s","pid":7,"privileged":true}' }), { sandboxId: 's', pid: 7, privileged: true });
  assert.deepEqual(parseVerboseInfo({ info: '{"config":{"linux":{"security_context":{"privileged":true}}}}' }), { privileged: true });
});

// ---- processes the test places in runtime-style cgroups ------------------------------------

const V2 = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : undefined;
const V1 = '/sys/fs/cgroup/pids';
const placeSkip = process.geteuid?.() !== 0 ? 'needs root' : !V2 ? 'needs a cgroup v2 hierarchy' : false;

test('processes placed in CRI-O- and containerd-style cgroups resolve to their id, then their CRI metadata, through the container stage (stand-in CRI server)', { skip: placeSkip }, async () => {
  const C = hex('c'), D = hex('d');
  await withServer({
    Version: () => ({ runtime_name: 'containerd' }),
    ContainerStatus: (r) => (r['container_id'] === C || r['container_id'] === D ? crioStatus(String(r['container_id']), r['container_id'] === C ? 'placed-v2' : 'placed-v1', false) : grpcError(status.NOT_FOUND, 'no')),
    PodSandboxStatus: () => SANDBOX,
  }, async (sock) => {
    const cases: Array<{ label: string; root: string; rel: string; id: string; name: string; v2: boolean }> = [
      { label: 'CRI-O v2 (systemd) via the cgroup id', root: V2!, rel: `falconet-cri-${process.pid}/kubepods.slice/kubepods-pod${U_}.slice/crio-${C}.scope`, id: C, name: 'placed-v2', v2: true },
    ];
    if (V2 !== '/sys/fs/cgroup' && existsSync(`${V1}/cgroup.procs`)) {
      cases.push({ label: 'containerd v1 (cgroupfs) via /proc', root: V1, rel: `falconet-cri-${process.pid}/kubepods/besteffort/pod${UID}/${D}`, id: D, name: 'placed-v1', v2: false });
    }
    for (const c of cases) {
      const child = spawn('sleep', ['60'], { stdio: 'ignore' });
      await new Promise((r) => child.once('spawn', r));
      const pid = child.pid!;
      const dir = path.join(c.root, c.rel);
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
        assert.ok(readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(c.rel), c.label);
        const cgroupId = c.v2 ? statSync(dir, { bigint: true }).ino : statSync(V2!, { bigint: true }).ino;
        const stage = new ContainerStage({ sockets: [], criSockets: [sock], cgroupIndex: new CgroupIndex(V2, 0), procFallback: !c.v2, waitMs: 30000 });
        await stage.start();
        const e = rec('', cgroupId, pid);
        await stage.process([e]);
        const got = ct(e)!;
        // the runtime the socket names (containerd) over the path's guess (CRI-O for crio-…)
        assert.deepEqual([got.id, got.runtime, got.name, got.privileged, got.pod?.uid, got.metadata], [c.id, 'containerd', c.name, false, UID, 'done'], c.label);
        assert.equal(stage.stats.procCgroupReads, c.v2 ? 0 : 1, c.label);
        stage.close();
      } finally {
        try { writeFileSync(`${c.root}/cgroup.procs`, String(pid)); } catch { /* exited */ }
        child.kill('SIGKILL');
        await new Promise((r) => child.once('close', r));
        const parts = c.rel.split('/');
        for (let i = parts.length; i > 0; i--) try { rmdirSync(path.join(c.root, ...parts.slice(0, i))); } catch { /* */ }
      }
    }
  });
});

test('grpc-js is loaded only when a CRI socket is asked', async () => {
  const containers = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/enrich/containers.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'falconet-cri-lazy-'));
  const sock = path.join(dir, 'crio.sock');
  const srv = await criServer(sock, { ContainerStatus: () => grpcError(status.NOT_FOUND, 'no') });
  try {
    const script = `
      import { createRequire } from 'node:module';
      const { ContainerStage, CgroupIndex } = await import(${JSON.stringify(containers)});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@grpc'));
      const stage = new ContainerStage({ sockets: [], criSockets: [process.argv[1]], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000 });
      const rec = (id) => ({ kind: 'process', rec: {}, enrich: { process: { pid: 1, startNs: 1n, cgroupId: 0n, cgroup: '0::/kubepods/' + id + '\\n', exited: false } } });
      const before = loaded();
      await stage.process([rec('${hex('a')}')]);
      stage.close();
      console.log(JSON.stringify({ before, after: loaded(), calls: stage.stats.apiCalls }));`;
    const out = async (socketArg: string) => JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script, socketArg])).stdout) as { before: boolean; after: boolean; calls: number };
    assert.deepEqual(await out(path.join(dir, 'absent.sock')), { before: false, after: false, calls: 0 });
    assert.deepEqual(await out(sock), { before: false, after: true, calls: 1 });
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--cri-socket and containers.cri_sockets: the CLI flag reaches pipeline.json, the setting picks the sockets ("" / none: no CRI)', async () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/falconet');
  const tree = async (...a: string[]) => (JSON.parse((await run(process.execPath, [bin, '--print-pipeline', '--containers', ...a])).stdout) as { pipeline: Array<Record<string, string>> }).pipeline[0]!;
  assert.equal((await tree('--cri-socket', '/a.sock', '--cri-socket', '/b.sock'))['containers.cri_sockets'], '/a.sock /b.sock');
  assert.equal((await tree('--cri-socket', 'none'))['containers.cri_sockets'], '');
  assert.equal((await tree())['containers.cri_sockets'], undefined, 'default sockets');
  await withServer({ ContainerStatus: () => grpcError(status.NOT_FOUND, 'no') }, async (sock, calls) => {
    for (const [setting, want] of [[sock, 1], ['', 1]] as const) {
      const stage = enrichmentStages({ containers: 'on', 'containers.sockets': '', 'containers.cri_sockets': setting }).find((s) => s.name === 'containers')!;
      await stage.process([rec(`0::/kubepods/pod${UID}/${hex('b')}\n`)]);
      await stage.close?.();
      assert.equal(calls['ContainerStatus'], want, `containers.cri_sockets "${setting}"`);
    }
  });
});

test('grpc-js failing to load costs the metadata, not the record, and is logged once', async () => {
  const containers = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/enrich/containers.js');
  await withServer({ ContainerStatus: () => grpcError(status.NOT_FOUND, 'no') }, async (sock, calls) => {
    // a resolve hook that makes @grpc/proto-loader unresolvable, as in a broken install
    const hooks = `export async function resolve(s, c, next) { if (s === '@grpc/proto-loader') throw new Error('Cannot find package @grpc/proto-loader (test)'); return next(s, c); }`;
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));
      const { ContainerStage, CgroupIndex } = await import(${JSON.stringify(containers)});
      const logs = [];
      const stage = new ContainerStage({ sockets: [], criSockets: [process.argv[1]], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false, waitMs: 30000 });
      await stage.start({ log: (t) => logs.push(t) });
      const rec = (id) => ({ kind: 'process', rec: {}, enrich: { process: { pid: 1, startNs: 1n, cgroupId: 0n, cgroup: '0::/kubepods/' + id + '\\n', exited: false } } });
      const out = [];
      for (const id of ['${hex('a')}', '${hex('b')}']) { const r = rec(id); await stage.process([r]); out.push(r.enrich.container.metadata); }
      stage.close();
      console.log(JSON.stringify({ out, logs }));`;
    const r = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script, sock])).stdout) as { out: string[]; logs: string[] };
    assert.deepEqual(r.out, ['none', 'none']);
    assert.deepEqual(r.logs, [`containers: ${sock}: Cannot find package @grpc/proto-loader (test)`]);
    assert.equal(calls['ContainerStatus'], undefined, 'nothing reached the server');
  });
});
