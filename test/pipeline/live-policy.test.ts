// Kernel e2e (root + BPF; run under `flock /tmp/falconet-kernel.lock`): live kernel records are
// evaluated by the shipped runtimeintegrity policies through a pipeline.json (--config): kernel
// records → flattener → policyengine → two exporters (SysFlow JSON on stdout, Falco JSON to a
// file sink). A process that spawns a shell matches "Suspicious process spawned"; its alert
// (carrying the shell's pid) must reach stdout while the agent runs: from the live record, not a
// shutdown flush. The latency from the exec is printed (80–200 ms here), not bounded: a bound in
// wall time would fail on a slow machine, not on a slow agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, skipUnlessBpf } from '../kernel/harness.js';

const RULES = path.join(process.env.FALCONET_SHARED ?? '/work/shared', 'data/sysflow/policies/runtimeintegrity');
const skip = skipUnlessBpf();

// python3 (not a shell) spawns /bin/sh; it prints the shell's pid and the wall clock taken just
// before the fork and exec.
const WORKLOAD = `
import subprocess, time
t0 = time.time_ns()
p = subprocess.Popen(['/bin/sh', '-c', 'exit 0'])
print(p.pid, t0, flush=True)
p.wait()
`;

interface SfAlert { opflags: string[]; proc: { pid: number; exe: string }; pproc: { exe: string }; policies?: { id: string }[] }

test('live policies: a shell spawned by python3 raises "Suspicious process spawned" while the agent runs', { skip }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-live-policy-'));
  const falco = path.join(dir, 'falco.jsonl');
  const cfg = path.join(dir, 'pipeline.json');
  writeFileSync(cfg, JSON.stringify({
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'kernel kernelchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: RULES, mode: 'alert' },
      { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format: 'json' },
      { processor: 'exporter', in: 'evt eventchan', sink: `file://${falco}`, format: 'falco' },
    ],
  }));
  const agent = spawn(process.execPath, [path.join(REPO, 'bin/falconet'), '-m', 'process', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let buf = '';
  const alerts: { at: number; a: SfAlert }[] = [];
  let wanted = -1;
  let found: (() => void) | undefined;
  agent.stdout.setEncoding('utf8').on('data', (d: string) => {
    const now = Date.now();
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const a = JSON.parse(l) as SfAlert;
      alerts.push({ at: now, a });
      if (a.proc.pid === wanted && a.opflags.includes('EXEC')) found?.();
    }
  });
  const ready = new Promise<void>((resolve, reject) => {
    agent.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (stderr.includes('sensor ready')) resolve(); });
    agent.on('close', (c) => reject(new Error(`agent exited (${c}): ${stderr}`)));
  });
  const exited = new Promise<number | null>((r) => agent.on('close', (c) => r(c)));
  const killer = setTimeout(() => agent.kill('SIGKILL'), 120_000);
  try {
    await ready;
    const arrived = new Promise<void>((r) => { found = r; });
    const w = spawnSync('python3', ['-c', WORKLOAD], { encoding: 'utf8' });
    assert.equal(w.status, 0, w.stderr);
    const [pidText, t0Text] = w.stdout.trim().split(' ');
    wanted = Number(pidText);
    const t0Ms = Number(BigInt(t0Text!) / 1_000_000n);
    const early = alerts.find((x) => x.a.proc.pid === wanted && x.a.opflags.includes('EXEC'));
    if (!early) await Promise.race([arrived, new Promise((_, rej) => { setTimeout(() => rej(new Error(`no alert for pid ${wanted} within 60 s`)), 60_000).unref(); })]);
    const hit = alerts.find((x) => x.a.proc.pid === wanted && x.a.opflags.includes('EXEC'))!;
    const latency = hit.at - t0Ms;
    t.diagnostic(`alert latency from the exec to the alert line: ${latency} ms`);
    assert.match(path.basename(hit.a.proc.exe), /^(dash|bash|sh)$/);
    assert.match(path.basename(hit.a.pproc.exe), /^python3/);
    assert.ok(hit.a.policies?.some((p) => p.id === 'Suspicious process spawned'), JSON.stringify(hit.a.policies));
  } finally {
    clearTimeout(killer);
    agent.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  // the same alerts, in Falco's JSON, through a file sink
  const lines = readFileSync(falco, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rule: string; priority: string; source: string });
  assert.ok(lines.some((l) => l.rule === 'Suspicious process spawned' && l.source === 'syscall'));
});
