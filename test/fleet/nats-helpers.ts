// Shared by the NATS tests and the bench: record items, a retrying publisher (what the
// delivery loop does with a SendResult), and a consumer that records every delivery.
import type { RecordKind, Sink, SinkItem } from '../../src/pipeline/types.js';
import { recordIdString } from '../../src/pipeline/types.js';
import type { FleetDelivery, NatsSource } from '../../src/source/nats.js';
import { sleep } from './nats-cluster.js';

export function items(n: number, from = 0, host = 'agent-1', kinds: RecordKind[] = ['socket', 'file', 'process']): SinkItem[] {
  const out: SinkItem[] = [];
  for (let i = from; i < from + n; i++) {
    const id = { host, boot: 'b1', seq: BigInt(i) };
    const kind = kinds[i % kinds.length]!;
    out.push({ id, kind, data: Buffer.from(JSON.stringify({ n: i, kind, pad: 'x'.repeat(100) })), key: `${host}/${i % 64}` });
  }
  return out;
}

export interface PublishReport { sends: number; throws: number; retriedItems: number }

/** Sends until every item is acknowledged, re-sending only what failed; gives up at the deadline. */
export async function publishAll(sink: Sink, all: SinkItem[], batch: number, deadlineMs = 120_000, onBatch?: (done: number) => Promise<void>): Promise<PublishReport> {
  const rep: PublishReport = { sends: 0, throws: 0, retriedItems: 0 };
  const end = Date.now() + deadlineMs;
  for (let i = 0; i < all.length; i += batch) {
    let pending = all.slice(i, i + batch);
    while (pending.length) {
      if (Date.now() > end) throw new Error(`publish deadline passed with ${all.length - i} items left`);
      rep.sends++;
      try {
        const r = await sink.send(pending);
        const failed = r.failed ?? [];
        rep.retriedItems += failed.length;
        pending = failed.map((f) => pending[f.index]!);
        if (pending.length) await sleep(100);
      } catch {
        rep.throws++;
        await sleep(200);
      }
    }
    await onBatch?.(Math.min(all.length, i + batch));
  }
  return rep;
}

export interface Received { id: string; redelivered: boolean; consumer: string }

/** Runs a source, recording each delivery, acking each batch after "processing" it. */
export function collect(src: NatsSource, consumer: string, into: Received[]): Promise<void> {
  return (async () => {
    for await (const ev of src) {
      if (ev.kind !== 'records') continue;
      for (const e of ev.records) {
        const f = e.enrich?.['fleet'] as FleetDelivery;
        into.push({ id: recordIdString(e.id!), redelivered: f.redelivered, consumer });
      }
      src.ack(ev.records[ev.records.length - 1]!.id!);
    }
  })();
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs: number, poll?: () => Promise<void>): Promise<void> {
  const end = Date.now() + timeoutMs;
  await poll?.();
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
    await poll?.();
  }
}

/** Every id in `want` delivered; every extra delivery of an id was flagged redelivered by JetStream. */
export function checkDeliveries(d: Received[], want: SinkItem[]): { unique: number; duplicates: number; unflaggedDuplicates: number; missing: number } {
  const seen = new Map<string, number>();
  let duplicates = 0; let unflagged = 0;
  for (const x of d) {
    const n = seen.get(x.id) ?? 0;
    if (n > 0) { duplicates++; if (!x.redelivered) unflagged++; }
    seen.set(x.id, n + 1);
  }
  const missing = want.filter((it) => !seen.has(recordIdString(it.id))).length;
  return { unique: seen.size, duplicates, unflaggedDuplicates: unflagged, missing };
}

/** A source's lines and the test's own marks, each with the time since the timeline began: a
 * failure's report and a passing run's printout say how long each step took. */
export class Timeline {
  private readonly t0 = Date.now();
  readonly lines: string[] = [];

  at(): string {
    return `+${((Date.now() - this.t0) / 1000).toFixed(1)}s`;
  }

  mark(text: string): void {
    this.lines.push(`${this.at()} ${text}`);
  }

  /** The timeline as `#` comment lines under a title, for the test's output. */
  print(title: string): void {
    console.log(`# ${title}:\n${this.lines.map((l) => `#   ${l}`).join('\n')}`);
  }
}
