// Kernel e2e (root + BPF; under `flock /tmp/falconet-kernel.lock`): -d as kflowd's daemon mode.
// The command returns once the sensor is attached, the agent keeps running detached and
// delivers to its sink; -d without a destination is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, skipUnlessBpf } from '../kernel/harness.js';

const BIN = path.join(REPO, 'bin/falconet');
const skip = skipUnlessBpf();

test('-d returns once the sensor is ready; the daemon delivers to its sink and ends with --duration', { skip }, async () => {
  const refused = spawnSync(process.execPath, [BIN, '-d', '-m', 'file'], { encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /-d needs a destination/);
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-daemon-'));
  const out = path.join(dir, 'records.jsonl');
  // the daemon keeps the command's stdout and stderr (daemon(1,1)): wait for the command's exit,
  // not for the end of its output
  const cmd = spawn(process.execPath, [BIN, '-d', '-m', 'file', '-o', 'json-min', '--sink', `file://${out}`, '--duration', '5'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  cmd.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((res) => cmd.on('exit', (c) => res(c)));
  assert.equal(code, 0, stderr);
  await new Promise((res) => setTimeout(res, 100));
  const m = /running in the background, pid (\d+)/.exec(stderr);
  assert.ok(m, stderr);
  cmd.stderr.destroy();
  const pid = Number(m[1]);
  assert.ok(existsSync(`/proc/${pid}`), 'the daemon runs after the command returned');
  const target = path.join(dir, 'written-by-test.txt');
  await new Promise((res) => setTimeout(res, 1000));
  // a separate process (the agent ignores its parent's own file events, as kflowd ignores its shell)
  assert.equal(spawnSync('sh', ['-c', `echo x > '${target}'`]).status, 0);
  for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await new Promise((res) => setTimeout(res, 100));
  assert.ok(!existsSync(`/proc/${pid}`), 'the daemon ended after --duration');
  const recs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { FilePath: string; File: string });
  assert.ok(recs.some((x) => x.FilePath === dir + '/' && x.File === 'written-by-test.txt'), 'the workload\'s record reached the sink');
});
