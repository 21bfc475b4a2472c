// Table view (-o table): one line per file record, readable in a terminal.
import type { FileRecord } from '../model/records.js';
import { FF } from '../sensor/layout.js';
import type { KflowdFacts } from './context.js';
import { fileDir } from './kflowd-file.js';
import { procName } from './proc-keys.js';
import { secondsText } from './time.js';

/** kflowd's two-letter event codes, in table order. */
export const FILE_EVENT_CODES = ['CR', 'OP', 'OX', 'AC', 'AT', 'MO', 'CW', 'CN', 'MF', 'MT', 'DE'];

export const TABLE_HEADER =
  'TIME (UTC)    EVENTS                 COUNT DURATION      PROCESS            PPID     PID      INODE      SIZE       FILE';

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}

function clock(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  return d.toISOString().slice(11, 23);
}

/** Escapes control characters so one record stays one terminal line. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function fileTableRow(r: FileRecord, f: KflowdFacts): string {
  const kind = (r.mode & 0o170000) === 0o120000 ? 'S' : r.nlink > 1 ? 'H' : 'F';
  const codes = FILE_EVENT_CODES.filter((_, i) => (r.event[i] ?? 0) > 0);
  const name = r.hdr.flags & FF.MOVED ? `${r.origin}>${r.name}` : r.name;
  return (
    pad(clock(r.hdr.ts + f.host.bootToRealNs), 14) +
    pad(`${kind},${codes.join(',')}`, 23) +
    pad(String(r.events), 6) +
    pad(secondsText(r.hdr.ts - r.hdr.tsFirst), 14) +
    pad(printable(procName(r.hdr.exe, r.hdr.comm)).slice(0, 18), 19) +
    pad(String(r.hdr.ppid), 9) +
    pad(String(r.hdr.pid), 9) +
    pad(String(r.ino), 11) +
    pad(String(r.size), 11) +
    printable(fileDir(r, f) + name)
  );
}
