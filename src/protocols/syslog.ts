// Syslog messages → kflowd's AppTxSyslog/AppRxSyslog objects (kflowd.c:768-788). RFC 5424
// (`<PRI>VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG`) and RFC 3164/BSD (`<PRI>Mmm dd
// hh:mm:ss [HOST] TAG[PID]: MSG`, as sent by syslog(3) and logger, with or without the host).
// Pure, never throws. journald-native frames (`KEY=VALUE` lines, sent to
// /run/systemd/journal/socket) are not syslog and are skipped (null), like kflowd's empty ones.
import { decodeBytes } from '../util/bytes.js';
import type { JObject, JValue } from '../format/json.js';

export const SYSLOG_EXCEPTION = 'SYSLOG Message Decoder';
/** kflowd's limits: header fields 48 characters; hostname, data and message 255. */
export const SYSLOG_LIMITS = { field: 48, long: 255 } as const;

/** Facility names by code (RFC 5424 table 1, shortened; kflowd's sample shows code 10). */
export const FACILITIES = [
  'Kernel', 'User', 'Mail', 'System Daemons', 'Security/Authorization', 'Syslogd', 'Line Printer',
  'Network News', 'UUCP', 'Clock Daemon', 'Security/Authorization', 'FTP Daemon', 'NTP', 'Log Audit',
  'Log Alert', 'Clock Daemon', 'Local0', 'Local1', 'Local2', 'Local3', 'Local4', 'Local5', 'Local6', 'Local7',
] as const;
export const SEVERITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const;

const MONTH = /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}/;
const RFC3339 = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?(?= |$)/;

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

export function syslogException(raw: Uint8Array): JObject {
  return new Map<string, JValue>([['_Exception', SYSLOG_EXCEPTION], ['_Message', clip(decodeBytes(raw), SYSLOG_LIMITS.long)]]);
}

/** journald's native protocol: no PRI, first line `FIELD=value` or a bare `FIELD` (binary value). */
export function isJournalNative(b: Uint8Array): boolean {
  if (b.length === 0) return true;
  if (b[0] === 0x3c) return false;
  let i = 0;
  while (i < b.length && i < 256 && ((b[i]! >= 0x41 && b[i]! <= 0x5a) || (b[i]! >= 0x30 && b[i]! <= 0x39) || b[i] === 0x5f)) i++;
  return i > 0 && (i === b.length || b[i] === 0x3d || b[i] === 0x0a);
}

interface Fields {
  pri: number;
  version: number;
  timestamp?: string;
  hostname?: string;
  appname: string;
  procid?: string;
  msgid?: string;
  data?: string;
  message?: string;
}

/** One message (one datagram or one stream frame). null: a journald-native frame, skipped. */
export function decodeSyslog(raw: Uint8Array): JObject | null {
  if (isJournalNative(raw)) return null;
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x00 || raw[end - 1] === 0x0d)) end--;
  const f = parse(decodeBytes(raw, 0, end));
  if (!f) return syslogException(raw);
  const o: JObject = new Map();
  o.set('Facility', FACILITIES[f.pri >> 3]!);
  o.set('Severity', `${SEVERITIES[f.pri & 7]} (${f.pri & 7})`);
  o.set('Priority', f.pri);
  o.set('Version', f.version);
  if (f.timestamp) o.set('Timestamp', clip(f.timestamp, SYSLOG_LIMITS.field));
  if (f.hostname) o.set('Hostname', clip(f.hostname, SYSLOG_LIMITS.long));
  o.set('Appname', clip(f.appname, SYSLOG_LIMITS.field));
  if (f.procid) o.set('ProcId', clip(f.procid, SYSLOG_LIMITS.field));
  if (f.msgid) o.set('MsgId', clip(f.msgid, SYSLOG_LIMITS.field));
  if (f.data) o.set('Data', clip(f.data, SYSLOG_LIMITS.long));
  if (f.message) o.set('Message', clip(f.message, SYSLOG_LIMITS.long));
  return o;
}

function parse(s: string): Fields | undefined {
  const m = /^<([0-9]{1,3})>/.exec(s);
  if (!m) return undefined;
  const pri = Number(m[1]);
  if (pri > 191) return undefined;
  const rest = s.slice(m[0].length);
  const v = /^([1-9][0-9]{0,2}) /.exec(rest);
  return v ? parse5424(pri, Number(v[1]), rest.slice(v[0].length)) : parse3164(pri, rest);
}

const nil = (t: string | undefined) => (t === undefined || t === '-' ? undefined : t);

function parse5424(pri: number, version: number, s: string): Fields | undefined {
  const parts: string[] = [];
  let at = 0;
  for (let i = 0; i < 5; i++) {
    const sp = s.indexOf(' ', at);
    if (sp < 0) return undefined;
    parts.push(s.slice(at, sp));
    at = sp + 1;
  }
  const [timestamp, hostname, appname, procid, msgid] = parts;
  if (parts.some((p) => p.length === 0)) return undefined;
  const sd = structuredData(s, at);
  if (sd === undefined) return undefined;
  let message = s.slice(sd.end);
  if (message.length && message[0] !== ' ') return undefined;
  message = message.slice(1);
  if (message.startsWith('\ufeff')) message = message.slice(1); // RFC 5424 6.4: UTF-8 BOM
  return {
    pri, version,
    timestamp: nil(timestamp), hostname: nil(hostname), appname: nil(appname) ?? '', procid: nil(procid), msgid: nil(msgid),
    data: sd.text === '-' ? undefined : sd.text, message,
  };
}

/** STRUCTURED-DATA: "-" or one or more [id param="value"...] (`\]`, `\"`, `\\` escaped inside values). */
function structuredData(s: string, at: number): { text: string; end: number } | undefined {
  if (s[at] === '-') return { text: '-', end: at + 1 };
  let i = at;
  if (s[i] !== '[') return undefined;
  while (s[i] === '[') {
    let quoted = false;
    i++;
    for (;;) {
      const c = s[i];
      if (c === undefined) return undefined;
      if (quoted && c === '\\') { i += 2; continue; }
      if (c === '"') quoted = !quoted;
      else if (c === ']' && !quoted) { i++; break; }
      i++;
    }
  }
  return { text: s.slice(at, i), end: i };
}

function parse3164(pri: number, s: string): Fields {
  let timestamp: string | undefined;
  const t = MONTH.exec(s) ?? RFC3339.exec(s);
  if (t) {
    timestamp = t[0];
    s = s.slice(t[0].length).replace(/^ /, '');
  }
  // HOST is there when the first word is not already the tag (`name:`, `name[pid]:`)
  let hostname: string | undefined;
  const first = /^(\S+)(?: |$)/.exec(s);
  if (t && first && !/:$/.test(first[1]!) && !/\[[^\]]*\]:?$/.test(first[1]!) && /^\S+ \S/.test(s)) {
    hostname = first[1];
    s = s.slice(first[0].length);
  }
  const tag = /^([^\s:[\]]{1,48})(?:\[([^\]]*)\])?: ?/.exec(s);
  if (!tag) return { pri, version: 0, timestamp, hostname, appname: '', message: s };
  return { pri, version: 0, timestamp, hostname, appname: tag[1]!, procid: tag[2] || undefined, message: s.slice(tag[0].length) };
}

/**
 * Syslog over a stream (RFC 6587): octet-counted frames (`LEN SP MSG`) or LF-terminated ones.
 * Returns the frames with their offsets; `incomplete` bytes at the end belong to a later frame.
 */
export function splitSyslogStream(b: Uint8Array): { frames: { at: number; bytes: Uint8Array }[]; incomplete: number } {
  const frames: { at: number; bytes: Uint8Array }[] = [];
  let off = 0;
  while (off < b.length) {
    if (b[off]! >= 0x31 && b[off]! <= 0x39) {
      let i = off, len = 0;
      while (i < b.length && i - off < 9 && b[i]! >= 0x30 && b[i]! <= 0x39) len = len * 10 + (b[i++]! - 0x30);
      if (i >= b.length) break;
      if (b[i] === 0x20) {
        if (i + 1 + len > b.length) break;
        frames.push({ at: off, bytes: b.subarray(i + 1, i + 1 + len) });
        off = i + 1 + len;
        continue;
      }
    }
    const lf = b.indexOf(0x0a, off);
    if (lf < 0) break;
    if (lf > off) frames.push({ at: off, bytes: b.subarray(off, lf) });
    off = lf + 1;
  }
  return { frames, incomplete: b.length - off };
}
