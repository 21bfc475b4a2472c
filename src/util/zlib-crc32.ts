// zlib's CRC-32 where this Node has it (Node ≥ 20.15, native); undefined on older Node 20
// releases, whose callers fall back to a sum of their own or skip the check.
import zlib from 'node:zlib';

export const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array | string, value?: number) => number }).crc32;
