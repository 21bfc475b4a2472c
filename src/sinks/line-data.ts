// Records as lines: encoders may or may not end a record with a newline; line-oriented sinks
// (stdout, file, unix) write exactly one per record, message sinks (syslog, UDP) none.
import type { SinkItem } from '../pipeline/types.js';

const NL = 0x0a;

export function withoutNewline(data: Uint8Array): Uint8Array {
  let end = data.length;
  while (end > 0 && (data[end - 1] === NL || data[end - 1] === 0x0d)) end--;
  return end === data.length ? data : data.subarray(0, end);
}

/** The batch as one buffer of newline-terminated records. Records that an encoder or the
 * runtime laid out back to back, each followed by its newline, are written from where they lie:
 * a batch that is one such run costs no copy (the json-min hot path). */
export function joinLines(batch: readonly SinkItem[]): Buffer {
  const first = batch[0]?.data;
  if (first !== undefined && first.length > 0) {
    const whole = new Uint8Array(first.buffer);
    let end = first.byteOffset + first.length;
    let ok = whole[end] === NL && first[first.length - 1] !== NL;
    for (let i = 1; ok && i < batch.length; i++) {
      const d = batch[i]!.data;
      ok = d.buffer === first.buffer && d.byteOffset === end + 1 && d.length > 0 && d[d.length - 1] !== NL;
      end = d.byteOffset + d.length;
      ok = ok && whole[end] === NL;
    }
    if (ok) return Buffer.from(first.buffer, first.byteOffset, end + 1 - first.byteOffset);
  }
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
 * (writev): each run of records laid out back to back with their newlines is one buffer, written
 * from where it lies; anything else is copied. Same bytes as joinLines. */
export function lineChunks(batch: readonly SinkItem[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < batch.length) {
    const first = batch[i]!.data;
    const whole = new Uint8Array(first.buffer);
    let end = first.byteOffset + first.length;
    let j = i;
    if (first.length > 0 && first[first.length - 1] !== NL && whole[end] === NL) {
      j = i + 1;
      while (j < batch.length) {
        const d = batch[j]!.data;
        if (d.buffer !== first.buffer || d.byteOffset !== end + 1 || d.length === 0 || d[d.length - 1] === NL || whole[d.byteOffset + d.length] !== NL) break;
        end = d.byteOffset + d.length;
        j++;
      }
      out.push(Buffer.from(first.buffer, first.byteOffset, end + 1 - first.byteOffset));
      i = j;
      continue;
    }
    // records that are not laid out as lines: copied until the next run that is
    j = i + 1;
    while (j < batch.length && !startsRun(batch[j]!.data)) j++;
    out.push(joinLines(batch.slice(i, j)));
    i = j;
  }
  return out;
}

function startsRun(d: Uint8Array): boolean {
  return d.length > 0 && d[d.length - 1] !== NL && d.byteOffset + d.length < d.buffer.byteLength && new Uint8Array(d.buffer, d.byteOffset + d.length, 1)[0] === NL;
}
