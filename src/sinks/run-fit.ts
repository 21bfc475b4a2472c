// Frame arithmetic of a run of frames (record-frame.ts) for a group commit (spool-writer.ts): a
// segment holds whole frames only, so a run that does not fit in the room left is cut at a frame
// boundary and continues in the next segment.
import type { FrameRun } from './record-frame.js';

/** Length of frame `i` of a run. */
export function frameLen(run: FrameRun, i: number): number {
  return run.ends[i]! - (i ? run.ends[i - 1]! : 0);
}

/** The end index of the frames from `from` that fit in `room` bytes (base = start of frame `from`). */
export function lastFit(run: FrameRun, from: number, base: number, room: number): number {
  const e = run.ends;
  if (e[e.length - 1]! - base <= room) return e.length;
  let a = from;
  let b = e.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (e[m]! - base <= room) a = m + 1;
    else b = m;
  }
  return a;
}
