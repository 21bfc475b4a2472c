// Process monitor records in kflowd's family style (InfoMonitor "process", Proc*, Event*).
import type { ProcRecord } from '../model/process-record.js';
import type { FormatContext } from './context.js';
import type { JObject } from './json.js';
import { infoKeys, procKeys } from './proc-keys.js';

export function kflowdProcessRecord(r: ProcRecord, seq: number, ctx: FormatContext): JObject {
  const o: JObject = new Map();
  infoKeys(o, seq, 'process', r.hdr.ts, ctx);
  procKeys(o, r.hdr, ctx);
  return o;
}
