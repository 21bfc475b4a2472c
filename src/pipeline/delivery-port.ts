// What the runtime needs of a sink's delivery (a bounded queue, optionally a spool, in front of a
// Sink). src/sinks/delivery.ts's Delivery has this shape (DELIVERY-CONTRACT.md); so does the
// direct delivery below, which the runtime uses for stdout: a terminal must see records in order
// and in step, and a spool there would only delay them.
import { closeSync } from 'node:fs';
import { writeAllFd } from '../util/write-fd.js';
import type { Writable } from 'node:stream';
import type { SinkItem } from './types.js';
import type { SinkFigures } from '../metrics/counters.js';
import type { PushWindowSize } from './push-window.js';
import { runEnd, runView } from '../sinks/line-data.js';

export interface DeliveryPort {
  open(): Promise<void>;
  push(items: readonly SinkItem[]): Promise<unknown>;
  close(opts?: { drainMs?: number; whileProgressing?: boolean }): Promise<void>;
  stats(): SinkFigures;
  /**
   * Additive: how many pushes a producer may keep outstanding (push-window.ts). Absent: await
   * each push (a terminal must see records in order and in step).
   */
  readonly pushWindow?: PushWindowSize;
  /**
   * Additive: true when a resolved push holds no reference to the items' data (it was copied
   * into the delivery's own queue): the encoder that made them may then reuse its memory.
   */
  readonly copiesOnPush?: boolean;
}

/** Where a stream delivery writes: a Node stream (stdout), or a file descriptor written in step. */
export type StreamTarget = { readonly stream: Writable } | { readonly fd: number };

/** The bytes of items, each followed by a newline. Runs of items that the runtime laid out
 * back to back, each followed by its newline, are written without copying them (runEnd: only a
 * run of two or more proves the layout; a record alone's next byte is not its own). */
export function framed(items: readonly SinkItem[]): Buffer {
  const parts: Uint8Array[] = [];
  let i = 0;
  while (i < items.length) {
    const j = runEnd(items, i);
    if (j > i + 1) {
      parts.push(runView(items, i, j));
      i = j;
    } else parts.push(items[i++]!.data, NL);
  }
  if (parts.length === 1) { const p = parts[0]!; return Buffer.from(p.buffer, p.byteOffset, p.length); }
  return Buffer.concat(parts);
}

/** Stream framing: records separated by a newline, as every line-oriented sink writes them. */
export class StreamDelivery implements DeliveryPort {
  private accepted = 0;
  private delivered = 0;
  private broken = false;
  private droppedBroken = 0;

  constructor(private readonly target: StreamTarget, private readonly closeTarget = false) {
    if ('stream' in target) target.stream.on('error', () => { this.broken = true; });
  }

  async open(): Promise<void> { /* the stream is open */ }

  async push(items: readonly SinkItem[]): Promise<void> {
    this.accepted += items.length;
    if (this.broken) { this.droppedBroken += items.length; return; }
    const buf = framed(items);
    if ('fd' in this.target) {
      try {
        await writeAllFd(this.target.fd, buf);
        this.delivered += items.length;
      } catch {
        this.broken = true;
        this.droppedBroken += items.length;
      }
      return;
    }
    const out = this.target.stream;
    const ok = out.write(buf);
    this.delivered += items.length;
    if (!ok && !this.broken) await new Promise<void>((resolve) => {
      const done = () => { out.off('drain', done); out.off('error', done); out.off('close', done); resolve(); };
      out.on('drain', done).on('error', done).on('close', done);
    });
  }

  async close(): Promise<void> {
    if (!this.closeTarget) return;
    if ('fd' in this.target) { closeSync(this.target.fd); return; }
    const out = this.target.stream;
    await new Promise<void>((resolve) => out.end(() => resolve()));
  }

  stats(): SinkFigures {
    return { accepted: this.accepted, delivered: this.delivered, dropped: this.droppedBroken ? { shutdown: this.droppedBroken } : {}, queueDepth: 0, spoolBytes: 0, sinkUp: !this.broken };
  }
}

const NL = Buffer.from('\n');
