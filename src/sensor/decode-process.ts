// Decoder for process/credential/extended event records (bpf/records_process.h).
import type { ProcRecord } from '../model/process-record.js';
import type { ProcHeader } from '../model/records.js';

export function decodeProcRecord(_b: Buffer, _p: number, _size: number, _hdr: ProcHeader, _frameOffset: number): ProcRecord | undefined {
  return undefined;
}
