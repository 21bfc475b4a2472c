// Picks the kflowd-style formatter for each record type.
import type { KernelRecord } from '../model/records.js';
import type { KflowdFacts } from './context.js';
import type { JObject } from './json.js';
import { kflowdFileRecord } from './kflowd-file.js';
import { kflowdProcessRecord } from './kflowd-process.js';
import { kflowdSocketRecord } from './kflowd-socket.js';

/** The output object of a record, or undefined for internal records (pid exit notices). */
export function kflowdRecord(r: KernelRecord, seq: number, f: KflowdFacts): JObject | undefined {
  switch (r.type) {
    case 'file': return kflowdFileRecord(r, seq, f);
    case 'sock': return kflowdSocketRecord(r, seq, f);
    case 'proc': return kflowdProcessRecord(r, seq, f);
    default: return undefined;
  }
}

export function isOutputRecord(r: KernelRecord): boolean {
  return r.type !== 'pid_exit';
}
