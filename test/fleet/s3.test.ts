// S3 sink against s3rver (npm, a file-backed S3 API server; a stand-in for a real object
// store): windows cut by size and time, sf-exporter naming, multipart for large objects, read
// back byte for byte, local files kept until the upload is confirmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { S3Sink, parseS3SinkUrl, s3ObjectKey } from '../../src/sinks/s3.js';
import type { SinkItem } from '../../src/pipeline/types.js';
import { items } from './nats-helpers.js';
import { freePort, sleep } from './nats-cluster.js';

async function withS3rver<T>(fn: (endpoint: string, client: S3Client, tmp: string) => Promise<T>): Promise<T> {
  const tmp = mkdtempSync(join(tmpdir(), 'falconet-s3-'));
  const port = await freePort();
  const server = new S3rver({ port, address: '127.0.0.1', directory: join(tmp, 'store'), silent: true });
  await server.run();
  const endpoint = `127.0.0.1:${port}`;
  const client = new S3Client({ endpoint: `http://${endpoint}`, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  try {
    return await fn(endpoint, client, tmp);
  } finally {
    client.destroy();
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function list(client: S3Client, bucket: string): Promise<{ key: string; size: number }[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (r.Contents ?? []).map((c) => ({ key: c.Key!, size: c.Size! })).sort((a, b) => a.key.localeCompare(b.key));
}

async function get(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

const gz = (batch: SinkItem[]): Buffer => gzipSync(Buffer.concat(batch.flatMap((it) => [Buffer.from(it.data), Buffer.from('\n')])));

test('s3 url and sf-exporter object names; bad values named', () => {
  const o = parseS3SinkUrl('s3+http://AK:SK@127.0.0.1:9000/telemetry/fleet/a?window=30s&max_bytes=16MB&node=web-1&nodeip=10.0.0.5&cluster=c1', '--sink #1');
  assert.deepEqual([o.endpoint, o.bucket, o.prefix, o.accessKeyId, o.windowMs, o.maxBytes], ['http://127.0.0.1:9000', 'telemetry', 'fleet/a', 'AK', 30_000, 16 * 1024 * 1024]);
  assert.equal(s3ObjectKey(o, 1_700_000_000, 'ndjson.gz'), 'fleet/a/c1/web-1/10.0.0.5/2023/11/14/1700000000.10.0.0.5.ndjson.gz');
  assert.throws(() => parseS3SinkUrl('s3+http://h/Bad_Bucket', '--sink #2'), /--sink #2: bucket 'Bad_Bucket'/);
  assert.throws(() => parseS3SinkUrl('s3+http://h/b0b?part_size=1MB', '--sink #3'), /part_size must be at least 5MB/);
});

test('s3: windows cut by size and by time, uploaded and read back byte for byte, local files deleted after', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    let clock = 1_700_000_000_000;
    const dir = join(tmp, 'win');
    const b1 = items(10, 0, 'h'); const b2 = items(10, 10, 'h'); const b3 = items(10, 20, 'h');
    // the size window holds b1 but not b1 + b2
    const url = `s3+http://S3RVER:S3RVER@${endpoint}/telemetry/fleet?window=60s&max_bytes=${gz(b1).length + 1}&node=web-1&nodeip=10.0.0.5&dir=${encodeURIComponent(dir)}`;
    const sink = new S3Sink(parseS3SinkUrl(url, 't'), () => clock);
    await sink.send(b1);
    await sink.send(b2); // the window passes its size: cut
    clock += 5_000;
    await sink.send(b3);
    clock += 61_000; // the time window passes
    await sleep(1200);
    await sink.close();
    const objs = await list(client, 'telemetry');
    assert.deepEqual(objs.map((x) => x.key), [
      'fleet/web-1/10.0.0.5/2023/11/14/1700000000.10.0.0.5.ndjson.gz',
      'fleet/web-1/10.0.0.5/2023/11/14/1700000005.10.0.0.5.ndjson.gz',
    ]);
    const first = await get(client, 'telemetry', objs[0]!.key);
    assert.deepEqual(first, Buffer.concat([gz(b1), gz(b2)]), 'object 1 byte for byte');
    assert.deepEqual(await get(client, 'telemetry', objs[1]!.key), gz(b3), 'object 2 byte for byte');
    assert.deepEqual(gunzipSync(first).toString().trim().split('\n'), [...b1, ...b2].map((it) => Buffer.from(it.data).toString()));
    const head = await client.send(new HeadObjectCommand({ Bucket: 'telemetry', Key: objs[0]!.key }));
    assert.deepEqual(head.Metadata, { nodename: 'web-1', nodeip: '10.0.0.5' });
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual([sink.stats.objects, sink.stats.uploadErrors], [2, 0]);
  });
});

test('s3: a large object goes multipart and reads back byte for byte', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const sink = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/big?part_size=5MB&max_bytes=1GB&nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`, 't'), () => 1_700_000_000_000);
    // base64 of random bytes: ~9 MiB of gzip, two 5 MiB parts
    const batch: SinkItem[] = Array.from({ length: 96 }, (_, i) => ({ id: { host: 'h', boot: 'b', seq: BigInt(i) }, kind: 'socket', data: Buffer.from(randomBytes(96 * 1024).toString('base64')) }));
    const want = gz(batch);
    await sink.send(batch);
    await sink.close();
    const objs = await list(client, 'big');
    assert.equal(objs.length, 1);
    assert.equal(objs[0]!.size, want.length);
    assert.deepEqual([sink.stats.multipart, sink.stats.parts], [1, Math.ceil(want.length / (5 * 1024 * 1024))]);
    assert.ok(sink.stats.parts >= 2);
    assert.ok((await get(client, 'big', objs[0]!.key)).equals(want));
  });
});

test('s3: the store unreachable → the window stays on disk; a later run uploads it, then deletes it', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const dead = await freePort();
    const down = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@127.0.0.1:${dead}/telemetry?nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`, 't'), () => 1_700_000_000_000);
    const b = items(5, 0, 'h');
    await down.send(b);
    await down.close();
    assert.equal(down.stats.uploadErrors, 1);
    assert.deepEqual(readdirSync(dir), ['1700000000.n1.ndjson.gz'], 'kept until confirmed');
    const up = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`, 't'));
    await up.open();
    await up.close();
    assert.deepEqual(readdirSync(dir), []);
    const objs = await list(client, 'telemetry');
    assert.deepEqual(objs.map((o) => o.key), ['a/n1/2023/11/14/1700000000.n1.ndjson.gz']);
    assert.deepEqual(await get(client, 'telemetry', objs[0]!.key), gz(b));
  });
});
