// DNS messages → kflowd's AppTxDns/AppRxDns objects (kflowd.c:678-728). Pure: bytes in, a
// decoded message or kflowd's exception object out; never throws. Sections are decoded with
// dns-packet's per-part decoders and only as far as they are needed: header, questions,
// answers (authority and additional sections are not shown, so a capture cut inside them
// still decodes). Differences from kflowd, on purpose: every answer is listed (kflowd: 8), every
// type and rcode with its IANA name (kflowd names 8 types and 4 rcodes), and rdata in DNS
// presentation format, e.g. MX "10 mail.example.com", TXT "\"a b\" \"c\"".
import dnsPacket from 'dns-packet';
import { toString as typeName } from 'dns-packet/types.js';
import { toString as className } from 'dns-packet/classes.js';
import { toString as opcodeName } from 'dns-packet/opcodes.js';
import { toString as rcodeName } from 'dns-packet/rcodes.js';
import type { JObject, JValue } from '../format/json.js';

export interface DnsQuestion {
  type: string;
  name: string;
}

export interface DnsAnswer {
  type: string;
  name: string;
  ttl: number;
  cls: string;
  /** rdata in presentation format */
  data: string;
}

export interface DnsMessage {
  id: number;
  /** QR bit: a response */
  response: boolean;
  opcode: string;
  rcode: string;
  /** set bits among QR, AA, TC, RD, RA (kflowd shows no others) */
  flags: string[];
  questions: DnsQuestion[];
  answerCount: number;
  answers: DnsAnswer[];
}

export const DNS_EXCEPTION = 'DNS Message Decoder';

/** kflowd's object for a message it could not decode. */
export function dnsException(): JObject {
  return new Map<string, JValue>([['_Exception', DNS_EXCEPTION]]);
}

const FLAG_BITS: [string, number][] = [['QR', 15], ['AA', 10], ['TC', 9], ['RD', 8], ['RA', 7]];

/** kflowd writes FORMERROR; the other names are IANA's (dns-packet's). */
function rcodeText(rcode: number): string {
  return rcode === 1 ? 'FORMERROR' : rcodeName(rcode);
}

/** An unknown type is its number, as kflowd shows types it has no name for. */
function typeText(type: number): string {
  const n = typeName(type);
  return n.startsWith('UNKNOWN_') ? String(type) : n;
}

function classText(klass: number): string {
  const n = className(klass);
  return n.startsWith('UNKNOWN_') ? `CLASS${klass}` : n;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex').toUpperCase();

/** RFC 1035 character-string in presentation form: quoted, `"` and `\` escaped, bytes outside
 * printable ASCII as \DDD. */
export function quoteCharString(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c > 0x7e) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s + '"';
}

interface Named { [k: string]: unknown }
const num = (o: Named, k: string) => String(o[k] as number);
const str = (o: Named, k: string) => String(o[k]);
const bytesOf = (o: Named, k: string): Uint8Array => (o[k] instanceof Uint8Array ? (o[k] as Uint8Array) : new Uint8Array(0));

/** rdata of one record in presentation format; types without a formatter (and every type whose
 * decoder fails on its rdata) are shown in RFC 3597's generic form `\# LEN HEX`. */
function rdataText(buf: Buffer, type: string, rdlenAt: number, rdlen: number): string {
  const raw = buf.subarray(rdlenAt + 2, rdlenAt + 2 + rdlen);
  const generic = () => `\\# ${rdlen}${rdlen ? ' ' + hex(raw) : ''}`;
  try {
    // each formatter sees only this record's rdata (plus the earlier bytes, for name pointers)
    const view = buf.subarray(0, rdlenAt + 2 + rdlen);
    const d = dnsPacket.record(type).decode(view, rdlenAt) as unknown;
    switch (type) {
      case 'A': case 'AAAA':
        if (rdlen !== (type === 'A' ? 4 : 16)) return generic();
        return String(d);
      case 'NS': case 'CNAME': case 'PTR': case 'DNAME':
        return String(d);
      case 'MX': return `${num(d as Named, 'preference')} ${str(d as Named, 'exchange')}`;
      case 'SRV': { const o = d as Named; return `${num(o, 'priority')} ${num(o, 'weight')} ${num(o, 'port')} ${str(o, 'target')}`; }
      case 'TXT': return (d as Uint8Array[]).map(quoteCharString).join(' ');
      case 'SOA': {
        const o = d as Named;
        return ['mname', 'rname', 'serial', 'refresh', 'retry', 'expire', 'minimum'].map((k) => String(o[k])).join(' ');
      }
      case 'CAA': { const o = d as Named; return `${num(o, 'flags')} ${str(o, 'tag')} ${quoteCharString(Buffer.from(str(o, 'value')))}`; }
      case 'HINFO': { const o = d as Named; return `${quoteCharString(Buffer.from(str(o, 'cpu')))} ${quoteCharString(Buffer.from(str(o, 'os')))}`; }
      case 'DS': { const o = d as Named; return `${num(o, 'keyTag')} ${num(o, 'algorithm')} ${num(o, 'digestType')} ${hex(bytesOf(o, 'digest'))}`; }
      case 'SSHFP': { const o = d as Named; return `${num(o, 'algorithm')} ${num(o, 'hash')} ${str(o, 'fingerprint').toUpperCase()}`; }
      case 'TLSA': { const o = d as Named; return `${num(o, 'usage')} ${num(o, 'selector')} ${num(o, 'matchingType')} ${hex(bytesOf(o, 'certificate'))}`; }
      case 'NAPTR': {
        const o = d as Named;
        const q = (k: string) => quoteCharString(Buffer.from(str(o, k)));
        return `${num(o, 'order')} ${num(o, 'preference')} ${q('flags')} ${q('services')} ${q('regexp')} ${str(o, 'replacement')}`;
      }
      default: return generic();
    }
  } catch {
    return generic();
  }
}

/** Decodes one DNS message (no TCP length prefix). Returns undefined when the bytes are not a
 * DNS message: short header, a question or answer that runs past the end, a bad name. */
export function parseDns(bytes: Uint8Array): DnsMessage | undefined {
  // a captured response is decoded for the name cache when it arrives and again for its record
  const hit = memo.get(bytes);
  if (hit !== undefined) return hit ?? undefined;
  let m: DnsMessage | undefined;
  try {
    m = parseOrThrow(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch {
    m = undefined;
  }
  memo.set(bytes, m ?? null);
  return m;
}

const memo = new WeakMap<Uint8Array, DnsMessage | null>();

function parseOrThrow(buf: Buffer): DnsMessage {
  if (buf.length < 12) throw new Error('short header');
  const id = buf.readUInt16BE(0);
  const bits = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const flags = FLAG_BITS.filter(([, b]) => (bits >> b) & 1).map(([n]) => n);
  const msg: DnsMessage = {
    id,
    response: ((bits >> 15) & 1) === 1,
    opcode: opcodeName((bits >> 11) & 0xf),
    rcode: rcodeText(bits & 0xf),
    flags,
    questions: [],
    answerCount: an,
    answers: [],
  };
  let off = 12;
  for (let i = 0; i < qd; i++) {
    const name = dnsPacket.name.decode(buf, off);
    off += dnsPacket.name.decode.bytes;
    if (off + 4 > buf.length) throw new Error('question past the end');
    msg.questions.push({ type: typeText(buf.readUInt16BE(off)), name });
    off += 4;
  }
  if (!msg.response) return msg;
  for (let i = 0; i < an; i++) {
    const name = dnsPacket.name.decode(buf, off);
    off += dnsPacket.name.decode.bytes;
    if (off + 10 > buf.length) throw new Error('answer past the end');
    const type = typeText(buf.readUInt16BE(off));
    const cls = classText(buf.readUInt16BE(off + 2) & 0x7fff); // top bit: mDNS cache-flush
    const ttl = buf.readUInt32BE(off + 4);
    const rdlen = buf.readUInt16BE(off + 8);
    if (off + 10 + rdlen > buf.length) throw new Error('rdata past the end');
    msg.answers.push({ type, name, ttl, cls, data: rdataText(buf, type, off + 8, rdlen) });
    off += 10 + rdlen;
  }
  return msg;
}

/** kflowd's keys for a decoded message, without `_Timestamp` (the record adds it). */
export function dnsJson(m: DnsMessage): JObject {
  const o: JObject = new Map();
  o.set('TransactionId', m.id);
  if (m.response) o.set('ResponseCode', m.rcode);
  else o.set('OpCode', m.opcode);
  o.set('Flags', m.flags);
  if (m.response) {
    o.set('AnswerCount', m.answerCount);
    o.set('ResourceRecords', m.answers.map((a) => [a.type, a.name, a.ttl, a.cls, a.data]));
  } else {
    o.set('ResourceRecords', m.questions.map((q) => [q.type, q.name]));
  }
  return o;
}

/**
 * DNS over TCP: messages behind a 2-byte length (RFC 1035 4.2.2). Returns each complete message
 * with the offset where its prefix starts, and how many bytes at the end are an incomplete one.
 */
export function splitTcpDns(stream: Uint8Array): { messages: { at: number; bytes: Uint8Array }[]; incomplete: number } {
  const messages: { at: number; bytes: Uint8Array }[] = [];
  let off = 0;
  while (off + 2 <= stream.length) {
    const len = (stream[off]! << 8) | stream[off + 1]!;
    if (off + 2 + len > stream.length) break;
    messages.push({ at: off, bytes: stream.subarray(off + 2, off + 2 + len) });
    off += 2 + len;
  }
  return { messages, incomplete: stream.length - off };
}
