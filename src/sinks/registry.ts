// Sink URLs → SinkSpec → Sink. Built in: stdout, file, udp, syslog+udp/tcp/tls, relp, unix. Other
// helpers plug their transports in with registerSinkScheme (nats, kafka, elasticsearch, s3).
// Every error names the place the URL came from (`--sink #2`, `pipeline.json:12:5 …`).
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { OverloadPolicy, Sink } from '../pipeline/types.js';
import type { DeliveryOptions } from './delivery.js';
import { FileSink } from './file-sink.js';
import { parseHostPort, type HostPort } from './host-port.js';
import { StdoutSink } from './stdout-sink.js';
import { SyslogStreamSink, syslogUdpSink } from './syslog-sink.js';
import { RelpSink } from './relp-sink.js';
import { defaultHeader, printable, type SyslogFormat, type SyslogHeader } from './syslog-format.js';
import { UdpSink, UDP_MAX_SERVERS } from './udp-sink.js';
import { UnixSink } from './unix-sink.js';
import { parseDuration, parseSize } from './units.js';

export interface SinkSpec {
  scheme: string;
  url: URL;
  /** scheme-specific query parameters (the common ones are parsed into `delivery`) */
  params: Record<string, string>;
  /** encoder name (format=…); the runtime picks the Encoder */
  format?: string;
  delivery: Omit<DeliveryOptions, 'sink' | 'name'>;
  /** additive: the URL as written, and parsed targets of the built-in schemes */
  text?: string;
  servers?: HostPort[];
  path?: string;
  syslog?: SyslogHeader;
}

export class SinkUrlError extends Error {
  constructor(where: string, text: string, message: string) {
    super(`${where}: sink "${text}": ${message}`);
    this.name = 'SinkUrlError';
  }
}

/** Builds a registered scheme's sink; `log` takes the lines it has to say outside any batch (what
 * it repaired at open). */
type Factory = (spec: SinkSpec, log: (line: string) => void) => Sink;
/** A registered scheme's own URL parser (host lists, options), run by parseSinkUrl; throws Error. */
type UrlCheck = (text: string, where: string) => unknown;
const registered = new Map<string, Factory>();
const checks = new Map<string, UrlCheck>();
const BUILTIN = ['stdout', 'file', 'udp', 'syslog+udp', 'syslog+tcp', 'syslog+tls', 'relp', 'unix'];
/** schemes whose records are syslog messages (format=5424|3164 selects the framing) */
const isSyslog = (scheme: string): boolean => scheme.startsWith('syslog+') || scheme === 'relp';

export function registerSinkScheme(scheme: string, factory: Factory, check?: UrlCheck): void {
  const s = scheme.toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(s)) throw new Error(`sink scheme "${scheme}" is not a URL scheme`);
  if (BUILTIN.includes(s)) throw new Error(`sink scheme "${s}" is built in`);
  registered.set(s, factory);
  if (check) checks.set(s, check);
  else checks.delete(s);
}

/** The URL with its host list cut to the first host (WHATWG URL holds one host; `text` keeps all). */
function firstHostUrl(t: string): URL | null {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^/?#@]*@)?)([^,/?#]*),[^/?#]*(.*)$/s.exec(t);
  try {
    return new URL(m ? m[1]! + m[2]! + m[3]! : t);
  } catch {
    return null;
  }
}

export function sinkSchemes(): string[] {
  return [...BUILTIN, ...registered.keys()];
}

const POLICIES: readonly OverloadPolicy[] = ['block', 'drop_newest', 'drop_oldest', 'reject'];
const COMMON = ['format', 'spool', 'spool_max', 'spool_segment', 'fsync_ms', 'queue', 'policy', 'batch', 'confirm_ms', 'retry_min', 'retry_max'];
const SCHEME_PARAMS: Record<string, readonly string[]> = {
  stdout: [],
  file: ['rotate', 'rotate_time', 'keep'],
  udp: [],
  unix: [],
  'syslog+udp': ['facility', 'severity', 'app', 'hostname'],
  'syslog+tcp': ['facility', 'severity', 'app', 'hostname'],
  'syslog+tls': ['facility', 'severity', 'app', 'hostname', 'ca', 'cert', 'key', 'servername'],
  relp: ['facility', 'severity', 'app', 'hostname', 'window', 'ack_timeout'],
};
/** RELP has no assigned port; 2514 is the one rsyslog's documentation uses */
export const RELP_DEFAULT_PORT = 2514;
export const DEFAULT_QUEUE_BYTES = 64 << 20;
export const DEFAULT_SPOOL_BYTES = 1 << 30;
/** Stream transports without acknowledgements keep sent records this long before confirming. */
export const DEFAULT_STREAM_CONFIRM_MS = 250;

const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];
const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** Parses a sink URL. Throws SinkUrlError naming `where` for anything wrong. */
export function parseSinkUrl(text: string, where: string): SinkSpec {
  const bad = (msg: string): never => {
    throw new SinkUrlError(where, text, msg);
  };
  const t = text.trim();
  if (t === '') bad('empty sink URL');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(t === '-' || t === 'stdout' ? 'stdout:' : t);
  if (!m) return bad(`not a sink URL; expected SCHEME://…, one of ${sinkSchemes().join(', ')} (e.g. file:///var/log/falconet.jsonl)`);
  const scheme = m[1]!.toLowerCase();
  const q = m[2]!.indexOf('?');
  const rest = q < 0 ? m[2]! : m[2]!.slice(0, q);
  const query = q < 0 ? '' : m[2]!.slice(q + 1);
  if (/[\s\x00-\x1f]/.test(rest)) bad('white space or control characters in the address');
  const builtin = BUILTIN.includes(scheme);
  if (!builtin && !registered.has(scheme)) bad(`unknown scheme "${scheme}:"; known: ${sinkSchemes().join(', ')}`);

  // query parameters: known names only (for built-in schemes), each at most once
  const params: Record<string, string> = {};
  const formats: string[] = [];
  let sp: URLSearchParams;
  try {
    sp = new URLSearchParams(query);
  } catch {
    return bad('bad query string');
  }
  const allowed = new Set([...COMMON, ...(SCHEME_PARAMS[scheme] ?? [])]);
  for (const [k, v] of sp) {
    if (builtin && !allowed.has(k)) bad(`unknown option "${k}" for ${scheme}; options: ${[...allowed].join(', ')}`);
    if (k === 'format') {
      formats.push(v);
      continue;
    }
    if (k in params) bad(`option "${k}" given twice`);
    params[k] = v;
  }

  const spec: SinkSpec = { scheme, url: new URL('stdout:'), params: {}, delivery: { policy: 'drop_newest', maxBytes: DEFAULT_QUEUE_BYTES }, text: t };
  parseFormats(spec, formats, scheme, bad);
  parseDelivery(spec, params, scheme, bad);
  for (const k of Object.keys(params)) if (!COMMON.includes(k)) spec.params[k] = params[k]!;

  parseAddress(spec, rest, t, where, bad);
  return spec;
}

/** The address part of a sink URL (`rest`: after the scheme, before the query) into spec: a path,
 * servers, or (fleet schemes) the whole text checked by the scheme's own parser. */
function parseAddress(spec: SinkSpec, rest: string, t: string, where: string, bad: (msg: string) => never): void {
  const scheme = spec.scheme;
  const authority = (): string => (rest.startsWith('//') ? rest.slice(2) : bad(`expected ${scheme}://…`));
  switch (scheme) {
    case 'stdout':
      if (rest !== '' && rest !== '//') bad('stdout takes no address (write stdout: or -)');
      break;
    case 'file':
    case 'unix': {
      let p = rest.startsWith('//') ? rest.slice(2) : rest;
      if (rest.startsWith('//') && !p.startsWith('/')) {
        if (p.startsWith('localhost/')) p = p.slice('localhost'.length);
        else bad(`${scheme}:// needs an absolute path (${scheme}:///path); a host is not allowed`);
      }
      try {
        p = decodeURIComponent(p);
      } catch {
        bad('bad %-escape in the path');
      }
      if (p === '' || p.endsWith('/')) bad('missing file name');
      if (p.includes('\0')) bad('NUL in the path');
      spec.path = isAbsolute(p) ? p : resolve(p);
      spec.url = new URL(`${scheme}://${encodeURI(spec.path).replace(/\?/g, '%3F').replace(/#/g, '%23')}`);
      if (scheme === 'file') parseFileOptions(spec, bad);
      break;
    }
    case 'udp': {
      const list = authority().replace(/\/$/, '');
      if (list === '') bad('missing IP:PORT');
      const parts = list.split(',');
      if (parts.length > UDP_MAX_SERVERS) bad(`at most ${UDP_MAX_SERVERS} servers, got ${parts.length}`);
      spec.servers = parts.map((p) => hostPort(p, undefined, bad));
      spec.url = urlOf('udp', spec.servers[0]!);
      break;
    }
    case 'syslog+udp':
    case 'syslog+tcp':
    case 'syslog+tls':
    case 'relp': {
      const a = authority().replace(/\/$/, '');
      if (a.includes(',')) bad('one server per syslog sink (give --sink once per server)');
      if (a.includes('/')) bad('a syslog address has no path');
      const hp = hostPort(a, scheme === 'syslog+tls' ? 6514 : scheme === 'relp' ? RELP_DEFAULT_PORT : 514, bad);
      spec.servers = [hp];
      spec.url = urlOf(scheme, hp);
      parseSyslogOptions(spec, bad);
      break;
    }
    default: {
      // a scheme with its own parser (the fleet schemes: host lists, options) checks the whole text
      const check = checks.get(scheme);
      if (check) {
        try {
          check(t, where);
        } catch (e) {
          const msg = (e as Error).message;
          bad(msg.startsWith(`${where}: `) ? msg.slice(where.length + 2) : msg);
        }
      }
      const u = firstHostUrl(t);
      spec.url = u ?? bad('not a valid URL');
    }
  }
}

function hostPort(text: string, def: number | undefined, bad: (m: string) => never): HostPort {
  try {
    return parseHostPort(text, def);
  } catch (e) {
    return bad((e as Error).message);
  }
}

function urlOf(scheme: string, hp: HostPort): URL {
  return new URL(`${scheme}://${hp.family === 6 ? `[${hp.host}]` : hp.host}:${hp.port}`);
}

function parseFormats(spec: SinkSpec, formats: string[], scheme: string, bad: (m: string) => never): void {
  const syslog = isSyslog(scheme);
  let framing: SyslogFormat | undefined;
  for (const f of formats) {
    const fr = /^(?:rfc)?(5424|3164)$/i.exec(f);
    if (syslog && fr) {
      if (framing) bad('syslog framing given twice');
      framing = fr[1] as SyslogFormat;
      continue;
    }
    if (!/^[a-z][a-z0-9-]*$/.test(f)) bad(`bad format "${f}"`);
    if (spec.format) bad('option "format" given twice');
    spec.format = f;
  }
  if (syslog) spec.syslog = defaultHeader(framing ?? '5424');
}

function parseDelivery(spec: SinkSpec, p: Record<string, string>, scheme: string, bad: (m: string) => never): void {
  const d = spec.delivery;
  const size = (k: string): number => {
    const v = parseSize(p[k]!);
    if (v === null || v <= 0) bad(`option ${k}=${p[k]} is not a size (e.g. 64MB, 1GiB, 4096)`);
    return v!;
  };
  const dur = (k: string, min = 0): number => {
    const v = parseDuration(p[k]!);
    if (v === null || v < min) bad(`option ${k}=${p[k]} is not a duration (e.g. 10ms, 5s, 1m)`);
    return v!;
  };
  if (p.policy !== undefined) {
    if (!POLICIES.includes(p.policy as OverloadPolicy)) bad(`option policy=${p.policy}: expected one of ${POLICIES.join(', ')}`);
    d.policy = p.policy as OverloadPolicy;
  }
  if (p.queue !== undefined) d.maxBytes = size('queue');
  if (p.batch !== undefined) {
    if (!/^\d{1,6}$/.test(p.batch) || Number(p.batch) < 1) bad(`option batch=${p.batch}: expected 1..999999 records`);
    d.batchMax = Number(p.batch);
  }
  if (p.confirm_ms !== undefined) d.confirmMs = dur('confirm_ms');
  else if (scheme === 'syslog+tcp' || scheme === 'syslog+tls' || scheme === 'unix') d.confirmMs = DEFAULT_STREAM_CONFIRM_MS;
  if (p.retry_min !== undefined || p.retry_max !== undefined) {
    const minMs = p.retry_min !== undefined ? dur('retry_min', 1) : 100;
    const maxMs = p.retry_max !== undefined ? dur('retry_max', 1) : Math.max(5000, minMs);
    if (maxMs < minMs) bad('retry_max is smaller than retry_min');
    d.retry = { minMs, maxMs };
  }
  const spoolOnly = ['spool_max', 'spool_segment', 'fsync_ms'].filter((k) => p[k] !== undefined);
  if (p.spool === undefined) {
    if (spoolOnly.length) bad(`option ${spoolOnly[0]} needs spool=DIR`);
    return;
  }
  if (p.spool === '' || p.spool.includes('\0')) bad('option spool= needs a directory');
  const spool: NonNullable<typeof d.spool> = { dir: resolve(p.spool), maxBytes: p.spool_max !== undefined ? size('spool_max') : DEFAULT_SPOOL_BYTES };
  if (p.spool_segment !== undefined) spool.segmentBytes = size('spool_segment');
  if (p.fsync_ms !== undefined) spool.fsyncMs = dur('fsync_ms');
  if (spool.maxBytes < 256 << 10) bad(`option spool_max=${p.spool_max} is below the minimum of 256KB`);
  d.spool = spool;
}

function parseFileOptions(spec: SinkSpec, bad: (m: string) => never): void {
  const p = spec.params;
  if (p.rotate !== undefined && (parseSize(p.rotate) ?? 0) <= 0) bad(`option rotate=${p.rotate} is not a size (e.g. 100MB)`);
  if (p.rotate_time !== undefined && (parseDuration(p.rotate_time) ?? 0) <= 0) bad(`option rotate_time=${p.rotate_time} is not a duration (e.g. 1h)`);
  if (p.keep !== undefined && !/^\d{1,4}$/.test(p.keep)) bad(`option keep=${p.keep}: expected a number of rotated files (0-9999)`);
}

function parseSyslogOptions(spec: SinkSpec, bad: (m: string) => never): void {
  const p = spec.params;
  const h = spec.syslog!;
  const pick = (k: string, names: readonly string[], max: number): number => {
    const v = p[k]!;
    const i = /^\d{1,2}$/.test(v) ? Number(v) : names.indexOf(v.toLowerCase());
    if (i < 0 || i > max) bad(`option ${k}=${v}: expected 0-${max} or a name (${names.join(', ')})`);
    return i;
  };
  if (p.facility !== undefined) h.facility = pick('facility', FACILITIES, 23);
  if (p.severity !== undefined) h.severity = pick('severity', SEVERITIES, 7);
  if (p.app !== undefined) {
    if (printable(p.app) !== p.app || p.app.length > 48) bad('option app= must be 1-48 printable ASCII characters without spaces');
    h.app = p.app;
  }
  if (p.hostname !== undefined) {
    if (printable(p.hostname) !== p.hostname || p.hostname === '') bad('option hostname= must be printable ASCII without spaces');
    h.hostname = p.hostname;
  }
  if (spec.scheme !== 'syslog+tls' && (p.ca || p.cert || p.key)) bad('ca/cert/key are for syslog+tls');
  if ((p.cert === undefined) !== (p.key === undefined)) bad('cert= and key= go together');
  if (p.window !== undefined && (!/^\d{1,6}$/.test(p.window) || Number(p.window) < 1)) bad(`option window=${p.window}: expected 1..999999 unanswered records`);
  if (p.ack_timeout !== undefined && (parseDuration(p.ack_timeout) ?? 0) <= 0) bad(`option ack_timeout=${p.ack_timeout} is not a duration (e.g. 30s)`);
}

/** Builds the sink of a parsed spec (files named by the spec, e.g. a CA, are read here). */
export function createSink(spec: SinkSpec, log: (line: string) => void = () => {}): Sink {
  const where = spec.text ?? spec.url.href;
  switch (spec.scheme) {
    case 'stdout':
      return new StdoutSink();
    case 'file': {
      const p = spec.params;
      return new FileSink({
        path: spec.path!,
        rotateBytes: p.rotate ? parseSize(p.rotate)! : 0,
        rotateMs: p.rotate_time ? parseDuration(p.rotate_time)! : 0,
        keep: p.keep !== undefined ? Number(p.keep) : 5,
      });
    }
    case 'udp':
      return new UdpSink(spec.servers!);
    case 'unix':
      return new UnixSink(spec.path!);
    case 'syslog+udp':
      return syslogUdpSink(spec.servers![0]!, spec.syslog!);
    case 'syslog+tcp': {
      const s = spec.servers![0]!;
      return new SyslogStreamSink({ kind: 'tcp', host: s.host, port: s.port }, spec.syslog!);
    }
    case 'relp': {
      const s = spec.servers![0]!;
      const p = spec.params;
      return new RelpSink({ kind: 'tcp', host: s.host, port: s.port }, spec.syslog!, {
        window: p.window !== undefined ? Number(p.window) : undefined,
        ackTimeoutMs: p.ack_timeout !== undefined ? parseDuration(p.ack_timeout)! : undefined,
      });
    }
    case 'syslog+tls': {
      const s = spec.servers![0]!;
      const p = spec.params;
      const read = (k: 'ca' | 'cert' | 'key'): Buffer | undefined => {
        if (p[k] === undefined) return undefined;
        try {
          return readFileSync(p[k]!);
        } catch (e) {
          throw new Error(`sink "${where}": cannot read ${k}=${p[k]}: ${(e as Error).message}`);
        }
      };
      const tls = { ca: read('ca'), cert: read('cert'), key: read('key'), servername: p.servername, rejectUnauthorized: true };
      return new SyslogStreamSink({ kind: 'tls', host: s.host, port: s.port, tls }, spec.syslog!);
    }
    default: {
      const f = registered.get(spec.scheme);
      if (!f) throw new Error(`sink "${where}": no sink for scheme ${spec.scheme}`);
      return f(spec, log);
    }
  }
}
