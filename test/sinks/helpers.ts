// Shared pieces of the sink tests: record makers, a scriptable in-memory sink, temp dirs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SendResult, Sink, SinkItem } from '../../src/pipeline/types.js';
import { SinkUnavailableError } from '../../src/sinks/delivery.js';

export function item(seq: number, body?: string, host = 'h1', boot = 'b1'): SinkItem {
  return { id: { host, boot, seq: BigInt(seq) }, kind: 'file', data: Buffer.from(body ?? `{"seq":${seq}}`) };
}

export function items(from: number, n: number, pad = 0): SinkItem[] {
  const out: SinkItem[] = [];
  for (let i = 0; i < n; i++) out.push(item(from + i, `{"seq":${from + i}${pad ? `,"pad":"${'x'.repeat(pad)}"` : ''}}`));
  return out;
}

export function tempDir(tag: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `falconet-${tag}-`));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export function seqOf(i: SinkItem): number {
  return Number(i.id.seq);
}

/** A sink whose state the test sets: up, down (send throws), stalled (send never resolves until released). */
export class FakeSink implements Sink {
  readonly name = 'fake';
  received: SinkItem[] = [];
  sends = 0;
  up = true;
  /** per-call hook to fail single items: returns the failed list */
  partial: ((batch: readonly SinkItem[], call: number) => SendResult['failed']) | null = null;
  private stallGate: Promise<void> | null = null;
  private release: (() => void) | null = null;

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  stall(): void {
    this.stallGate = new Promise((r) => (this.release = r));
  }

  unstall(): void {
    this.release?.();
    this.stallGate = null;
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    this.sends++;
    if (this.stallGate) await this.stallGate;
    if (!this.up) throw new SinkUnavailableError('fake sink is down');
    const failed = this.partial?.(batch, this.sends) ?? [];
    const bad = new Set(failed.map((f) => f.index));
    batch.forEach((b, i) => {
      if (!bad.has(i)) this.received.push(b);
    });
    return failed.length ? { failed } : {};
  }
}

/** Waits for cond. `ms` is what the condition usually needs at most; the wait gives up only at
 * three times that (at least 30 s): a slow or busy machine is not a failure. */
export async function until(cond: () => boolean, ms = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + Math.max(3 * ms, 30_000);
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
