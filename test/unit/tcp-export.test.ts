// The socket monitor's TCP export path as userspace sees it: the stats field, the startup line
// the kernel tests read, and the switch (--no-sk-iter, FALCONET_NO_SK_ITER) reaching the sensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeStats } from '../../src/sensor/decode.js';
import { STATS_FRAME, STATS_FRAME_V1_SIZE, STATS_FRAME_V2_SIZE, TCP_EXPORT } from '../../src/sensor/layout.js';
import { noSkIterFromEnv } from '../../src/sensor/source.js';
import { EXPORT_PATHS, refusalOf, tcpExportOf } from '../kernel/socket-paths.js';
import { REPO } from '../kernel/harness.js';
import { scratchDir } from '../lib/temp-dir.js';

function statsBody(size: number, tcpExport?: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeBigUInt64LE(42n, 0);
  if (size >= 168) b.writeBigUInt64LE(7n, 160); // file_map_entries
  if (tcpExport !== undefined) b.writeBigUInt64LE(BigInt(tcpExport), STATS_FRAME.fields.tcp_export![0]);
  return b;
}

test('stats: tcp_export decodes to the path name', () => {
  assert.deepEqual([...TCP_EXPORT], ['off', 'iterator', 'map-walk']);
  assert.equal(decodeStats(statsBody(STATS_FRAME.size, 0)).tcpExport, 'off');
  assert.equal(decodeStats(statsBody(STATS_FRAME.size, 1)).tcpExport, 'iterator');
  assert.equal(decodeStats(statsBody(STATS_FRAME.size, 2)).tcpExport, 'map-walk');
  assert.equal(decodeStats(statsBody(STATS_FRAME.size, 9)).tcpExport, 'unknown', 'a value this agent does not know');
  assert.equal(decodeStats(statsBody(STATS_FRAME.size, 2)).fileMapEntries, 7);
});

test('stats: frames recorded before tcp_export still decode (unknown path); shorter ones are an error', () => {
  assert.equal(STATS_FRAME_V2_SIZE, STATS_FRAME_V1_SIZE + 8);
  const old = decodeStats(statsBody(STATS_FRAME_V1_SIZE));
  assert.equal(old.tcpExport, 'unknown');
  assert.equal(old.fileMapEntries, 7);
  assert.equal(old.uxMarks, 0);
  assert.throws(() => decodeStats(statsBody(STATS_FRAME_V1_SIZE - 8), 99), /truncated stats frame/);
});

test('stats: frames recorded before ux_marks keep their path; ux_marks decodes', () => {
  assert.equal(STATS_FRAME.size, STATS_FRAME_V2_SIZE + 8);
  const v2 = decodeStats(statsBody(STATS_FRAME_V2_SIZE, 2));
  assert.deepEqual([v2.tcpExport, v2.uxMarks], ['map-walk', 0]);
  const b = statsBody(STATS_FRAME.size, 1);
  b.writeBigUInt64LE(3n, STATS_FRAME.fields['ux_marks']![0]);
  assert.deepEqual([decodeStats(b).tcpExport, decodeStats(b).uxMarks], ['iterator', 3]);
});

test('startup line: path and reason; a refused iterator is a skip of the iterator run only', () => {
  const refused = 'falconet: tcp_export: map-walk (iterator refused: EPERM)\nfalconet: sensor ready (5 programs attached, 0 skipped)\n';
  assert.deepEqual(tcpExportOf(refused), { path: 'map-walk', why: 'iterator refused: EPERM' });
  assert.deepEqual(tcpExportOf('falconet: tcp_export: iterator\n'), { path: 'iterator' });
  assert.deepEqual(tcpExportOf('x\nfalconet: tcp_export: map-walk (forced: --no-sk-iter)\n'), { path: 'map-walk', why: 'forced: --no-sk-iter' });
  assert.equal(tcpExportOf('falconet: sensor ready (5 programs attached, 0 skipped)\n'), undefined);
  const [iter, walk] = EXPORT_PATHS;
  assert.match(refusalOf(iter!, refused)!, /refuses the TCP export iterator .*iterator refused: EPERM/);
  assert.match(refusalOf(iter!, 'falconet: tcp_export: map-walk (iterator refused at attach: EPERM)\n')!, /at attach: EPERM/);
  assert.equal(refusalOf(walk!, refused), undefined, 'the map-walk run is never skipped for it');
  assert.equal(refusalOf(iter!, 'falconet: tcp_export: iterator\n'), undefined);
  assert.equal(refusalOf(iter!, 'falconet: tcp_export: map-walk (forced: --no-sk-iter)\n'), undefined, 'forced is not refused');
});

test('FALCONET_NO_SK_ITER: set and not 0 forces the map walk', () => {
  assert.equal(noSkIterFromEnv({}), false);
  assert.equal(noSkIterFromEnv({ FALCONET_NO_SK_ITER: '' }), false);
  assert.equal(noSkIterFromEnv({ FALCONET_NO_SK_ITER: '0' }), false);
  assert.equal(noSkIterFromEnv({ FALCONET_NO_SK_ITER: '1' }), true);
  assert.equal(noSkIterFromEnv({ FALCONET_NO_SK_ITER: 'yes' }), true);
});

/** Runs bin/falconet with a stand-in sensor that records its argv and exits; the agent then
 * fails (no hello), which is fine: only the sensor's arguments are checked. */
function sensorArgs(agentArgs: string[], env: Record<string, string>): string[] {
  const dir = scratchDir('fn-fake-sensor-');
  const fake = path.join(dir, 'sensor');
  writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" "env=$FALCONET_NO_SK_ITER" > "${dir}/argv"\nexit 3\n`);
  chmodSync(fake, 0o755);
  spawnSync(process.execPath, [path.join(REPO, 'bin/falconet'), '-m', 'socket', '-o', 'json-min', ...agentArgs],
    { env: { ...process.env, FALCONET_NO_SK_ITER: '', ...env, FALCONET_SENSOR: fake }, encoding: 'utf8', timeout: 30000 });
  assert.ok(existsSync(`${dir}/argv`), 'the stand-in sensor was started');
  return readFileSync(`${dir}/argv`, 'utf8').trim().split('\n');
}

const agentCanStart = process.geteuid?.() === 0 && existsSync('/sys/kernel/btf/vmlinux') &&
  (existsSync('/sys/kernel/tracing/events') || existsSync('/sys/kernel/debug/tracing/events'));

test('--no-sk-iter reaches the sensor; FALCONET_NO_SK_ITER reaches it in its environment', {
  skip: agentCanStart ? false : 'the agent checks for root, BTF and tracefs before it starts a sensor',
}, () => {
  const plain = sensorArgs([], {});
  assert.ok(!plain.includes('--no-sk-iter'), 'not by default');
  assert.equal(plain.at(-1), 'env=');
  assert.ok(sensorArgs(['--no-sk-iter'], {}).includes('--no-sk-iter'), 'the option');
  // the sensor reads the variable itself (kernel test: "the sensor itself reads FALCONET_NO_SK_ITER=1")
  assert.equal(sensorArgs([], { FALCONET_NO_SK_ITER: '1' }).at(-1), 'env=1');
});
