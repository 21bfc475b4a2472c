// Byte mutations for the protocol decoders' fuzz tests (seeded xorshift from the policy fuzzer,
// so a failure names its seed and case).
import { Rng } from '../policy/fuzz-lib.js';

export { Rng };

export function mutateBytes(rng: Rng, src: Uint8Array): Buffer {
  let b = Buffer.from(src);
  for (let round = 0, n = 1 + rng.int(3); round < n; round++) {
    const at = b.length ? rng.int(b.length) : 0;
    switch (rng.int(7)) {
      case 0: b = b.subarray(0, at); break; // truncate
      case 1: for (let i = 0, k = 1 + rng.int(4); i < k && b.length; i++) b[rng.int(b.length)]! ^= 1 << rng.int(8); break;
      case 2: for (let i = at; i < Math.min(b.length, at + 1 + rng.int(16)); i++) b[i] = rng.int(256); break;
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(16)))]); break;
      case 4: b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + rng.int(24)), b.subarray(at)]); break;
      case 5: b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + rng.int(8) }, () => rng.int(256))), b.subarray(at)]); break;
      default: b.fill(rng.int(2) ? 0xff : 0xc0, at, Math.min(b.length, at + 1 + rng.int(6))); break; // pointer/length bombs
    }
  }
  return b;
}

export function randomBytes(rng: Rng, max: number): Buffer {
  return Buffer.from(Array.from({ length: rng.int(max + 1) }, () => rng.int(256)));
}
