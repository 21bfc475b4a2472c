// Elasticsearch sink against a _bulk protocol stub written here (no Elasticsearch can be
// installed): it answers like Elasticsearch 8 (x-elastic-product header, per-item statuses) and
// is scripted to fail — a 503 for a whole request, a 429 item, a 400 item — so that retries of
// only the failed items and dead-lettering are proved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElasticsearchSink, esOptionsFromSettings, parseEsSinkUrl } from '../../src/sinks/elasticsearch.js';
import { recordIdString, type SinkItem } from '../../src/pipeline/types.js';
import { items } from './nats-helpers.js';

interface Stub { url: string; docs: Map<string, string>; requests: { path: string; items: number; bytes: number; first?: string; auth?: string }[]; close(): Promise<void> }

/** script(requestNo, id, doc) → item status, or 'fail-request' handled by failRequest */
async function bulkStub(itemStatus: (req: number, id: string, doc: string) => number, failRequest: (req: number) => number | undefined): Promise<Stub> {
  const docs = new Map<string, string>();
  const requests: Stub['requests'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-elastic-product', 'Elasticsearch');
      res.setHeader('content-type', 'application/json');
      const n = requests.length + 1;
      const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l);
      requests.push({ path: `${req.method} ${req.url}`, items: lines.length / 2, bytes: Buffer.concat(chunks).length, first: lines[0] ? (JSON.parse(lines[0]) as { index: { _id: string } }).index._id : undefined, auth: req.headers.authorization });
      if (req.method !== 'POST' || !/\/_bulk(\?|$)/.test(req.url ?? '')) { res.statusCode = 404; res.end('{}'); return; }
      const whole = failRequest(n);
      if (whole) { res.statusCode = whole; res.end(JSON.stringify({ error: { type: 'unavailable', reason: 'scripted' }, status: whole })); return; }
      const out: unknown[] = [];
      for (let i = 0; i < lines.length; i += 2) {
        const action = JSON.parse(lines[i]!) as { index: { _index: string; _id: string } };
        const id = action.index._id;
        const status = itemStatus(n, id, lines[i + 1]!);
        if (status === 201) docs.set(id, lines[i + 1]!);
        out.push({ index: { _index: action.index._index, _id: id, status, ...(status === 201 ? { result: 'created' } : {
          error: status === 429 ? { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' }
            : { type: 'mapper_parsing_exception', reason: 'failed to parse field [source.port] of type [long]' } }) } });
      }
      res.end(JSON.stringify({ took: 1, errors: out.some((o) => (o as { index: { status: number } }).index.status !== 201), items: out }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `127.0.0.1:${port}`, docs, requests, close: () => new Promise((r) => server.close(() => r())) };
}

test('es settings: sf-processor es.* keys and URL form; bad values named', () => {
  const o = esOptionsFromSettings({ 'es.addresses': 'http://a:9200, https://b:9201', 'es.index': 'falconet-alerts', 'es.username': 'elastic', 'es.password': 'pw',
    'es.bulk.numWorkers': '4', 'es.bulk.flushBuffer': '1MB', 'es.bulk.flushTimeout': '10s' }, 'pipeline.json:7');
  assert.deepEqual([o.addresses, o.index, o.username, o.password, o.workers, o.flushBufferBytes, o.flushTimeoutMs],
    [['http://a:9200', 'https://b:9201'], 'falconet-alerts', 'elastic', 'pw', 4, 1024 * 1024, 10_000]);
  const u = parseEsSinkUrl('es+https://u:p@h1,h2:9300/events?workers=3', '--sink #1');
  assert.deepEqual([u.addresses, u.index, u.username, u.workers], [['https://h1:9200', 'https://h2:9300'], 'events', 'u', 3]);
  assert.throws(() => parseEsSinkUrl('es+http://h/Bad', '--sink #2'), /--sink #2: index 'Bad' is not a valid Elasticsearch index name/);
  assert.throws(() => esOptionsFromSettings({ 'es.addresses': 'a:9200', 'es.index': 'x' }, 'p:3'), /p:3: es.addresses entry 'a:9200' is not an http\(s\) URL/);
  assert.throws(() => esOptionsFromSettings({ 'es.addresses': 'http://a', 'es.index': 'x', 'es.bulk.numWorkers': '0' }, 'p:4'), /es.bulk.numWorkers=0 must be an integer in 1..64/);
});

test('es: 503 request, 429 item, 400 item: only failed items retried, 4xx dead-lettered with the reason', async () => {
  const all = items(10, 0, 'h');
  const id = (i: number) => recordIdString(all[i]!.id);
  const stub = await bulkStub(
    (req, docId) => (docId === id(3) ? 400 : docId === id(5) && req === 2 ? 429 : 201),
    (req) => (req === 1 ? 503 : undefined),
  );
  const dir = mkdtempSync(join(tmpdir(), 'falconet-es-'));
  const dl = join(dir, 'dead', 'es.ndjson');
  const sink = new ElasticsearchSink(parseEsSinkUrl(`es+http://elastic:secret@${stub.url}/falconet-events?dead_letter=${encodeURIComponent(dl)}&workers=1`, 't'));
  try {
    // 1: the whole request answered 503 → the whole batch failed, may be retried → throws
    await assert.rejects(sink.send(all), /no document of 10 accepted: HTTP 503/);
    assert.equal(stub.docs.size, 0);
    // 2: per-item answers
    const r2 = await sink.send(all);
    assert.deepEqual(r2.failed?.map((f) => [f.index, f.retry]), [[3, false], [5, true]]);
    assert.match(r2.failed![0]!.reason, /^400 mapper_parsing_exception: failed to parse field/);
    assert.match(r2.failed![1]!.reason, /^429 es_rejected_execution_exception/);
    assert.equal(stub.docs.size, 8);
    // 3: the caller re-sends only what may be retried
    const again: SinkItem[] = r2.failed!.filter((f) => f.retry).map((f) => all[f.index]!);
    assert.deepEqual(await sink.send(again), {});
    assert.equal(stub.docs.size, 9);
    assert.deepEqual(stub.requests.map((r) => [r.path, r.items]), [['POST /_bulk', 10], ['POST /_bulk', 10], ['POST /_bulk', 1]]);
    assert.equal(stub.requests[0]!.auth, `Basic ${Buffer.from('elastic:secret').toString('base64')}`);
    assert.ok(!stub.docs.has(id(3)));
    assert.equal(stub.docs.get(id(0)), Buffer.from(all[0]!.data).toString());
    const dead = readFileSync(dl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(dead.length, 1);
    assert.deepEqual([dead[0]!['id'], dead[0]!['status'], dead[0]!['index'], dead[0]!['document']], [id(3), 400, 'falconet-events', Buffer.from(all[3]!.data).toString()]);
    assert.match(String(dead[0]!['reason']), /mapper_parsing_exception/);
    assert.deepEqual(sink.stats, { indexed: 9, retried: 11, deadLettered: 1, requests: 3 });
  } finally {
    await sink.close();
    await stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('es: a batch larger than the flush buffer is split over workers; _id makes re-sends idempotent', async () => {
  const stub = await bulkStub(() => 201, () => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'falconet-es-'));
  const sink = new ElasticsearchSink(parseEsSinkUrl(`es+http://${stub.url}/ev?flush_buffer=2kb&workers=3&dead_letter=${encodeURIComponent(join(dir, 'dl'))}`, 't'));
  try {
    const all = items(100, 0, 'h');
    assert.deepEqual(await sink.send(all), {});
    assert.deepEqual(await sink.send(all), {});
    // every body within 2 KiB, full: the next item would not have fitted
    const sizes = all.map((it) => JSON.stringify({ index: { _index: 'ev', _id: recordIdString(it.id) } }).length + it.data.length + 2);
    let at = 0;
    const firstRound = stub.requests.slice(0, stub.requests.length / 2);
    // workers run concurrently: put the requests back in batch order by their first item
    firstRound.sort((a, b) => Number(a.first!.split(':')[2]) - Number(b.first!.split(':')[2]));
    for (const r of firstRound) {
      const body = sizes.slice(at, at + r.items).reduce((a, b) => a + b, 0);
      assert.equal(r.bytes, body);
      assert.ok(body <= 2048 && (at + r.items === 100 || body + sizes[at + r.items]! > 2048), `request of ${r.items} items, ${body} bytes`);
      at += r.items;
    }
    assert.equal(at, 100);
    assert.ok(stub.requests.length >= 2 * Math.ceil(sizes.reduce((a, b) => a + b, 0) / 2048));
    assert.equal(stub.docs.size, 100);
    assert.ok(!existsSync(join(dir, 'dl')));
  } finally {
    await sink.close();
    await stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('es: nothing listening → send throws (the spool keeps the batch)', async () => {
  const sink = new ElasticsearchSink(parseEsSinkUrl('es+http://127.0.0.1:1/ev?flush_timeout=1s', 't'));
  await assert.rejects(sink.send(items(3)), /no document of 3 accepted/);
  await sink.close();
});
