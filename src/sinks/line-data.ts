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
