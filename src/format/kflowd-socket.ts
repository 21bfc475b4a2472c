// kflowd's socket record (keys, order, formats).
import type { SockRecord } from '../model/socket-record.js';
import type { FormatContext } from './context.js';
import type { JObject } from './json.js';
import { infoKeys, procKeys } from './proc-keys.js';

export function kflowdSocketRecord(r: SockRecord, seq: number, ctx: FormatContext): JObject {
  const o: JObject = new Map();
  infoKeys(o, seq, 'socket', r.hdr.ts, ctx);
  procKeys(o, r.hdr, ctx);
  return o;
}
