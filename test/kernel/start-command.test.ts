// The README's run command, exactly as a user types it: `npm start -- -o json-min`. Its stdout
// must be records only (pipeable into jq or a file), and a start with nothing changed must skip
// every build step (the TypeScript build alone cost ~12 s per start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { REPO, skipUnlessBpf } from './harness.js';

const skip = skipUnlessBpf();

test('setup with nothing changed runs no build step', { skip }, () => {
  const r = spawnSync('bash', ['scripts/setup.sh'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // each build step logs "[setup] <step>" when it runs
  assert.deepEqual(r.stderr.split('\n').filter((l) => l.startsWith('[setup]')), []);
  assert.equal(r.stdout, '');
});

test('npm start -- -o json-min writes only records on stdout', { skip }, async () => {
  const child = spawn('npm', ['start', '--', '-o', 'json-min', '-m', 'file', '--duration', '2'], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  let worked = false;
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    // a known workload once monitoring runs (--duration counts from then): one file record
    if (!worked && stderr.includes('sensor ready')) {
      worked = true;
      spawnSync('sh', ['-c', 'f=$(mktemp); echo abc > "$f"; rm "$f"']);
    }
  });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /sensor ready/);
  const lines = stdout.split('\n');
  assert.equal(lines.pop(), '', 'stdout ends with a newline');
  assert.ok(lines.length > 0, 'some records');
  for (const [i, l] of lines.entries()) {
    let rec: unknown;
    assert.doesNotThrow(() => { rec = JSON.parse(l); }, `stdout line ${i + 1} is not JSON: ${l.slice(0, 80)}`);
    assert.equal(typeof (rec as Record<string, unknown>).InfoSequenceNumber, 'number', `line ${i + 1} is a record`);
  }
});

// A program the verifier rejects is skipped with a startup line, and the agent runs on: each
// missing capability must be a named fallback, never a rejection on the kernel we build for.
// Both TCP export paths (the iterator's copy of the packet hooks and the map walk's).
for (const args of [[], ['--no-sk-iter']]) {
  test(`every program passes this kernel's verifier, all monitors ${args.join(' ') || '(default path)'}`, { skip }, () => {
    const r = spawnSync(process.execPath, [`${REPO}/bin/falconet`, '-o', 'json-min', '-q', '--sink', 'file:///dev/null', '--duration', '0.2', ...args],
      { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /sensor ready \(\d+ programs attached/);
    assert.doesNotMatch(r.stderr, /REJECTED|rejected by this kernel/);
  });
}
