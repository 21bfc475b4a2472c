// Byte-string helpers. File names and payloads are arbitrary bytes: we render them losslessly
// as strings using PEP 383 "surrogateescape" (each invalid UTF-8 byte 0xNN becomes the lone
// surrogate U+DCNN). JSON.stringify writes those as "\udcNN" escapes, so output stays valid
// JSON and the original bytes can be recovered (e.g. Python: s.encode('utf-8', 'surrogateescape')).

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes bytes to a string; invalid UTF-8 bytes become U+DC80..U+DCFF. */
export function decodeBytes(buf: Uint8Array, start = 0, end = buf.length): string {
  let ascii = true;
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) { ascii = false; break; }
  if (ascii) return Buffer.isBuffer(buf) ? buf.toString('latin1', start, end) : Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
  const view = buf.subarray(start, end);
  try {
    return utf8.decode(view);
  } catch {
    return decodeEscaping(view);
  }
}

function seqLen(b: number): number {
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

function decodeEscaping(v: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < v.length) {
    const b = v[i]!;
    if (b < 0x80) { out += String.fromCharCode(b); i++; continue; }
    const n = seqLen(b);
    if (n && i + n <= v.length) {
      try {
        out += utf8.decode(v.subarray(i, i + n));
        i += n;
        continue;
      } catch { /* fall through: escape this byte */ }
    }
    out += String.fromCharCode(0xdc00 + b);
    i++;
  }
  return out;
}

/** The inverse of decodeBytes. */
export function encodeEscaped(s: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xdc80 && c <= 0xdcff) {
      if (run) { parts.push(Buffer.from(run, 'utf8')); run = ''; }
      parts.push(Buffer.from([c - 0xdc00]));
    } else run += ch;
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** A NUL-terminated C string inside a fixed-size field. */
export function cString(buf: Uint8Array, off: number, max: number): string {
  let end = off;
  const lim = Math.min(off + max, buf.length);
  while (end < lim && buf[end] !== 0) end++;
  return decodeBytes(buf, off, end);
}

/** Little-endian unsigned 16-bit value at b[o] (element loads, as u32le). */
export function u16le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

/** Little-endian unsigned 32-bit value at b[o]: element loads, where Buffer.readUInt32LE is a
 * call with argument checks (hot decoders). */
export function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Little-endian unsigned 64-bit value at b[o] as a number: exact below 2^53 (counters), with no
 * BigInt per field. */
export function u64le(b: Uint8Array, o: number): number {
  return u32le(b, o) + u32le(b, o + 4) * 0x100000000;
}

/** Little-endian unsigned 64-bit value at b[o] as a bigint: one BigInt when it is below 2^53
 * (stamps, cookies), where Buffer.readBigUInt64LE makes three. */
export function u64leBig(b: Buffer, o: number): bigint {
  const hi = u32le(b, o + 4);
  return hi < 0x200000 ? BigInt(hi * 0x100000000 + u32le(b, o)) : b.readBigUInt64LE(o);
}
