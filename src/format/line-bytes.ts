// The primitives of the json-min byte writers (kflowd-min-bytes.ts): records go once into large
// slabs that the sink writes as they are, instead of ~1 KB JS strings per record that the runtime
// encodes to UTF-8 and the GC collects. Numbers and times are written digit by digit; strings that
// need no escaping (printable ASCII without quote or backslash) are copied, every other string goes
// through JSON.stringify, so any bytes stay valid JSON exactly as in the string writer.
import { secondsText, wallClock } from './time.js';

const q = JSON.stringify;
const NS = 1_000_000_000;
export const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
/** slabs are this large unless one record needs more; records never straddle two slabs */
const SLAB = 1 << 20;

const PUT_LOOP_MAX = 6;
export const bytesOf = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** A wall-clock second's text up to the fraction ("Thu, Apr 04 2024 15:34:35."), cached. */
class SecondPrefix {
  private sec = -1;
  bytes: Uint8Array = new Uint8Array(0);
  get(sec: number): Uint8Array {
    if (sec !== this.sec) {
      const full = wallClock(BigInt(sec) * 1_000_000_000n);
      this.bytes = bytesOf(full.slice(0, full.length - 13));
      this.sec = sec;
    }
    return this.bytes;
  }
}

/** The boot-to-wall-clock offset of one host, split once for Number math. */
export interface BootOffset { readonly bootToRealNs: bigint; readonly offSec: number; readonly offFrac: number }

export function bootOffset(bootToRealNs: bigint): BootOffset {
  return { bootToRealNs, offSec: Number(bootToRealNs / 1_000_000_000n), offFrac: Number(bootToRealNs % 1_000_000_000n) };
}

export class LineBytes {
  buf: Buffer = Buffer.allocUnsafe(SLAB);
  pos = 0;
  private readonly prefix = new SecondPrefix();

  /** Room for n more bytes, in a fresh slab if needed (earlier records keep their slab). */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.buf = Buffer.allocUnsafe(Math.max(SLAB, n));
    this.pos = 0;
  }

  /**
   * Nothing returned so far is referenced any more (the runtime's Encoder.release): the next
   * records are written from the start of the current slab instead of filling new ones, which
   * the GC would have to collect (1 MiB of external memory every ~900 records).
   */
  release(): void {
    this.pos = 0;
  }

  /** Ends the record begun at `start` with `}`; the slab holds a newline right after it, so a
   * run of records is one contiguous write for line sinks. Returns the record without it. */
  close(start: number): Uint8Array {
    const buf = this.buf;
    buf[this.pos++] = 0x7d;
    const end = this.pos;
    buf[this.pos++] = 0x0a;
    return buf.subarray(start, end);
  }

  put(x: Uint8Array): void {
    // TypedArray#set costs the same ~20 ns for 8 bytes or 200; a byte loop only wins below that
    const n = x.length;
    if (n > PUT_LOOP_MAX) { this.buf.set(x, this.pos); this.pos += n; return; }
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = x[i]!;
    this.pos = p;
  }

  /** A number as String(n) writes it. Below 2^31 the digits come from int32 math (`%` on a
   * double is a call into the runtime). */
  num(n: number): void {
    if (!Number.isSafeInteger(n)) { this.pos += this.buf.write(String(n), this.pos, 'latin1'); return; }
    const buf = this.buf;
    if (n < 0) { buf[this.pos++] = 0x2d; n = -n; }
    if (n < 10) { buf[this.pos++] = 0x30 + n; return; }
    if (n >= 0x80000000) {
      // above int32: split off the low nine digits
      const hi = Math.floor(n / NS);
      this.num(hi);
      this.nine(n - hi * NS);
      return;
    }
    let v = n | 0;
    let digits = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
    let p = this.pos + digits;
    this.pos = p;
    do { const q = (v / 10) | 0; buf[--p] = 0x30 + v - q * 10; v = q; } while (v > 0);
  }

  /** n (0 ≤ n < 1e9) as exactly nine digits. */
  nine(n: number): void {
    const buf = this.buf;
    let p = this.pos + 9;
    this.pos = p;
    let v = n | 0;
    for (let i = 0; i < 9; i++) { const q = (v / 10) | 0; buf[--p] = 0x30 + v - q * 10; v = q; }
  }

  /** "S.NNNNNNNNN" for the duration to - from in ns (secondsText's text); Number math (no
   * BigInt difference) when both stamps are exact doubles and the difference is not negative.
   * `toN`: Number(to), or -1 when `to` is above 2^53 (the record's stamp, converted once). */
  secs(to: bigint, from: bigint, toN: number): void {
    if (toN < 0 || from < 0n || to < from) { this.ascii(secondsText(to - from)); return; }
    const n = toN - Number(from);
    const sec = Math.floor(n / NS);
    this.num(sec);
    this.buf[this.pos++] = 0x2e;
    this.nine(n - sec * NS);
  }

  /** secondsText(ns) for a duration already computed. */
  dur(ns: bigint): void {
    if (ns < 0n || ns > MAX_EXACT) { this.ascii(secondsText(ns)); return; }
    const n = Number(ns);
    const sec = Math.floor(n / NS);
    this.num(sec);
    this.buf[this.pos++] = 0x2e;
    this.nine(n - sec * NS);
  }

  /** Text known to be ASCII (formatted numbers and times). */
  ascii(t: string): void {
    this.pos += this.buf.write(t, this.pos, 'latin1');
  }

  /** Text that is JSON already (any characters): as UTF-8. */
  json(t: string): void {
    this.pos += this.buf.write(t, this.pos, 'utf8');
  }

  /** A JSON string: copied in the escape scan's own loop when it needs no escaping (a
   * Buffer#write is a call into C++ per string), through JSON.stringify otherwise. */
  str(v: string): void {
    const buf = this.buf;
    const start = this.pos;
    let p = start + 1;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) { this.pos = start + buf.write(q(v), start, 'utf8'); return; }
      buf[p++] = c;
    }
    buf[start] = 0x22;
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** The wall clock of a boot-time stamp (BootClock.text of the string writer) without " UTC";
   * `n`: Number(tsBoot), or -1 when it is not exact. */
  clock(o: BootOffset, tsBoot: bigint, n: number): void {
    if (n < 0 || o.offFrac < 0) { const w = wallClock(tsBoot + o.bootToRealNs); this.ascii(w.slice(0, w.length - 4)); return; }
    let sec = Math.floor(n / NS);
    let frac = n - sec * NS + o.offFrac;
    if (frac >= NS) { frac -= NS; sec += 1; }
    sec += o.offSec;
    this.put(this.prefix.get(sec));
    this.nine(frac);
  }
}
