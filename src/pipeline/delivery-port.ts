// What the runtime needs of a sink's delivery (a bounded queue, optionally a spool, in front of a
// Sink). src/sinks/delivery.ts's Delivery has this shape (DELIVERY-CONTRACT.md); so does the
// direct delivery below, which the runtime uses for stdout: a terminal must see records in order
// and in step, and a spool there would only delay them.
import type { Writable } from 'node:stream';
import type { SinkItem } from './types.js';
import type { SinkFigures } from '../metrics/counters.js';

export interface DeliveryPort {
  open(): Promise<void>;
  push(items: readonly SinkItem[]): Promise<void>;
  close(opts?: { drainMs?: number }): Promise<void>;
  stats(): SinkFigures;
}

/** Stream framing: records separated by a newline, as every line-oriented sink writes them. */
export class StreamDelivery implements DeliveryPort {
  private accepted = 0;
  private delivered = 0;
  private broken = false;
  private droppedBroken = 0;

  constructor(private readonly out: Writable, private readonly closeOut = false) {
    out.on('error', () => { this.broken = true; });
  }

  async open(): Promise<void> { /* the stream is open */ }

  async push(items: readonly SinkItem[]): Promise<void> {
    this.accepted += items.length;
    if (this.broken) { this.droppedBroken += items.length; return; }
    const parts: Uint8Array[] = [];
    const nl = NL;
    for (let i = 0; i < items.length; i++) parts.push(items[i]!.data, nl);
    const ok = this.out.write(Buffer.concat(parts));
    this.delivered += items.length;
    if (!ok && !this.broken) await new Promise<void>((resolve) => {
      const done = () => { this.out.off('drain', done); this.out.off('error', done); this.out.off('close', done); resolve(); };
      this.out.on('drain', done).on('error', done).on('close', done);
    });
  }

  async close(): Promise<void> {
    if (!this.closeOut) return;
    await new Promise<void>((resolve) => this.out.end(() => resolve()));
  }

  stats(): SinkFigures {
    return { accepted: this.accepted, delivered: this.delivered, dropped: this.droppedBroken ? { shutdown: this.droppedBroken } : {}, queueDepth: 0, spoolBytes: 0, sinkUp: !this.broken };
  }
}

const NL = Buffer.from('\n');
