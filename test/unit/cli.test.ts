// CLI: flags are validated with clear messages; bad values never crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { parseDuration, parseEvents, parseMonitors, parseOutput, parseRelayBuffer, parseTimeouts, parseToken } from '../../src/cli/agent-options.js';
import { REPO } from '../kernel/harness.js';

const BIN = path.join(REPO, 'bin/falconet');
const run = (args: string[], opts: { uid?: number } = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20000, ...opts });

test('option parsers accept kflowd spellings', () => {
  assert.equal(parseMonitors('file'), 1);
  assert.equal(parseMonitors('f'), 1);
  assert.equal(parseOutput('json-min'), 'json-min');
  assert.equal(parseOutput('t'), 'table');
  assert.equal(parseOutput('json'), 'json');
  assert.equal(parseEvents('1'), 1);
  assert.deepEqual(parseTimeouts('15,1800'), { idle: 15, active: 1800 });
  assert.deepEqual(parseTimeouts('5'), { idle: 5, active: undefined });
  assert.equal(parseDuration('0.5'), 0.5);
  assert.equal(parseToken('x'.repeat(63)), 'x'.repeat(63));
  assert.equal(parseRelayBuffer('64KiB'), 65536);
  assert.equal(parseRelayBuffer('16m'), 16 << 20);
});

test('option parsers reject bad values with a message naming the value', () => {
  assert.throws(() => parseMonitors('disk'), /unknown monitor 'disk'/);
  assert.throws(() => parseOutput('xml'), /got 'xml'/);
  assert.throws(() => parseEvents('0'), /positive integer/);
  assert.throws(() => parseEvents('-3'), /got '-3'/);
  assert.throws(() => parseTimeouts('0,5'), /nonzero/);
  assert.throws(() => parseToken('x'.repeat(64)), /at most 63/);
  assert.throws(() => parseDuration('soon'), /got 'soon'/);
  assert.throws(() => parseRelayBuffer('65535'), /at least 64KiB \(e\.g\. 16MiB\), got '65535'/);
});

test('fuzz: random option values only ever raise InvalidArgumentError', () => {
  const parsers = [parseMonitors, parseOutput, parseEvents, parseTimeouts, parseToken, parseDuration, parseRelayBuffer];
  const alphabet = 'abcdefjmnorstx0123456789,-.: \u0000\u00ff\ud800日';
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let i = 0; i < 30000; i++) {
    let s = '';
    const len = rnd(12);
    for (let j = 0; j < len; j++) s += alphabet[rnd(alphabet.length)];
    for (const p of parsers) {
      try {
        p(s);
      } catch (e) {
        assert.ok(e instanceof InvalidArgumentError, `${p.name}(${JSON.stringify(s)}): ${(e as Error).stack}`);
      }
    }
  }
});

test('--help, --legend and --version work without root and exit 0', () => {
  const h = run(['--help']);
  assert.equal(h.status, 0);
  for (const flag of ['-m', '-e', '-o', '-q', '-V', '-T', '-l', '--duration', 'record', 'replay']) assert.ok(h.stdout.includes(flag), flag);
  const l = run(['-l']);
  assert.equal(l.status, 0);
  assert.match(l.stdout, /^Legend \(\d+ keys, \d+ subkeys\):/);
  assert.match(l.stdout, /FileEvents/);
  const v = run(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^falconet \d+\.\d+\.\d+ /);
});

test('bad flags fail with a clear message and a non-zero exit', () => {
  const r = run(['-m', 'disk']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown monitor 'disk'/);
  const p = run(['positional']);
  assert.notEqual(p.status, 0);
  assert.match(p.stderr, /unknown command|too many arguments/);
});

test('not root: one clear paragraph naming what is missing, exit 2', { skip: process.geteuid?.() !== 0 ? 'needs root to drop to nobody' : false }, () => {
  const r = run(['--duration', '1'], { uid: 65534 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot start its eBPF sensor: it must run as root/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
