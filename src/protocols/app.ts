// A socket record's captured payloads → kflowd's `App` and `App{Tx,Rx}{Dns,Http,Syslog}` keys.
// Tx messages come first, then rx (kflowd.c:655-790). TCP captures of one direction are joined
// where they are contiguous in sequence space, so a DNS message or an HTTP head that spans
// segments decodes as one; the message's `_Timestamp` is that of the capture where it starts.
import type { JObject, JValue } from '../format/json.js';
import { seconds } from '../format/time.js';
import { dnsException, dnsJson, parseDns, splitTcpDns } from './dns.js';
import { decodeHttp, headEnd, startsHead } from './http1.js';
import { decodeSyslog, splitSyslogStream } from './syslog.js';

import type { AppProto, AppTransport } from '../model/payload-record.js';

export type { AppProto, AppTransport };

/** One payload captured by the kernel. */
export interface AppCapture {
  /** CLOCK_BOOTTIME ns of the capture */
  ts: bigint;
  rx: boolean;
  /** TCP: sequence number of the first payload byte (used to join contiguous segments) */
  seq: number;
  /** payload length on the wire; bytes.length < wireLen when the capture was cut */
  wireLen: number;
  bytes: Uint8Array;
}

/** The most an HTTP head is reassembled to, across segments. */
export const HTTP_HEAD_LIMIT = 16384;

const KEYS: Record<AppProto, [string, string]> = {
  DNS: ['AppTxDns', 'AppRxDns'],
  HTTP: ['AppTxHttp', 'AppRxHttp'],
  SYSLOG: ['AppTxSyslog', 'AppRxSyslog'],
};

/** A run of captures that are contiguous in the stream; `starts[i]` is where capture i begins. */
interface Run {
  bytes: Uint8Array;
  starts: number[];
  caps: AppCapture[];
}

function tcpRuns(caps: AppCapture[]): Run[] {
  const runs: Run[] = [];
  let cur: AppCapture[] = [];
  const flush = () => {
    if (!cur.length) return;
    const starts: number[] = [];
    let n = 0;
    for (const c of cur) { starts.push(n); n += c.bytes.length; }
    runs.push({ bytes: Buffer.concat(cur.map((c) => c.bytes)), starts, caps: cur });
    cur = [];
  };
  for (const c of caps) {
    const prev = cur[cur.length - 1];
    if (prev && (prev.bytes.length !== prev.wireLen || ((prev.seq + prev.wireLen) >>> 0) !== c.seq)) flush();
    cur.push(c);
  }
  flush();
  return runs;
}

/** Time of the capture holding byte `at` of a run. */
function tsAt(run: Run, at: number): bigint {
  let i = 0;
  while (i + 1 < run.starts.length && run.starts[i + 1]! <= at) i++;
  return run.caps[i]!.ts;
}

function stamped(ts: bigint, tsFirst: bigint, body: JObject): JObject {
  const o: JObject = new Map<string, JValue>([['_Timestamp', seconds(ts > tsFirst ? ts - tsFirst : 0n)]]);
  for (const [k, v] of body) o.set(k, v);
  return o;
}

function dnsMessages(caps: AppCapture[], tcp: boolean, tsFirst: bigint): JObject[] {
  const out: JObject[] = [];
  const one = (bytes: Uint8Array, ts: bigint) => {
    const m = parseDns(bytes);
    out.push(m ? stamped(ts, tsFirst, dnsJson(m)) : dnsException());
  };
  if (!tcp) {
    for (const c of caps) one(c.bytes, c.ts);
    return out;
  }
  for (const run of tcpRuns(caps)) {
    const { messages, incomplete } = splitTcpDns(run.bytes);
    for (const m of messages) one(m.bytes, tsAt(run, m.at));
    if (incomplete) out.push(dnsException());
  }
  return out;
}

function httpMessages(caps: AppCapture[], tsFirst: bigint): JObject[] {
  const out: JObject[] = [];
  for (const run of tcpRuns(caps)) {
    let i = 0;
    while (i < run.caps.length) {
      // a head that does not end in its segment takes the following ones, up to the limit
      let j = i + 1;
      const at = run.starts[i]!;
      if (startsHead(run.caps[i]!.bytes)) {
        while (j < run.caps.length && headEnd(run.bytes.subarray(at, run.starts[j])) < 0 && run.starts[j]! - at < HTTP_HEAD_LIMIT) j++;
      }
      const endAt = j < run.caps.length ? run.starts[j]! : run.bytes.length;
      const msg = decodeHttp(run.bytes.subarray(at, Math.min(endAt, at + HTTP_HEAD_LIMIT)), out.length === 0);
      out.push(msg.has('_Exception') ? msg : stamped(run.caps[i]!.ts, tsFirst, msg));
      i = j;
    }
  }
  return out;
}

function syslogMessages(caps: AppCapture[], tcp: boolean): JObject[] {
  const out: JObject[] = [];
  const push = (m: JObject | null) => { if (m) out.push(m); };
  if (!tcp) {
    for (const c of caps) push(decodeSyslog(c.bytes));
    return out;
  }
  for (const run of tcpRuns(caps)) {
    const { frames, incomplete } = splitSyslogStream(run.bytes);
    for (const f of frames) push(decodeSyslog(f.bytes));
    // the stream's last frame may lack its LF: decode what was captured
    if (incomplete) push(decodeSyslog(run.bytes.subarray(run.bytes.length - incomplete)));
  }
  return out;
}

/**
 * The App keys of one record, in kflowd's order: `App`, then the tx array, then rx; an empty
 * direction is left out. `tsFirst` is the record's first event (`_Timestamp` is relative to it).
 */
export function appKeys(proto: AppProto, transport: AppTransport, caps: readonly AppCapture[], tsFirst: bigint): [string, JValue][] {
  const keys: [string, JValue][] = [['App', proto]];
  const tcp = transport === 'tcp';
  for (const rx of [false, true]) {
    const dir = caps.filter((c) => c.rx === rx);
    if (!dir.length) continue;
    const msgs = proto === 'DNS' ? dnsMessages(dir, tcp, tsFirst)
      : proto === 'HTTP' ? httpMessages(dir, tsFirst)
        : syslogMessages(dir, tcp);
    if (msgs.length) keys.push([KEYS[proto][rx ? 1 : 0], msgs]);
  }
  return keys;
}
