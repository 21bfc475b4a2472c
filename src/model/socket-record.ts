// Socket monitor record (FN_REC_SOCK), decoded by sensor/decode-socket.ts.
import type { ProcHeader } from './records.js';

export interface SockRecord {
  type: 'sock';
  hdr: ProcHeader;
}
