// IPv4 encoding used by SysFlow: an int32 whose least significant byte is the first octet
// (sfgo.GetIPStr). 16777343 = 127.0.0.1. Values with first octet >= 128 are negative.
export function ipIntToString(n: number | bigint): string {
  const v = typeof n === 'bigint' ? Number(BigInt.asUintN(32, n)) : n >>> 0;
  return `${v & 0xff}.${(v >>> 8) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 24) & 0xff}`;
}

/** Dotted quad → SysFlow int32 (signed, as stored in NetworkFlow.sip/dip). */
export function ipStringToInt(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) throw new Error(`not an IPv4 address: ${JSON.stringify(s)}`);
  const o = m.slice(1, 5).map(Number);
  if (o.some((x) => x > 255)) throw new Error(`not an IPv4 address: ${JSON.stringify(s)}`);
  return (o[0]! | (o[1]! << 8) | (o[2]! << 16) | (o[3]! << 24)) | 0;
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) → dotted quad; other IPv6 → null (SysFlow is IPv4-only). */
export function toIPv4(s: string): string | null {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s;
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  return m ? m[1]! : null;
}
