// Application payloads (-p) and DNS names of a socket record → ECS: network.protocol, dns.*,
// http.* with url.* and user_agent.*, log.syslog.* with message, and the remote side's domain
// with related.hosts. Reads what the protocol stage attached to the record (SockRecord.appKeys,
// kflowd's App objects, and SockRecord.remoteNames); decodes nothing again.
//
// One ECS document describes one flow, while ECS's dns.* and http.* describe one transaction:
// they hold the flow's first transaction (a DNS query and the response with its id; an HTTP
// request and the first response), log.syslog.* the first message that decoded. How many
// messages the flow carried, and how many did not decode, is in falconet.app.*.
import { isIP } from 'node:net';
import type { SockRecord } from '../../model/socket-record.js';
import type { EcsDoc, EcsValue } from './common.js';

type Msg = ReadonlyMap<string, unknown>;

const isMap = (v: unknown): v is Msg => v instanceof Map;
const str = (m: Msg, k: string): string | undefined => { const v = m.get(k); return typeof v === 'string' ? v : undefined; };
const int = (m: Msg, k: string): number | undefined => { const v = m.get(k); return typeof v === 'number' && Number.isInteger(v) ? v : undefined; };

/** A header by name, case-insensitively (heads keep the names as sent). */
function header(m: Msg, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of m) if (!k.startsWith('_') && k.toLowerCase() === want && typeof v === 'string') return v;
  return undefined;
}

function messages(r: SockRecord): { app?: string; tx: Msg[]; rx: Msg[] } {
  const out: { app?: string; tx: Msg[]; rx: Msg[] } = { tx: [], rx: [] };
  for (const [k, v] of r.appKeys ?? []) {
    if (k === 'App' && typeof v === 'string') out.app = v;
    else if (Array.isArray(v)) (k.startsWith('AppTx') ? out.tx : out.rx).push(...v.filter(isMap));
  }
  return out;
}

const IP_TYPES = new Set(['A', 'AAAA']);

function dnsFields(doc: EcsDoc, all: Msg[], hosts: string[]): void {
  const ok = all.filter((m) => !m.has('_Exception'));
  const query = ok.find((m) => m.has('OpCode'));
  const responses = ok.filter((m) => m.has('ResponseCode'));
  const id = query ? int(query, 'TransactionId') : undefined;
  const resp = responses.find((m) => int(m, 'TransactionId') === id) ?? (query ? undefined : responses[0]);
  const head = query ?? resp;
  if (!head) return;
  const dns: EcsDoc = { type: resp ? 'answer' : 'query' };
  const tid = int(head, 'TransactionId');
  if (tid !== undefined) dns['id'] = String(tid);
  if (query && str(query, 'OpCode')) dns['op_code'] = str(query, 'OpCode')!;
  const flags = (resp ?? head).get('Flags');
  if (Array.isArray(flags)) dns['header_flags'] = flags.filter((f): f is string => typeof f === 'string');
  if (resp && str(resp, 'ResponseCode')) dns['response_code'] = str(resp, 'ResponseCode')!;
  const q = query?.get('ResourceRecords');
  if (Array.isArray(q) && Array.isArray(q[0])) {
    const [type, name] = q[0] as unknown[];
    if (typeof name === 'string') { dns['question'] = { name, ...(typeof type === 'string' ? { type } : {}) }; hosts.push(name); }
  }
  const rrs = resp?.get('ResourceRecords');
  if (Array.isArray(rrs)) {
    const answers: EcsDoc[] = [];
    const ips: string[] = [];
    for (const rr of rrs) {
      if (!Array.isArray(rr)) continue;
      const [type, name, ttl, cls, data] = rr as unknown[];
      const a: EcsDoc = {};
      if (typeof name === 'string') a['name'] = name;
      if (typeof type === 'string') a['type'] = type;
      if (typeof cls === 'string') a['class'] = cls;
      if (typeof ttl === 'number') a['ttl'] = ttl;
      if (typeof data === 'string') a['data'] = data;
      answers.push(a);
      // an address of the wrong length is shown as RFC 3597 hex: not an IP
      if (typeof type === 'string' && IP_TYPES.has(type) && typeof data === 'string' && isIP(data)) ips.push(data);
    }
    if (answers.length) dns['answers'] = answers;
    if (ips.length) dns['resolved_ip'] = ips;
  }
  doc['dns'] = dns;
}

/** Content-Length as a number, when it is one. */
function length(m: Msg): number | undefined {
  const v = header(m, 'Content-Length');
  return v !== undefined && /^\d{1,15}$/.test(v.trim()) ? Number(v.trim()) : undefined;
}

/** Host header → domain and port ("[::1]:8080" → "::1", 8080). */
function hostPort(h: string): { domain: string; port?: number } {
  const m = /^\[([^\]]*)\](?::(\d{1,5}))?$/.exec(h) ?? /^([^:]*)(?::(\d{1,5}))?$/.exec(h);
  if (!m) return { domain: h };
  return { domain: m[1]!, ...(m[2] !== undefined ? { port: Number(m[2]) } : {}) };
}

function httpFields(doc: EcsDoc, r: SockRecord, tx: Msg[], rx: Msg[], hosts: string[]): void {
  // requests leave a client and reach a server
  const [reqSide, respSide] = r.role === 'SERVER' ? [rx, tx] : [tx, rx];
  const req = reqSide.find((m) => m.has('_Method')) ?? [...tx, ...rx].find((m) => m.has('_Method'));
  const resp = respSide.find((m) => m.has('_Status')) ?? [...tx, ...rx].find((m) => m.has('_Status'));
  if (!req && !resp) return;
  const http: EcsDoc = {};
  const version = str(req ?? resp!, '_Version');
  if (version) http['version'] = version.replace(/^HTTP\//, '');
  if (req) {
    const request: EcsDoc = { method: str(req, '_Method')! };
    const referrer = header(req, 'Referer');
    if (referrer !== undefined) request['referrer'] = referrer;
    const mime = header(req, 'Content-Type');
    if (mime !== undefined) request['mime_type'] = mime;
    const n = length(req);
    if (n !== undefined) request['body'] = { bytes: n };
    http['request'] = request;
    const target = str(req, '_Url');
    if (target !== undefined) {
      const url: EcsDoc = { original: target };
      const q = target.indexOf('?');
      // origin-form "/p?q" (absolute-form "http://h/p" is left whole in url.original)
      if (target.startsWith('/')) {
        url['path'] = q < 0 ? target : target.slice(0, q);
        if (q >= 0) url['query'] = target.slice(q + 1);
      }
      const host = header(req, 'Host');
      if (host) {
        const hp = hostPort(host.trim());
        if (hp.domain) { url['domain'] = hp.domain; hosts.push(hp.domain); }
        if (hp.port !== undefined) url['port'] = hp.port;
      }
      doc['url'] = url;
    }
    const ua = header(req, 'User-Agent');
    if (ua !== undefined) doc['user_agent'] = { original: ua };
  }
  if (resp) {
    const response: EcsDoc = { status_code: int(resp, '_Status')! };
    const mime = header(resp, 'Content-Type');
    if (mime !== undefined) response['mime_type'] = mime;
    const n = length(resp);
    if (n !== undefined) response['body'] = { bytes: n };
    http['response'] = response;
  }
  doc['http'] = http;
}

/** RFC 5424 facility keywords (what rsyslog's %syslogfacility-text% prints). */
const FACILITY = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'ntp', 'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];

/**
 * RFC 5424 STRUCTURED-DATA → { "SD-ID": { "PARAM": "value" } } (log.syslog.structured_data is a
 * flattened field). undefined when the text is not well-formed structured data.
 */
export function parseStructuredData(text: string): EcsDoc | undefined {
  const out: EcsDoc = {};
  let i = 0;
  const name = (): string => {
    const s = i;
    while (i < text.length && !' =]"'.includes(text[i]!)) i++;
    return text.slice(s, i);
  };
  while (i < text.length) {
    if (text[i] !== '[') return undefined;
    i++;
    const id = name();
    if (!id) return undefined;
    const params: EcsDoc = {};
    while (text[i] === ' ') {
      i++;
      const k = name();
      if (!k || text[i] !== '=' || text[i + 1] !== '"') return undefined;
      i += 2;
      let v = '';
      for (;;) {
        if (i >= text.length) return undefined;
        const c = text[i++]!;
        if (c === '"') break;
        if (c === '\\' && i < text.length && '"\\]'.includes(text[i]!)) v += text[i++]!;
        else v += c;
      }
      params[k] = v;
    }
    if (text[i] !== ']') return undefined;
    i++;
    out[id] = params;
  }
  return Object.keys(out).length ? out : undefined;
}

function syslogFields(doc: EcsDoc, all: Msg[]): void {
  const m = all.find((x) => !x.has('_Exception') && int(x, 'Priority') !== undefined);
  if (!m) return;
  const pri = int(m, 'Priority')!;
  const sev = /^(.*) \(\d\)$/.exec(str(m, 'Severity') ?? '');
  const syslog: EcsDoc = {
    priority: pri,
    facility: { code: pri >> 3, name: FACILITY[pri >> 3] ?? String(pri >> 3) },
    severity: { code: pri & 7, ...(sev ? { name: sev[1]! } : {}) },
  };
  if (int(m, 'Version') === 1) syslog['version'] = '1';
  for (const [k, e] of [['Appname', 'appname'], ['Hostname', 'hostname'], ['ProcId', 'procid'], ['MsgId', 'msgid']] as const) {
    const v = str(m, k);
    if (v) syslog[e] = v;
  }
  const data = str(m, 'Data');
  const sd = data ? parseStructuredData(data) : undefined;
  if (sd) syslog['structured_data'] = sd;
  const log = (doc['log'] ?? {}) as EcsDoc;
  log['syslog'] = syslog;
  doc['log'] = log;
  const text = str(m, 'Message');
  if (text !== undefined) doc['message'] = text;
}

/**
 * Adds the App and name fields of a socket record to its ECS document (a no-op for a record
 * without them). `doc` already has source/destination/client/server and falconet.
 */
export function appFields(doc: EcsDoc, r: SockRecord): void {
  const hosts: string[] = [];
  const names = r.remoteNames ?? [];
  if (names.length && r.family !== 'AF_UNIX') {
    // the remote side is the destination of a client's flow, the source of a server's
    const remote = r.role === 'SERVER' ? ['source', 'client'] : ['destination', 'server'];
    for (const k of remote) { const side = doc[k] as EcsDoc | undefined; if (side) side['domain'] = names[0]!; }
    hosts.push(...names);
  }
  const { app, tx, rx } = messages(r);
  if (app) {
    const all = [...tx, ...rx];
    const network = (doc['network'] ?? {}) as EcsDoc;
    network['protocol'] = app.toLowerCase();
    doc['network'] = network;
    if (app === 'DNS') dnsFields(doc, all, hosts);
    else if (app === 'HTTP') httpFields(doc, r, tx, rx, hosts);
    else if (app === 'SYSLOG') syslogFields(doc, all);
    const falconet = (doc['falconet'] ?? {}) as EcsDoc;
    falconet['app'] = {
      tx_messages: tx.length, rx_messages: rx.length,
      exceptions: all.filter((m) => m.has('_Exception')).length,
    };
    doc['falconet'] = falconet;
  }
  if (hosts.length) {
    const related = (doc['related'] ?? {}) as EcsDoc;
    const before = Array.isArray(related['hosts']) ? (related['hosts'] as EcsValue[]) : [];
    related['hosts'] = [...new Set([...before, ...hosts])];
    doc['related'] = related;
  }
}
