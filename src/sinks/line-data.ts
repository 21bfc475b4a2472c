// Records as lines: encoders may or may not end a record with a newline; line-oriented sinks
// (stdout, file, unix) write exactly one per record, message sinks (syslog, UDP) none.
import type { SinkItem } from '../pipeline/types.js';

const NL = 0x0a;

export function withoutNewline(data: Uint8Array): Uint8Array {
  let end = data.length;
  while (end > 0 && (data[end - 1] === NL || data[end - 1] === 0x0d)) end--;
  return end === data.length ? data : data.subarray(0, end);
}

/**
 * Where the run of records laid out as lines that starts at batch[i] ends (exclusive): each
 * record followed, where it lies, by a newline and the next one. Only a layout of lines (the
 * runtime's batch buffer, the memory queue's runs) puts two records one byte apart, so a run has
 * at least two records; a record alone may be a view into a spool frame, whose next byte is not
 * its own: stale memory that can read as a newline, and that the spool's writer may overwrite
 * while a write of the view is under way. Returns i when no such run starts there.
 */
export function runEnd(batch: readonly SinkItem[], i: number): number {
  const first = batch[i]!.data;
  const next = batch[i + 1]?.data;
  if (next === undefined || next.buffer !== first.buffer || next.byteOffset !== first.byteOffset + first.length + 1) return i;
  const whole = new Uint8Array(first.buffer);
  let j = i;
  while (j + 1 < batch.length) {
    const d = batch[j]!.data;
    const n = batch[j + 1]!.data;
    const end = d.byteOffset + d.length;
    if (d.length === 0 || n.length === 0 || n.buffer !== first.buffer || n.byteOffset !== end + 1 || d[d.length - 1] === NL || whole[end] !== NL) break;
    j++;
  }
  if (j === i) return i;
  // the run's last record: its newline was written with it (a layout of lines)
  const last = batch[j]!.data;
  return last[last.length - 1] !== NL && whole[last.byteOffset + last.length] === NL ? j + 1 : j;
}

/** One buffer over batch[i, j), a run that runEnd found (written from where it lies). */
export function runView(batch: readonly SinkItem[], i: number, j: number): Buffer {
  const first = batch[i]!.data;
  const last = batch[j - 1]!.data;
  return Buffer.from(first.buffer, first.byteOffset, last.byteOffset + last.length + 1 - first.byteOffset);
}

/** The batch as one buffer of newline-terminated records. A batch that is one run of records
 * laid out as lines, by an encoder or the runtime (runEnd), is written from where it lies: it
 * costs no copy (the json-min hot path). */
export function joinLines(batch: readonly SinkItem[]): Buffer {
  if (batch.length > 1 && runEnd(batch, 0) === batch.length) return runView(batch, 0, batch.length);
  let n = 0;
  for (const b of batch) n += b.data.length + 1;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  for (const b of batch) {
    out.set(b.data, o);
    o += b.data.length;
    if (b.data.length === 0 || b.data[b.data.length - 1] !== NL) out[o++] = NL;
  }
  return out.subarray(0, o);
}

/** Writes items[from, to) into buf at `at` as lines (each record's data, then a newline): the
 * memory queue's layout (backlog.ts), so that a run of queued records is written as it lies.
 * Returns each line's end (after its newline) relative to `at`. */
export function encodeLinesInto(items: readonly SinkItem[], from: number, to: number, buf: Buffer, at: number): Uint32Array {
  const ends = new Uint32Array(to - from);
  let o = at;
  for (let k = from; k < to; k++) {
    const d = items[k]!.data;
    const n = d.length;
    if (n > 64) buf.set(d, o);
    else for (let i = 0; i < n; i++) buf[o + i] = d[i]!;
    o += n;
    buf[o++] = NL;
    ends[k - from] = o - at;
  }
  return ends;
}

/** The batch as newline-terminated records in as few buffers as possible, for a gathered write
 * (writev): each run of records laid out as lines (runEnd) is one buffer, written from where it
 * lies; anything else is copied. Same bytes as joinLines. */
export function lineChunks(batch: readonly SinkItem[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < batch.length) {
    const j = runEnd(batch, i);
    if (j > i + 1) {
      out.push(runView(batch, i, j));
      i = j;
      continue;
    }
    // records that are not laid out as lines: copied until the next run that is
    let k = i + 1;
    while (k < batch.length && runEnd(batch, k) <= k + 1) k++;
    out.push(joinLines(batch.slice(i, k)));
    i = k;
  }
  return out;
}
