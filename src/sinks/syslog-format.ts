// Syslog message framing: RFC 5424 and RFC 3164 headers around a record, and RFC 6587 octet
// counting for stream transports. The record id travels in 5424 structured data
// ([falconet@32473 id="host:boot:seq"]) so a collector can de-duplicate; 3164 has no place for it.
import { hostname } from 'node:os';
import type { SinkItem } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import { withoutNewline } from './line-data.js';

export type SyslogFormat = '5424' | '3164';

export interface SyslogHeader {
  format: SyslogFormat;
  /** 0..23, default 16 (local0) */
  facility: number;
  /** 0..7, default 6 (informational) */
  severity: number;
  hostname: string;
  app: string;
  procid: string;
}

/** Private enterprise number used for the structured-data id (example range of RFC 5612 is 32473). */
export const SD_ID = 'falconet@32473';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function defaultHeader(format: SyslogFormat): SyslogHeader {
  return { format, facility: 16, severity: 6, hostname: printable(hostname()) || '-', app: 'falconet', procid: String(process.pid) };
}

/** PRINTUSASCII without spaces, as 5424 header fields require (and 3164 tolerates). */
export function printable(s: string, max = 255): string {
  return s.replace(/[^\x21-\x7e]/g, '').slice(0, max);
}

function sdEscape(v: string): string {
  return v.replace(/[\\"\]]/g, (c) => '\\' + c);
}

const p2 = (n: number): string => String(n).padStart(2, '0');

export function header5424(h: SyslogHeader, item: SinkItem, now: Date): string {
  const pri = h.facility * 8 + h.severity;
  const sd = `[${SD_ID} id="${sdEscape(recordIdString(item.id))}" kind="${item.kind}"]`;
  return `<${pri}>1 ${now.toISOString()} ${h.hostname} ${printable(h.app, 48) || '-'} ${printable(h.procid, 128) || '-'} ${printable(item.kind, 32)} ${sd} `;
}

export function header3164(h: SyslogHeader, now: Date): string {
  const pri = h.facility * 8 + h.severity;
  const day = String(now.getDate()).padStart(2, ' ');
  const ts = `${MONTHS[now.getMonth()]} ${day} ${p2(now.getHours())}:${p2(now.getMinutes())}:${p2(now.getSeconds())}`;
  const tag = printable(h.app, 32).replace(/[[\]:]/g, '') || 'falconet';
  return `<${pri}>${ts} ${h.hostname} ${tag}[${printable(h.procid, 10)}]: `;
}

/** One syslog message (no framing). */
export function syslogMessage(h: SyslogHeader, item: SinkItem, now = new Date()): Buffer {
  const head = h.format === '5424' ? header5424(h, item, now) : header3164(h, now);
  const body = withoutNewline(item.data);
  const hb = Buffer.from(head, 'latin1');
  const out = Buffer.allocUnsafe(hb.length + body.length);
  hb.copy(out, 0);
  out.set(body, hb.length);
  return out;
}

/** RFC 6587 octet counting: `LEN SP MSG`, for TCP and TLS. */
export function octetCounted(msgs: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of msgs) parts.push(Buffer.from(`${m.length} `), m);
  return Buffer.concat(parts);
}
