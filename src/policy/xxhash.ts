// XXH64 (seed 0), for sf-processor's process object ids: `oid` = hex XXH64 of the decimal
// strings of hpid and createTS, concatenated (sfgo). Checked against the XXH64 reference
// vector for "" and an sf-processor oid (test/policy/engine.test.ts). Only used when
// exporting or matching `sf.proc.oid`, and memoised per process, so BigInt speed is fine.
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const M = (1n << 64n) - 1n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, lane: bigint): bigint => (rotl((acc + lane * P2) & M, 31n) * P1) & M;
const merge = (acc: bigint, val: bigint): bigint => (((acc ^ round(0n, val)) * P1) + P4) & M;

export function xxh64(buf: Buffer, seed = 0n): bigint {
  const n = buf.length;
  let i = 0;
  let h: bigint;
  if (n >= 32) {
    let v1 = (seed + P1 + P2) & M;
    let v2 = (seed + P2) & M;
    let v3 = seed & M;
    let v4 = (seed - P1) & M;
    while (i + 32 <= n) {
      v1 = round(v1, buf.readBigUInt64LE(i));
      v2 = round(v2, buf.readBigUInt64LE(i + 8));
      v3 = round(v3, buf.readBigUInt64LE(i + 16));
      v4 = round(v4, buf.readBigUInt64LE(i + 24));
      i += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(n)) & M;
  while (i + 8 <= n) {
    h ^= round(0n, buf.readBigUInt64LE(i));
    h = (rotl(h, 27n) * P1 + P4) & M;
    i += 8;
  }
  if (i + 4 <= n) {
    h ^= (BigInt(buf.readUInt32LE(i)) * P1) & M;
    h = (rotl(h, 23n) * P2 + P3) & M;
    i += 4;
  }
  while (i < n) {
    h ^= (BigInt(buf[i]!) * P5) & M;
    h = (rotl(h, 11n) * P1) & M;
    i++;
  }
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  h ^= h >> 32n;
  return h;
}

/** sf-processor's process oid string (Go FormatUint(h, 16): lower-case hex, no padding). */
export function processOidHex(hpid: bigint, createTS: bigint): string {
  return xxh64(Buffer.from(`${hpid}${createTS}`, 'latin1')).toString(16);
}
