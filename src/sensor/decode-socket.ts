// Decoder for socket records (bpf/records_socket.h).
import type { SockRecord } from '../model/socket-record.js';
import type { ProcHeader } from '../model/records.js';

export function decodeSockRecord(_b: Buffer, _p: number, _size: number, _hdr: ProcHeader, _frameOffset: number): SockRecord | undefined {
  return undefined;
}
