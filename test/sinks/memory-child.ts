// Child process of memory.test.ts and bench/spool-faults: a Delivery whose sink never returns,
// fed `feed` times its queue bound in bytes of record data. Prints one JSON line: RSS before,
// peak RSS while feeding (sampled after every push), and the Delivery's counters.
// usage: node --expose-gc dist/test/sinks/memory-child.js '{"capBytes":…, "feed":10, "spoolDir":…}'
import { Delivery } from '../../src/sinks/delivery.js';
import type { Sink, SinkItem } from '../../src/pipeline/types.js';
import { record } from './gen.js';

export interface MemoryProbe {
  /** the queue bound (queue=), bytes */
  capBytes: number;
  /** how many times the bound is fed */
  feed: number;
  /** with a spool: its directory (the sink's records then wait on disk) */
  spoolDir?: string;
  policy?: 'drop_newest' | 'drop_oldest' | 'reject';
  pad?: number;
}

export interface MemoryReport {
  rssBeforeMiB: number;
  peakAddedMiB: number;
  /** RSS added after a full GC at the end: what is really retained */
  heldAddedMiB: number;
  produced: number;
  accepted: number;
  /** records held (queued or in flight) */
  depth: number;
  dropped: Record<string, number>;
  queueBytes: number;
  spoolBytes: number;
}

const stalled: Sink = { name: 'stalled', open: async () => {}, close: async () => {}, send: () => new Promise(() => {}) };

async function main(): Promise<void> {
  const p = JSON.parse(process.argv[2]!) as MemoryProbe;
  const d = new Delivery({
    name: 'stalled',
    sink: stalled,
    policy: p.policy ?? 'drop_newest',
    maxBytes: p.capBytes,
    spool: p.spoolDir ? { dir: p.spoolDir, maxBytes: 4 * p.feed * p.capBytes } : undefined,
    log: () => {},
  });
  await d.open();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const r0 = process.memoryUsage.rss();
  let peak = r0;
  let fed = 0;
  let seq = 0;
  const pad = p.pad ?? 200;
  while (fed < p.feed * p.capBytes) {
    const batch: SinkItem[] = [];
    for (let i = 0; i < 1000; i++) {
      const r = record(++seq, pad, 'h', 'b');
      fed += r.data.length;
      batch.push(r);
    }
    await d.push(batch);
    peak = Math.max(peak, process.memoryUsage.rss());
  }
  gc?.();
  const held = process.memoryUsage.rss();
  const st = d.stats();
  const dropped = Object.fromEntries(Object.entries(st.dropped).map(([k, v]) => [k, v ?? 0]));
  const rep: MemoryReport = { rssBeforeMiB: r0 / 1048576, peakAddedMiB: (peak - r0) / 1048576, heldAddedMiB: (held - r0) / 1048576, produced: seq, accepted: st.accepted, depth: st.queueDepth, dropped, queueBytes: st.queueBytes, spoolBytes: st.spoolBytes };
  process.stdout.write(JSON.stringify(rep) + '\n');
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`memory-child: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(2);
});
