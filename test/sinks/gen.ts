// A sequenced, replayable record generator that delivers through Delivery: the "agent" of the
// delivery tests and of bench/spool-faults. It can be SIGKILLed at any moment and restarted;
// it resumes after the last record each sink accepted (its checkpoint, or the spool's last
// record if that is newer), so every sequence number is produced exactly once overall and is
// either accepted or refused (counted by reason in the checkpoint).
//
// usage: node dist/test/sinks/gen.js '<json GenConfig>'
// stdout: one JSON line per sink at the end ({name, stats, next}); stderr: the Delivery's log.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DropReason, SinkItem } from '../../src/pipeline/types.js';
import { Delivery } from '../../src/sinks/delivery.js';
import { createSink, parseSinkUrl } from '../../src/sinks/registry.js';
import { registerNats } from '../../src/sinks/nats.js';
import { PushWindow } from '../../src/pipeline/push-window.js';

export interface GenConfig {
  sinks: { name: string; url: string }[];
  /** records 1..total */
  total: number;
  /** records per second (0 = as fast as accepted) */
  rate: number;
  /** checkpoint directory (one file per sink) */
  ckptDir: string;
  /** payload padding, bytes */
  pad?: number;
  host?: string;
  boot?: string;
  /** wait until everything accepted is delivered, then exit (default true) */
  drain?: boolean;
  /** give up draining after this long (ms) */
  drainMs?: number;
  /**
   * write a checkpoint after every push (default true: needed to resume after a SIGKILL).
   * Throughput runs turn it off: it is the generator's cost, not the delivery's.
   */
  checkpoint?: boolean;
  /**
   * pushes in flight per sink (default: the delivery's push window, as the runtime keeps it:
   * with a spool, batches made while one group commit runs share the next)
   */
  inflight?: number;
}

interface Ckpt {
  next: number;
  dropped: Partial<Record<DropReason, number>>;
}

export function record(seq: number, pad: number, host: string, boot: string): SinkItem {
  // fixed width: every record has the same size, so a cap refuses whole tails
  const body = `{"seq":${String(seq).padStart(10, '0')},"pad":"${'x'.repeat(pad)}"}`;
  return { id: { host, boot, seq: BigInt(seq) }, kind: 'file', data: Buffer.from(body) };
}

export function parseSeq(line: string): number | null {
  const m = /\{"seq":(\d{10}),"pad":"x*"\}/.exec(line);
  return m ? Number(m[1]) : null;
}

function loadCkpt(path: string): Ckpt {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Ckpt;
  } catch {
    return { next: 1, dropped: {} };
  }
}

function saveCkpt(path: string, c: Ckpt): void {
  writeFileSync(path + '.tmp', JSON.stringify(c));
  renameSync(path + '.tmp', path);
}

async function main(): Promise<void> {
  registerNats();
  const cfg = JSON.parse(process.argv[2]!) as GenConfig;
  const host = cfg.host ?? 'gen';
  const boot = cfg.boot ?? 'b0';
  const pad = cfg.pad ?? 100;
  const t0 = performance.now();
  const sinks = await Promise.all(
    cfg.sinks.map(async (s) => {
      const spec = parseSinkUrl(s.url, `sink ${s.name}`);
      const d = new Delivery({ name: s.name, sink: createSink(spec), ...spec.delivery, log: (l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`) });
      await d.open();
      const path = join(cfg.ckptDir, `${s.name}.ckpt`);
      const ck = loadCkpt(path);
      const last = d.lastAcceptedId();
      const from = `ckpt ${ck.next}, spool ${last ? Number(last.seq) + 1 : '-'}`; // which decided, for diagnosis
      if (last && Number(last.seq) + 1 > ck.next) ck.next = Number(last.seq) + 1;
      const win = new PushWindow(cfg.inflight ? { pushes: cfg.inflight, bytes: Infinity } : (d.pushWindow ?? { pushes: 4, bytes: 8 << 20 }));
      return { name: s.name, d, path, ck, from, queuedUpTo: 0, win, last: Promise.resolve() as Promise<unknown> };
    }),
  );
  process.stderr.write(`gen: spools opened in ${(performance.now() - t0).toFixed(1)} ms\n`);
  const start = Date.now();
  const cpu0 = process.cpuUsage();
  let produced = Math.min(...sinks.map((s) => s.ck.next)) - 1;
  const first = produced;
  process.stderr.write(`gen: resuming at ${produced + 1} (${sinks.map((s) => `${s.name}=${s.ck.next} [${s.from}]`).join(' ')})\n`);
  while (produced < cfg.total) {
    const due = cfg.rate > 0 ? Math.min(cfg.total, first + Math.floor(((Date.now() - start) * cfg.rate) / 1000)) : Math.min(cfg.total, produced + 1000);
    if (due <= produced) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    const batch: SinkItem[] = [];
    for (let q = produced + 1; q <= due; q++) batch.push(record(q, pad, host, boot));
    // several pushes in flight per sink (its push window): the next batches are made while the
    // last ones commit; checkpoints follow the pushes in order (they resolve in order)
    for (const s of sinks) {
      const mine = batch.filter((b) => Number(b.id.seq) >= s.ck.next && Number(b.id.seq) > s.queuedUpTo);
      if (!mine.length) continue;
      s.queuedUpTo = due;
      // checkpoints are written in push order, each after its push resolved
      const p = Promise.all([s.last, s.d.push(mine)]).then(([, r]) => {
        for (const [k, n] of Object.entries(r.dropped ?? {}) as [DropReason, number][]) s.ck.dropped[k] = (s.ck.dropped[k] ?? 0) + n;
        s.ck.next = due + 1;
        if (cfg.checkpoint !== false) saveCkpt(s.path, s.ck);
      });
      s.last = p;
      let bytes = 0;
      for (const b of mine) bytes += b.data.length;
      await s.win.add(p, bytes);
    }
    produced = due;
    // a real source waits for I/O between its reads; this lets the deliveries' I/O callbacks
    // (commits, sink writes) run between batches instead of after the whole window
    await new Promise((r) => setImmediate(r));
  }
  if (cfg.drain !== false) {
    const end = Date.now() + (cfg.drainMs ?? 120_000);
    // polled finely: the drain time is part of the throughput figure
    while (Date.now() < end && !sinks.every((s) => s.d.idle())) await new Promise((r) => setTimeout(r, 2));
  }
  for (const s of sinks) await s.win.drain();
  const delivered = sinks.reduce((n, s) => n + s.d.stats().delivered, 0);
  // CPU time of this process (user + system, the threadpool's writes and fsyncs included) from
  // the first record to the drain: on a shared machine a steadier cost figure than the wall clock
  const cpu = process.cpuUsage(cpu0);
  process.stderr.write(`gen: produced ${produced - first} and drained in ${Date.now() - start} ms; delivered ${delivered}; cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms\n`);
  for (const s of sinks) {
    await s.d.close({ drainMs: 2000 });
    process.stdout.write(JSON.stringify({ name: s.name, stats: s.d.stats(), next: s.ck.next, dropped: s.ck.dropped }) + '\n');
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'))) {
  main().catch((e: unknown) => {
    process.stderr.write(`gen: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(2);
  });
}
