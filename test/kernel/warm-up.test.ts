// The sensor's warm-up (bpf/warm.bpf.h, sensor/warm.c): before attaching, it touches every page
// of the ring buffer and of the large slot arrays through the kernel's addresses, so that the
// hooks do not pay each page's first touch (~10 µs on our kind of guest). Its hello says what it
// warmed; the samples it made are discarded, so no record comes of them (every exact-count
// kernel test runs behind a warmed ring as well).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sensorHello, skipUnlessBpf } from './harness.js';
import { MON_FILE, MON_PROCESS, MON_SOCKET } from '../../src/sensor/layout.js';

const skip = skipUnlessBpf();

test('the sensor warms every page of its ring, and the slot arrays of its monitors', { skip }, async () => {
  const all = await sensorHello(['--monitors', String(MON_FILE | MON_SOCKET | MON_PROCESS), '--ringbuf-mb', '2']);
  assert.ok(all.includes('warm-up: 512 of 512 ring pages, process slots, file slots'), JSON.stringify(all));
  const sock = await sensorHello(['--monitors', String(MON_SOCKET), '--ringbuf-mb', '1']);
  assert.ok(sock.includes('warm-up: 256 of 256 ring pages'), JSON.stringify(sock));
});
