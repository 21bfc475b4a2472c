// The memory bound (issue 12): a sink that never returns, fed 10× its queue bound. The RSS of the
// delivering process (a child, measured from outside the test runner's own heap) stays within
// the configured bound plus 64 MiB, with and without a spool, and every record is accounted for:
// accepted + dropped = produced. Not a timing test: the figures are bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { MemoryProbe, MemoryReport } from './memory-child.js';
import { tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./memory-child.js', import.meta.url));

function probe(p: MemoryProbe): MemoryReport {
  const out = execFileSync(process.execPath, ['--expose-gc', CHILD, JSON.stringify(p)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as MemoryReport;
}

/** `peak`: the peak RSS is held to the bound, not only what is retained after a full GC. */
function check(p: MemoryProbe, r: MemoryReport, peak: boolean): void {
  const cap = p.capBytes / 1048576;
  console.log(`# cap ${cap} MiB${p.spoolDir ? ' + spool' : ''} ${p.policy ?? 'drop_newest'}: RSS added: peak ${r.peakAddedMiB.toFixed(1)} MiB, after GC ${r.heldAddedMiB.toFixed(1)} MiB; accepted ${r.accepted}, dropped ${JSON.stringify(r.dropped)}, queue ${r.queueBytes} B, spool ${r.spoolBytes} B`);
  assert.ok(r.heldAddedMiB <= cap + 64, `RSS retained ${r.heldAddedMiB.toFixed(1)} MiB <= cap ${cap} + 64 MiB`);
  if (peak) assert.ok(r.peakAddedMiB <= cap + 64, `peak RSS added ${r.peakAddedMiB.toFixed(1)} MiB <= cap ${cap} + 64 MiB`);
  assert.ok(r.queueBytes <= p.capBytes, 'the queue holds its bound');
  const dropped = Object.values(r.dropped).reduce((a, b) => a + b, 0);
  // nothing is delivered: every record is held (in memory or in the spool) or counted as dropped
  if (p.spoolDir) assert.equal(r.accepted + dropped, r.produced, 'accepted (in the spool) + dropped = produced');
  else assert.equal(r.depth + dropped, r.produced, 'held + dropped = produced');
  if (!p.spoolDir) assert.ok(dropped > 0, 'fed 10× the bound: something was dropped');
}

describe('memory bound under a stalled sink', () => {
  it('memory queue (drop_newest): 10× a 32 MiB bound, peak RSS within bound + 64 MiB', () => {
    const p: MemoryProbe = { capBytes: 32 << 20, feed: 10 };
    const r = probe(p);
    check(p, r, true);
    // the queue is full to within one record
    assert.ok(r.queueBytes > p.capBytes - 1024, `queue full: ${r.queueBytes}`);
  });

  it('drop_oldest: peak RSS within bound + 64 MiB (freed runs are reused, not left to the GC)', () => {
    const p: MemoryProbe = { capBytes: 32 << 20, feed: 10, policy: 'drop_oldest' };
    check(p, probe(p), true);
  });

  it('with a spool: records wait on disk; peak RSS within bound + 64 MiB (the spool is not held in memory)', () => {
    const t = tempDir('memory');
    try {
      // the spool's cap is 4× what is fed: nothing is dropped, records wait on disk
      const p: MemoryProbe = { capBytes: 32 << 20, feed: 10, spoolDir: join(t.dir, 'spool') };
      const r = probe({ ...p });
      check(p, r, true);
      assert.ok(r.spoolBytes > 0);
    } finally {
      t.done();
    }
  });
});
