// Elasticsearch sink (official @elastic/elasticsearch client, _bulk API) with sf-processor's es.*
// settings: addresses, index, username/password, bulk buffer size, flush timeout, workers.
// Each document's _id is its record id, so a re-sent batch overwrites instead of duplicating.
// Per item: 429 and 5xx are returned failed with retry (only those items go again); other 4xx
// are rejected for good: counted and appended to a dead-letter file with the reason.
import { Client, errors } from '@elastic/elasticsearch';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import { registerSinkScheme } from './registry.js';
import { parseBytes, parseDurationMs, parseFleetUrl, parseIntParam } from '../util/fleet-url.js';

export interface EsSinkOptions {
  /** es.addresses */
  addresses: string[];
  /** es.index */
  index: string;
  /** es.username / es.password */
  username?: string;
  password?: string;
  /** es.bulk.flushBuffer: bytes per _bulk request (a batch larger than this is split) */
  flushBufferBytes: number;
  /** es.bulk.flushTimeout: how long one _bulk request may take */
  flushTimeoutMs: number;
  /** es.bulk.numWorkers: _bulk requests in flight at once */
  workers: number;
  /** where rejected documents go, one JSON line each */
  deadLetterPath: string;
  /** TLS: skip certificate checks (es.insecure) */
  insecure: boolean;
  name?: string;
}

export const ES_DEFAULTS = { flushBufferBytes: 5 * 1024 * 1024, flushTimeoutMs: 30_000, workers: 2, deadLetterPath: 'falconet-es-dead-letter.ndjson' };

/** `es+http(s)://[user:pass@]host:port[,host:port]/index?workers=2&flush_buffer=5MB&flush_timeout=30s&dead_letter=PATH` */
export function parseEsSinkUrl(text: string, where: string): EsSinkOptions {
  const u = parseFleetUrl(text, where, 9200);
  if (u.scheme !== 'es+http' && u.scheme !== 'es+https') throw new Error(`${where}: scheme '${u.scheme}' is not es+http or es+https`);
  const proto = u.scheme === 'es+https' ? 'https' : 'http';
  const p = u.params;
  return checkEs({
    addresses: u.hosts.map((h) => `${proto}://${h}`),
    index: u.path.replace(/\/+$/, ''),
    username: u.user ?? p['username'],
    password: u.password ?? p['password'],
    flushBufferBytes: p['flush_buffer'] ? parseBytes(p['flush_buffer'], `${where} flush_buffer`) : ES_DEFAULTS.flushBufferBytes,
    flushTimeoutMs: p['flush_timeout'] ? parseDurationMs(p['flush_timeout'], `${where} flush_timeout`) : ES_DEFAULTS.flushTimeoutMs,
    workers: parseIntParam(p, 'workers', where, ES_DEFAULTS.workers, 1, 64),
    deadLetterPath: p['dead_letter'] ?? ES_DEFAULTS.deadLetterPath,
    insecure: p['insecure'] === 'true',
  }, where);
}

/**
 * sf-processor's exporter settings (pipeline.json "es.addresses", "es.index", "es.username",
 * "es.password", "es.bulk.numWorkers", "es.bulk.flushBuffer", "es.bulk.flushTimeout").
 */
export function esOptionsFromSettings(s: Record<string, string>, where: string): EsSinkOptions {
  const addresses = (s['es.addresses'] ?? '').split(',').map((a) => a.trim()).filter((a) => a);
  if (!addresses.length) throw new Error(`${where}: es.addresses is empty`);
  for (const a of addresses) if (!/^https?:\/\/[^/]+/.test(a)) throw new Error(`${where}: es.addresses entry '${a}' is not an http(s) URL`);
  return checkEs({
    addresses,
    index: s['es.index'] ?? '',
    username: s['es.username'] || undefined,
    password: s['es.password'] || undefined,
    flushBufferBytes: s['es.bulk.flushBuffer'] ? parseBytes(s['es.bulk.flushBuffer'], `${where} es.bulk.flushBuffer`) : ES_DEFAULTS.flushBufferBytes,
    flushTimeoutMs: s['es.bulk.flushTimeout'] ? parseDurationMs(s['es.bulk.flushTimeout'], `${where} es.bulk.flushTimeout`) : ES_DEFAULTS.flushTimeoutMs,
    workers: parseIntParam(s, 'es.bulk.numWorkers', where, ES_DEFAULTS.workers, 1, 64),
    deadLetterPath: s['es.deadLetter'] ?? ES_DEFAULTS.deadLetterPath,
    insecure: s['es.insecure'] === 'true',
  }, where);
}

function checkEs(o: EsSinkOptions, where: string): EsSinkOptions {
  // Elasticsearch index names: lowercase, no \ / * ? " < > | space , # and not starting with - _ +
  if (!o.index || !/^[^-_+\\/*?"<>| ,#A-Z][^\\/*?"<>| ,#A-Z]*$/.test(o.index)) {
    throw new Error(`${where}: index '${o.index}' is not a valid Elasticsearch index name (lowercase, no \\ / * ? " < > | , # or spaces)`);
  }
  if (o.flushBufferBytes < 1024) throw new Error(`${where}: flush buffer ${o.flushBufferBytes} bytes is below 1 KiB`);
  return o;
}

type Failure = { index: number; retry: boolean; reason: string };

interface BulkItemResult { status: number; error?: { type?: string; reason?: string } }

export class ElasticsearchSink implements Sink {
  readonly name: string;
  private client: Client | undefined;
  readonly stats = { indexed: 0, retried: 0, deadLettered: 0, requests: 0 };

  constructor(private readonly opts: EsSinkOptions) {
    this.name = opts.name ?? `es:${opts.index}`;
  }

  async open(): Promise<void> {
    if (this.client) return;
    const o = this.opts;
    this.client = new Client({
      nodes: o.addresses,
      ...(o.username !== undefined ? { auth: { username: o.username, password: o.password ?? '' } } : {}),
      // retries are ours, per item, through the delivery queue
      maxRetries: 0,
      requestTimeout: o.flushTimeoutMs,
      ...(o.insecure ? { tls: { rejectUnauthorized: false } } : {}),
    });
  }

  /** Splits the batch into _bulk bodies of at most flushBufferBytes (at least one item each). */
  private chunks(batch: readonly SinkItem[]): { start: number; lines: string[] }[] {
    const out: { start: number; lines: string[] }[] = [];
    let cur: { start: number; lines: string[] } | undefined;
    let bytes = 0;
    batch.forEach((it, i) => {
      const action = JSON.stringify({ index: { _index: this.opts.index, _id: recordIdString(it.id) } });
      const doc = Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength).toString('utf8');
      const size = action.length + doc.length + 2;
      if (!cur || bytes + size > this.opts.flushBufferBytes) {
        cur = { start: i, lines: [] };
        out.push(cur);
        bytes = 0;
      }
      cur.lines.push(action, doc);
      bytes += size;
    });
    return out;
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    if (!batch.length) return {};
    await this.open();
    const chunks = this.chunks(batch);
    const failed: Failure[] = [];
    const dead: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const c = chunks[next++]!;
        await this.sendChunk(batch, c.start, c.lines, failed, dead);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.workers, chunks.length) }, worker));
    if (dead.length) {
      await mkdir(dirname(this.opts.deadLetterPath), { recursive: true });
      await appendFile(this.opts.deadLetterPath, dead.join(''));
    }
    failed.sort((a, b) => a.index - b.index);
    if (failed.length === batch.length && failed.every((f) => f.retry)) {
      throw new Error(`elasticsearch: no document of ${batch.length} accepted: ${failed[0]!.reason}`);
    }
    return failed.length ? { failed } : {};
  }

  private async sendChunk(batch: readonly SinkItem[], start: number, lines: string[], failed: Failure[], dead: string[]): Promise<void> {
    const n = lines.length / 2;
    this.stats.requests++;
    let items: Record<string, BulkItemResult>[];
    try {
      const res = await this.client!.bulk({ operations: lines });
      items = res.items as unknown as Record<string, BulkItemResult>[];
    } catch (e) {
      // the whole request failed (connection, 429/5xx for the request): every item may go again
      const status = e instanceof errors.ResponseError ? e.statusCode : undefined;
      const retry = status === undefined || status === 429 || status >= 500;
      const reason = status !== undefined ? `HTTP ${status} for the _bulk request` : (e as Error).message;
      for (let i = 0; i < n; i++) failed.push({ index: start + i, retry, reason });
      if (retry) this.stats.retried += n;
      else for (let i = 0; i < n; i++) this.deadLetter(batch[start + i]!, status ?? 0, reason, dead);
      return;
    }
    if (items.length !== n) {
      for (let i = 0; i < n; i++) failed.push({ index: start + i, retry: true, reason: `_bulk answered ${items.length} items for ${n}` });
      this.stats.retried += n;
      return;
    }
    items.forEach((entry, i) => {
      const r = Object.values(entry)[0]!;
      if (r.status >= 200 && r.status < 300) { this.stats.indexed++; return; }
      const reason = `${r.status} ${r.error?.type ?? ''}${r.error?.reason ? `: ${r.error.reason}` : ''}`.trim();
      if (r.status === 429 || r.status >= 500) {
        this.stats.retried++;
        failed.push({ index: start + i, retry: true, reason });
      } else {
        failed.push({ index: start + i, retry: false, reason });
        this.deadLetter(batch[start + i]!, r.status, reason, dead);
      }
    });
  }

  private deadLetter(it: SinkItem, status: number, reason: string, dead: string[]): void {
    this.stats.deadLettered++;
    const doc = Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength).toString('utf8');
    dead.push(`${JSON.stringify({ id: recordIdString(it.id), kind: it.kind, index: this.opts.index, status, reason, document: doc })}\n`);
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.close();
  }
}

/** Plugs the scheme into the sink registry (parseSinkUrl/createSink, --sink, pipeline.json). */
export function registerElasticsearch(register: typeof registerSinkScheme = registerSinkScheme): void {
  for (const scheme of ['es+http', 'es+https']) register(scheme, (spec) => new ElasticsearchSink(parseEsSinkUrl(spec.text ?? spec.url.href, spec.text ?? 'sink')), parseEsSinkUrl);
}
