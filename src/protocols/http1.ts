// HTTP/1.x heads → kflowd's AppTxHttp/AppRxHttp objects (kflowd.c:731-767). Pure, never throws.
// A message is a request or status line, header lines up to the empty line, and the start of the
// body. A head cut short (by the capture or the reassembly limit) keeps its complete header
// lines. Limits are kflowd's: 32 headers, 256 characters per value, 128 of body.
import { decodeBytes } from '../util/bytes.js';
import type { JObject, JValue } from '../format/json.js';

export const HTTP_EXCEPTION = 'HTTP Message Decoder';
export const HTTP_LIMITS = { headers: 32, value: 256, body: 128 } as const;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/;
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;

export function httpException(): JObject {
  return new Map<string, JValue>([['_Exception', HTTP_EXCEPTION]]);
}

/** Index of the first line end at or after `from`, and the length of the terminator (LF or CRLF). */
function lineEnd(b: Uint8Array, from: number): [number, number] {
  for (let i = from; i < b.length; i++) if (b[i] === 0x0a) return i > from && b[i - 1] === 0x0d ? [i - 1, 2] : [i, 1];
  return [-1, 0];
}

/** The bytes begin with a request or status line (complete, or a plausible prefix of one). */
export function startsHead(b: Uint8Array): boolean {
  const [end] = lineEnd(b, 0);
  const line = decodeBytes(b, 0, end < 0 ? Math.min(b.length, 8192) : end);
  if (end >= 0) return REQUEST_LINE.test(line) || STATUS_LINE.test(line);
  // no line end yet: a method or version followed by a space is enough to wait for more
  return /^(HTTP\/\d\.\d |[A-Z]+ )/.test(line) || /^(H|HT|HTT|HTTP|HTTP\/|HTTP\/\d|HTTP\/\d\.|HTTP\/\d\.\d|[A-Z]{1,16})$/.test(line);
}

/** Offset just past the empty line that ends the head, or -1. */
export function headEnd(b: Uint8Array): number {
  let from = 0;
  for (;;) {
    const [end, term] = lineEnd(b, from);
    if (end < 0) return -1;
    if (end === from) return end + term;
    from = end + term;
  }
}

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

/**
 * Decodes one captured message. `first`: the first message of its direction in the record; a
 * message that is not a head is kflowd's exception object there and a continuation (`_Body`)
 * anywhere else.
 */
export function decodeHttp(b: Uint8Array, first: boolean): JObject {
  const head = parseHead(b);
  if (head) return head;
  if (first) return httpException();
  return new Map<string, JValue>([['_Body', clip(decodeBytes(b), HTTP_LIMITS.body)]]);
}

function parseHead(b: Uint8Array): JObject | undefined {
  let [end, term] = lineEnd(b, 0);
  if (end < 0) return undefined;
  const start = decodeBytes(b, 0, end);
  const o: JObject = new Map();
  const req = REQUEST_LINE.exec(start);
  const res = req ? null : STATUS_LINE.exec(start);
  if (req) {
    o.set('_Method', req[1]!);
    o.set('_Url', req[2]!);
    o.set('_Version', req[3]!);
  } else if (res) {
    o.set('_Version', res[1]!);
    o.set('_Status', Number(res[2]));
    if (res[3]) o.set('_Reason', res[3]);
  } else {
    return undefined;
  }
  let from = end + term;
  let headers = 0;
  let last: string | undefined;
  for (;;) {
    [end, term] = lineEnd(b, from);
    if (end < 0) return o; // head cut short: keep the complete lines
    if (end === from) break;
    const line = decodeBytes(b, from, end);
    from = end + term;
    if (line[0] === ' ' || line[0] === '\t') {
      // obsolete line folding (RFC 7230 3.2.4): continues the previous value
      if (last === undefined) return undefined;
      const prev = o.get(last);
      if (typeof prev === 'string') o.set(last, clip(`${prev} ${line.trim()}`, HTTP_LIMITS.value));
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) return undefined;
    const value = line.slice(colon + 1).trim();
    const prev = o.get(name);
    if (typeof prev === 'string' && !name.startsWith('_')) {
      o.set(name, clip(`${prev}, ${value}`, HTTP_LIMITS.value)); // repeated header (RFC 7230 3.2.2)
      last = name;
    } else if (prev === undefined && headers < HTTP_LIMITS.headers) {
      o.set(name, clip(value, HTTP_LIMITS.value));
      headers++;
      last = name;
    } else {
      last = undefined;
    }
  }
  from = end + term;
  if (from < b.length) o.set('_Body', clip(decodeBytes(b, from, Math.min(b.length, from + HTTP_LIMITS.body * 4)), HTTP_LIMITS.body));
  return o;
}
