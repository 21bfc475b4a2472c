// Interfaces created after start (container veths) are named: an unknown ifindex re-scans at
// once, even right after another scan; an index that stays unknown re-scans only after the
// interval. A fixture /sys/class/net tree covers the re-scan rules; a real veth pair (down,
// without addresses, so nothing else on the host notices it) checks the real sysfs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Interfaces } from '../../src/enrich/interfaces.js';

function addIf(root: string, name: string, index: number, mac: string): void {
  mkdirSync(path.join(root, name));
  writeFileSync(path.join(root, name, 'ifindex'), `${index}\n`);
  writeFileSync(path.join(root, name, 'address'), `${mac}\n`);
}

test('a veth created after the last scan is named on its first record', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'falconet-net-'));
  try {
    addIf(root, 'lo', 1, '00:00:00:00:00:00');
    const ifs = new Interfaces(root, 3_600_000); // the interval never passes in this test
    assert.equal(ifs.describe(1), '1:lo:00:00:00:00:00:00');
    assert.equal(ifs.describe(7), '7::'); // unknown: scanned, still unknown
    addIf(root, 'veth1a2b3c', 8, '4a:3b:2c:1d:0e:ff');
    assert.equal(ifs.describe(8), '8:veth1a2b3c:4a:3b:2c:1d:0e:ff', 'new index re-scans at once');
    addIf(root, 'veth7', 7, '02:00:00:00:00:07');
    // 7 was missed by the scan that found 8? No: that scan cleared the misses, so 7 re-scans too
    assert.equal(ifs.describe(7), '7:veth7:02:00:00:00:00:07');
    assert.equal(ifs.describe(10), '10::');
    addIf(root, 'ten', 10, '02:00:00:00:00:10');
    // 10 was missed by the latest scan: asking again within the interval does not re-scan
    assert.equal(ifs.describe(10), '10::');
    // a different new index does, and finds both
    addIf(root, 'late', 9, '02:00:00:00:00:09');
    assert.equal(ifs.describe(9), '9:late:02:00:00:00:00:09');
    assert.equal(ifs.describe(10), '10:ten:02:00:00:00:00:10');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a real veth pair created after the first scan is named by its index (root; the pair stays down, no addresses)', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const tag = `${process.pid % 100000}`;
  const [a, b] = [`fnifa${tag}`, `fnifb${tag}`];
  const ifs = new Interfaces(undefined, 3_600_000);
  assert.equal(ifs.describe(1).split(':')[1], 'lo'); // the first scan
  execFileSync('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  try {
    const index = Number(readFileSync(`/sys/class/net/${a}/ifindex`, 'utf8'));
    const mac = readFileSync(`/sys/class/net/${a}/address`, 'utf8').trim();
    assert.equal(ifs.describe(index), `${index}:${a}:${mac}`);
    const peer = Number(readFileSync(`/sys/class/net/${b}/ifindex`, 'utf8'));
    assert.equal(ifs.describe(peer).split(':')[1], b);
  } finally {
    execFileSync('ip', ['link', 'del', a]);
  }
});
