// The spool's memory of what it committed last: stretches of encoded runs (run-arena.ts) kept
// after their group commit, so that a reader that keeps up with the writer gets its records
// without a disk read. Only encoded bytes are kept (decoded on read), so the cache costs what it
// says; the oldest stretches go first once it holds more than its bound.
import type { SinkItem } from '../pipeline/types.js';
import { RunDecoder, type FrameRun } from './record-frame.js';
import type { RunArena } from './run-arena.js';
import type { Pos } from './spool-format.js';

/** A run and how many holders it has (the commit writing it, cached pieces of it). */
export interface RunHold {
  readonly run: FrameRun;
  n: number;
}

/** Drops one holder of a run; the last one gives the run back to its arena. */
export function releaseHold(arena: RunArena, h: RunHold): void {
  if (--h.n === 0) arena.release(h.run);
}

/** Records read in one go, all from one segment: `ends[i]` is the offset just after item i. */
export interface ReadBatch {
  readonly items: SinkItem[];
  readonly seg: number;
  readonly ends: number[];
  readonly bytes: number;
}

/**
 * A committed stretch of a run: frames run.ends[from..to) of `run`, written at `off` in segment
 * `seg`.
 */
export interface HotPiece {
  readonly hold: RunHold;
  readonly seg: number;
  readonly off: number;
  readonly run: FrameRun;
  readonly from: number;
  readonly to: number;
  /** offset in run.buf where frame `from` starts */
  readonly base: number;
  readonly bytes: number;
}

export class HotCache {
  /** in spool order; entries before `head` are gone (dropped from the front without shifting) */
  private pieces: HotPiece[] = [];
  private head = 0;
  private bytes = 0;
  private readonly dec = new RunDecoder();

  constructor(
    private readonly arena: RunArena,
    private readonly maxBytes: number,
  ) {}

  /** Keeps a committed piece (it holds its run until dropped). */
  add(h: HotPiece): void {
    this.pieces.push(h);
    this.bytes += h.bytes;
    while (this.bytes > this.maxBytes && this.head < this.pieces.length) this.dropFirst();
    this.compact();
  }

  /** Forgets every piece of segments up to `seg` (the segment is being deleted). */
  dropThrough(seg: number): void {
    while (this.head < this.pieces.length && this.pieces[this.head]!.seg <= seg) this.dropFirst();
    this.compact();
  }

  /** Forgets the oldest piece (its slot is cleared at once: pieces hold whole runs). */
  private dropFirst(): void {
    const p = this.pieces[this.head]!;
    this.bytes -= p.bytes;
    this.pieces[this.head++] = undefined as unknown as HotPiece;
    releaseHold(this.arena, p.hold);
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pieces.length) {
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Appends to `out` the records that start at `at`, while they are cached and continue in one
   * segment, up to maxItems/maxBytes. Returns the position after the last one, or null when the
   * cache does not hold the record at `at`.
   */
  read(at: Pos, out: ReadBatch, maxItems: number, maxBytes: number): Pos | null {
    const h = this.pieces;
    // the last piece starting at or before the read position
    let lo = this.head;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const p = h[mid]!;
      if (p.seg < at.seg || (p.seg === at.seg && p.off <= at.off)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.head) return null;
    let i = lo - 1;
    let p = h[i]!;
    if (p.seg !== at.seg || at.off >= p.off + p.bytes) return null;
    // the frame of this piece that starts at the read position
    const rel = at.off - p.off + p.base;
    let k = p.from;
    if (rel !== p.base) {
      let a = p.from;
      let b = p.to;
      while (a < b) {
        const m = (a + b) >> 1;
        if (p.run.ends[m]! <= rel) a = m + 1;
        else b = m;
      }
      if (p.run.ends[a - 1] !== rel) return null; // not a frame boundary (cannot happen)
      k = a;
    }
    let bytes = 0;
    let got = 0;
    const seg = at.seg;
    let pos: Pos | null = null;
    for (;;) {
      const run = p.run;
      const start = p.off - p.base;
      let end = -1;
      this.arena.lend(run);
      for (; k < p.to && got < maxItems && bytes < maxBytes; k++, got++) {
        const from = k ? run.ends[k - 1]! : 0;
        const to = run.ends[k]!;
        out.items.push(this.dec.decode(run.buf, from, to));
        end = start + to;
        out.ends.push(end);
        bytes += to - from;
      }
      if (end < 0) break;
      pos = { seg, off: end };
      if (k < p.to || got >= maxItems || bytes >= maxBytes) break;
      // the next piece, if it continues in the same segment
      if (++i >= h.length || h[i]!.seg !== seg || h[i]!.off !== end) break;
      p = h[i]!;
      k = p.from;
    }
    return pos;
  }
}
