// Records as lines: encoders may or may not end a record with a newline; line-oriented sinks
// (stdout, file, unix) write exactly one per record, message sinks (syslog, UDP) none.
import type { SinkItem } from '../pipeline/types.js';

const NL = 0x0a;

export function withoutNewline(data: Uint8Array): Uint8Array {
  let end = data.length;
  while (end > 0 && (data[end - 1] === NL || data[end - 1] === 0x0d)) end--;
  return end === data.length ? data : data.subarray(0, end);
}

/** The batch as one buffer of newline-terminated records. */
export function joinLines(batch: readonly SinkItem[]): Buffer {
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
