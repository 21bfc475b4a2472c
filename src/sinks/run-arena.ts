// Where encoded runs of frames live. Frames are packed into slabs of RUN_BYTES, one push after
// another, and a slab whose runs are all gone is reused if no record in it was ever handed out
// (decoded items are views into the slab, so a slab that lent data is left to the GC). Under a
// stalled sink the queue and the spool cache free runs all the time; without reuse each freed
// slab is external memory that V8 collects only after ~64 MiB of it piled up, which alone would
// use the whole headroom of the memory bound.
import type { SinkItem } from '../pipeline/types.js';
import { encodeInto, RUN_BYTES, type FrameRun } from './record-frame.js';

/** Writes items[from, to) into buf at `at` in some layout; returns each record's end relative to `at`. */
export type RunWriter = (items: readonly SinkItem[], from: number, to: number, buf: Buffer, at: number) => Uint32Array;

export class Slab {
  readonly buf = Buffer.allocUnsafe(RUN_BYTES);
  used = 0;
  /** runs in this slab not released yet */
  runs = 0;
  /** some record of it was decoded (a view may still point into it) */
  lent = false;
}

/** A run and the slab it sits in (none: a frame larger than a slab, allocated alone). */
export interface ArenaRun extends FrameRun {
  readonly slab: Slab | null;
}

const POOL_MAX = 4;

export class RunArena {
  private tail: Slab | null = null;
  private pool: Slab[] = [];

  private readonly write: RunWriter;

  /** `layout`: frames (with or without their CRC), or another writer (the memory queue's lines). */
  constructor(layout: boolean | RunWriter) {
    this.write = typeof layout === 'function' ? layout : layout
      ? (items, from, to, buf, at) => encodeInto(items, from, to, buf, at, true)
      : (items, from, to, buf, at) => encodeInto(items, from, to, buf, at, false);
  }

  /** Encodes items (sizes[i] = the bytes the writer takes for items[i]) into runs, in order. */
  encode(items: readonly SinkItem[], sizes: ArrayLike<number>): ArenaRun[] {
    const out: ArenaRun[] = [];
    let i = 0;
    while (i < items.length) {
      if (sizes[i]! > RUN_BYTES) {
        const buf = Buffer.allocUnsafe(sizes[i]!);
        const ends = this.write(items, i, i + 1, buf, 0);
        out.push({ buf, ends, slab: null });
        i++;
        continue;
      }
      let t = this.tail;
      if (!t || t.used + sizes[i]! > RUN_BYTES) t = this.newTail();
      let j = i;
      let bytes = 0;
      while (j < items.length && sizes[j]! <= RUN_BYTES && t.used + bytes + sizes[j]! <= RUN_BYTES) bytes += sizes[j++]!;
      const start = t.used;
      const ends = this.write(items, i, j, t.buf, start);
      t.used += bytes;
      t.runs++;
      out.push({ buf: t.buf.subarray(start, start + bytes), ends, slab: t });
      i = j;
    }
    return out;
  }

  private newTail(): Slab {
    const old = this.tail;
    this.tail = this.pool.pop() ?? new Slab();
    if (old && old.runs === 0) this.recycle(old);
    return this.tail;
  }

  /** The run's records were decoded: its slab may be referenced from outside. */
  lend(run: FrameRun): void {
    const s = (run as ArenaRun).slab;
    if (s) s.lent = true;
  }

  /** The run is gone (confirmed, dropped or evicted): its slab may be reused. */
  release(run: FrameRun): void {
    const s = (run as ArenaRun).slab;
    if (!s) return;
    s.runs--;
    if (s.runs === 0 && s !== this.tail) this.recycle(s);
  }

  private recycle(s: Slab): void {
    if (s.lent || this.pool.length >= POOL_MAX) return;
    s.used = 0;
    this.pool.push(s);
  }
}
