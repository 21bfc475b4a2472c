// Process monitor record (FN_REC_PROC), decoded by sensor/decode-process.ts.
import type { ProcHeader } from './records.js';

export interface ProcRecord {
  type: 'proc';
  hdr: ProcHeader;
}
