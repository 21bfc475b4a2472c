// The test harnesses' port picker: distinct ports, outside the ephemeral range, bindable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { freePorts } from '../lib/ports.js';

test('freePorts: n distinct ports below the ephemeral range, each bindable after the call', async () => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  const ports = await freePorts(60, { udp: true });
  assert.equal(ports.length, 60);
  assert.equal(new Set(ports).size, 60);
  for (const p of ports) assert.ok(p >= 1024 && p < low, `${p} outside 1024..${low - 1}`);
  const servers = await Promise.all(ports.map((p) => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(p, '127.0.0.1', () => resolve(s));
  })));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

test('freePorts: ports that are taken are never returned', async () => {
  // 1000 of the ~20,000 candidates taken: a picker that did not check would hand back ~100 of
  // them among 2000.
  const taken = await freePorts(1000);
  const servers = await Promise.all(taken.map((p) => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(p, '127.0.0.1', () => resolve(s));
  })));
  try {
    const got = new Set(await freePorts(2000));
    assert.deepEqual(taken.filter((p) => got.has(p)), []);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
});
