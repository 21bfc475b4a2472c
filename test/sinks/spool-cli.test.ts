// `falconet spool inspect` and `falconet spool verify` on real spools: what they hold (records,
// id ranges, cursors with pending counts) and damage (a torn tail: verify exits 1, the next
// open repairs it and verify is clean again).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spool } from '../../src/sinks/spool.js';
import { items, tempDir } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/falconet', import.meta.url));
const cli = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

describe('falconet spool inspect / verify', () => {
  it('shows segments, ids and cursors; verify finds a torn tail; recovery repairs it', async () => {
    const t = tempDir('spoolcli');
    try {
      let s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, segmentBytes: 64 << 10, consumers: ['syslog-1'], log: () => {} });
      await s.append(items(1, 1000, 40));
      const got = s.read('syslog-1', 400, 1 << 30);
      s.ack('syslog-1', got[399]!.end);
      await s.close();
      let r = cli('spool', 'inspect', '--json', t.dir);
      assert.equal(r.status, 0, r.stderr);
      const rep = JSON.parse(r.stdout);
      assert.equal(rep.records, 1000);
      assert.equal(rep.segments[0].first, 'h1:b1:1');
      assert.equal(rep.segments.at(-1).last, 'h1:b1:1000');
      assert.deepEqual(rep.cursors.map((c: { consumer: string; pending: number }) => [c.consumer, c.pending]), [['syslog-1', 600]]);
      assert.equal(rep.sound, true);
      r = cli('spool', 'inspect', t.dir);
      assert.match(r.stdout, /1000 records/);
      assert.match(r.stdout, /cursor syslog-1: acked \d+:\d+ sent \d+:\d+, 600 records to deliver/);
      assert.equal(cli('spool', 'verify', t.dir).status, 0);

      const last = readdirSync(t.dir).filter((f) => f.endsWith('.seg')).sort().at(-1)!;
      appendFileSync(join(t.dir, last), Buffer.from([40, 0, 0, 0, 1, 2, 3]));
      r = cli('spool', 'verify', t.dir);
      assert.equal(r.status, 1);
      assert.match(r.stdout, /PROBLEM: torn frame at offset \d+; 7 bytes after it are truncated at next start/);
      assert.match(r.stdout, /DAMAGED/);

      s = await Spool.open({ dir: t.dir, maxBytes: 64 << 20, consumers: ['syslog-1'], log: () => {} });
      await s.close();
      r = cli('spool', 'verify', t.dir);
      assert.equal(r.status, 0, r.stdout);
      assert.match(cli('spool', 'inspect', t.dir).stdout, /history: truncatedBytes=7/);
      assert.match(cli('spool', 'inspect', join(t.dir, 'nope')).stderr, /not a directory/);
    } finally {
      t.done();
    }
  });
});
