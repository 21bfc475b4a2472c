// S3 sink against s3rver (npm, a file-backed S3 API server; a stand-in for a real object
// store): windows cut by size and time, sf-exporter naming, multipart for large objects, read
// back byte for byte, local files kept until the upload is confirmed; object=sf windows are
// self-contained SysFlow traces holding exactly the records sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { S3Sink, parseS3SinkUrl, registerS3, s3ObjectKey } from '../../src/sinks/s3.js';
import { createSink, parseSinkUrl } from '../../src/sinks/registry.js';
import type { SinkItem } from '../../src/pipeline/types.js';
import { items } from './nats-helpers.js';
import { sleep } from './nats-cluster.js';
import { freePort } from '../lib/ports.js';
import { EntityTable, openSysFlow, readSysFlowBuffer, readSysFlowFile, viewsOf, type SfRecordView } from '../../src/sysflow/index.js';
import { encodeSysFlowMessage } from '../../src/fleet/sysflow-message.js';
import { toSysFlowJson } from '../../src/policy/index.js';
import { ENGINE_RECORD_TYPES } from '../../src/pipeline/sources/sysflow-files.js';
import { runCli, TRACES, writePipelines } from './fleet-cli.js';
import { fuzzDamagedRuns, fuzzWholePrefix, Rng, wholePrefix } from '../policy/fuzz-lib.js';
import { SysFlowObjectBuilder, splitSysFlowMessage, wholeSysFlowRuns } from '../../src/sinks/s3-sysflow.js';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

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

/** A new sink on the windows a "crashed" run left in `dir` (1700000000: torn at its end;
 * 1700000005: torn in its first append): one cut back and uploaded, one set aside. The object. */
async function recoverAndUpload(endpoint: string, client: S3Client, q: string, dir: string, ext: string): Promise<Buffer> {
  const logged: string[] = [];
  const up = new S3Sink({ ...parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'), log: (l) => logged.push(l) });
  await up.open();
  await up.close();
  assert.deepEqual([up.stats.truncatedWindows, up.stats.corruptWindows, up.stats.objects], [1, 1, 1]);
  assert.match(logged.join('\n'), /1700000000\.n1\.[a-z.]+\.part ends in a batch torn by a crash: \d+ bytes cut \(the spool sends that batch again\)/);
  assert.match(logged.join('\n'), new RegExp(`1700000005\\.n1\\.${ext.replace('.', '\\.')}\\.part holds no whole (block|gzip member) \\(\\d+ bytes\\); set aside as .*\\.corrupt, neither uploaded nor deleted`));
  assert.deepEqual(readdirSync(dir), [`1700000005.n1.${ext}.corrupt`], 'set aside, neither uploaded nor deleted');
  const objs = await list(client, 'telemetry');
  assert.deepEqual(objs.map((o) => o.key), [`a/n1/2023/11/14/1700000000.n1.${ext}`]);
  return get(client, 'telemetry', objs[0]!.key);
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

test('s3: an NDJSON.gz window torn by a crash mid-append is cut back to its last whole gzip member and uploaded; a torn first member is set aside', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const q = `nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`;
    // the "crashed" run: two batches appended, then half of a third member; never closed
    const crashed = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'), () => 1_700_000_000_000);
    const b1 = items(40, 0, 'h');
    const b2 = items(40, 40, 'h');
    assert.deepEqual(await crashed.send(b1), {});
    assert.deepEqual(await crashed.send(b2), {});
    const part = join(dir, '1700000000.n1.ndjson.gz.part');
    const whole = readFileSync(part);
    assert.ok(whole.equals(Buffer.concat([gz(b1), gz(b2)])));
    const third = gz(items(40, 80, 'h'));
    appendFileSync(part, third.subarray(0, third.length - 5)); // torn inside its trailer
    // a window whose first append tore, and one that was created but never written
    writeFileSync(join(dir, '1700000005.n1.ndjson.gz.part'), gz(b1).subarray(0, 30));
    writeFileSync(join(dir, '1700000009.n1.ndjson.gz.part'), '');
    const data = await recoverAndUpload(endpoint, client, q, dir, 'ndjson.gz');
    assert.ok(data.equals(whole), 'exactly the two whole batches');
    assert.equal(gunzipSync(data).toString().split('\n').length - 1, 80, 'readable to its end: 80 lines');
    crashed.close().catch(() => undefined);
  });
});

test('s3: an NDJSON.gz window damaged in its middle keeps the whole members on both sides of the damage; the bytes lost are counted', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const q = `nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`;
    const crashed = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'), () => 1_700_000_000_000);
    const batches = [items(40, 0, 'h'), items(40, 40, 'h'), items(40, 80, 'h')];
    for (const b of batches) assert.deepEqual(await crashed.send(b), {});
    const part = join(dir, '1700000000.n1.ndjson.gz.part');
    const [m1, m2, m3] = batches.map(gz) as [Buffer, Buffer, Buffer];
    const f = readFileSync(part);
    assert.ok(f.equals(Buffer.concat([m1, m2, m3])));
    f[m1.length + (m2.length >> 1)] ^= 0xff; // a bad sector in the second batch's member
    writeFileSync(part, f);
    writeFileSync(`${part}.tmp`, 'a repair cut short'); // removed, the .part repaired again
    // built as the runtime builds it (the registry's factory hands the sink its log)
    registerS3();
    const logged: string[] = [];
    const up = createSink(parseSinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'), (l) => logged.push(l)) as S3Sink;
    await up.open();
    await up.close();
    assert.deepEqual([up.stats.damagedWindows, up.stats.damagedBytes, up.stats.truncatedWindows, up.stats.corruptWindows, up.stats.objects], [1, m2.length, 0, 0, 1]);
    assert.deepEqual([up.counters()['damagedBytes'], 'lastError' in up.counters()], [m2.length, false], 'the numbers, exported as falconet_sink_counter');
    assert.deepEqual(logged, [`s3:telemetry: window ${part} is damaged at bytes ${m1.length}–${m1.length + m2.length}: ${m2.length} bytes lost, the gzip members around them kept and uploaded`]);
    assert.deepEqual(readdirSync(dir), []);
    const objs = await list(client, 'telemetry');
    const data = await get(client, 'telemetry', objs[0]!.key);
    assert.ok(data.equals(Buffer.concat([m1, m3])), 'the first and third batches, whole');
    assert.equal(gunzipSync(data).toString().split('\n').length - 1, 80);
    crashed.close().catch(() => undefined);
  });
});

// ---- object=sf: self-contained SysFlow traces ----

/** A record's content as sf-processor's exporter shows it (the a* lists, memoised per process by
 * the field resolver, are compared through names()), with the header it was read under. */
function content(v: SfRecordView): string {
  const o = JSON.parse(toSysFlowJson({ view: v, alerts: [], tags: [] })) as { proc?: Record<string, unknown> };
  if (o.proc) for (const k of ['aname', 'aexe', 'acmdline', 'apid']) delete o.proc[k];
  // which referenced entities the reader found: read alone, an object must find what the sender had
  const found = [v.proc, v.pproc, v.file, v.newFile, v.container, v.pod].map((e) => (e ? 1 : 0)).join('');
  return `${JSON.stringify(o)} ${found} ${v.ancestors().map((p) => `${p.exe}#${p.oid.hpid}`).join('<')} ${v.header?.exporter}|${v.header?.filename}|${v.pod?.id}|${v.newFile?.path}`;
}

/** A record as sent: its sysflow-msg item and its content, both taken when the reader reached it
 * (ancestors() is lazy: later entities, or a header, would change it). */
interface Sent { readonly type: string; readonly msg: Buffer; readonly content: string }

/** The engine records of a sample trace (what the flattener forwards). */
function traceRecords(t: string): Sent[] {
  const out: Sent[] = [];
  for (const v of viewsOf(readSysFlowFile(join(TRACES, t)))) if (ENGINE_RECORD_TYPES.has(v.type)) out.push({ type: v.type, msg: encodeSysFlowMessage(v), content: content(v) });
  return out;
}

const item = (s: Sent, seq: number): SinkItem => ({ id: { host: 'h', boot: 'b', seq: BigInt(seq) }, kind: 'sysflow', data: s.msg });

interface ReadBack { records: string[]; first: string; entities: number }

/** One object read alone (a fresh reader and entity table: nothing from the other objects). */
function readObject(data: Buffer): ReadBack {
  const objs = [...readSysFlowBuffer(data)];
  const records: string[] = [];
  for (const v of viewsOf(objs, new EntityTable())) records.push(content(v)); // each as the reader reaches it
  return { records, first: objs[0]!.type, entities: objs.filter((o) => ['P', 'F', 'C', 'POD'].includes(o.type)).length };
}

test('s3 object=sf: url checks; items that are no sysflow-msg are rejected by name, the rest written', async () => {
  const base = 's3+http://h:9000/b0b?object=sf';
  assert.throws(() => parseS3SinkUrl(base, '--sink #1'), /--sink #1: object=sf builds SysFlow traces from format=sysflow-msg items.*add format=sysflow-msg$/);
  assert.throws(() => parseS3SinkUrl(`${base}&format=json`, '--sink #1'), /add format=sysflow-msg instead of format=json/);
  assert.throws(() => parseS3SinkUrl('s3+http://h:9000/b0b?object=avro', '--sink #2'), /--sink #2: object 'avro' is not one of ndjson.gz, sf/);
  assert.equal(parseS3SinkUrl(`${base}&format=sysflow-msg`, 'x').object, 'sf');
  assert.equal(parseS3SinkUrl('s3+http://h:9000/b0b', 'x').object, 'ndjson.gz');

  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const sink = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/traces?object=sf&format=sysflow-msg&node=a&nodeip=n1&dir=${encodeURIComponent(dir)}`, 't'), () => 1_700_000_000_000);
    const sent = traceRecords('tcp.sf');
    const good = sent.map(item);
    const json: SinkItem = { id: { host: 'h', boot: 'b', seq: 99n }, kind: 'sysflow', data: Buffer.from('{"type":"PE"}') };
    const r1 = await sink.send([json]);
    assert.deepEqual(r1.failed?.map((f) => [f.index, f.retry]), [[0, false]]);
    assert.match(r1.failed![0]!.reason, /^not a sysflow-msg item \(record h:b:99\): /);
    const r2 = await sink.send([good[0]!, json, ...good.slice(1)]);
    assert.deepEqual(r2.failed?.map((f) => f.index), [1]);
    await sink.close();
    assert.equal(sink.stats.rejected, 2);
    const objs = await list(client, 'traces');
    assert.deepEqual(objs.map((o) => o.key), ['a/n1/2023/11/14/1700000000.n1.sf']);
    const back = readObject(await get(client, 'traces', objs[0]!.key));
    assert.deepEqual(back.records, sent.map((r) => r.content));
    assert.deepEqual(readdirSync(dir), []);
  });
});

test('s3 object=sf: two traces through the sink, windows cut by size and time: every object a self-contained trace, exactly the records sent', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    let clock = 1_700_000_000_000;
    const dir = join(tmp, 'win');
    const sink = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/traces/fleet?object=sf&format=sysflow-msg&window=60s&max_bytes=60kb&node=web-1&nodeip=10.0.0.5&dir=${encodeURIComponent(dir)}`, 't'), () => clock);
    // k8s_small: pods, containers, KE records; mon: another header mid-stream
    const sent = [...traceRecords('k8s_small.sf'), ...traceRecords('mon.1531776712.sf')];
    for (let i = 0; i < sent.length; i += 500) {
      if (i === 3000) { clock += 61_000; await sleep(1200); } // a time cut too
      const r = await sink.send(sent.slice(i, i + 500).map((s, k) => item(s, i + k)));
      assert.deepEqual(r, {});
    }
    await sink.close();
    assert.deepEqual([sink.stats.uploadErrors, sink.stats.rejected], [0, 0]);
    assert.deepEqual(readdirSync(dir), [], 'local windows deleted after upload');
    const objs = await list(client, 'traces');
    assert.ok(objs.length >= 4, `${objs.length} objects`);
    for (const o of objs) assert.match(o.key, /^fleet\/web-1\/10\.0\.0\.5\/2023\/11\/1[45]\/\d{10}\.10\.0\.0\.5\.sf$/);
    const got: string[] = [];
    for (const o of objs.sort((a, b) => parseInt(a.key.split('/').pop()!, 10) - parseInt(b.key.split('/').pop()!, 10))) {
      const back = readObject(await get(client, 'traces', o.key));
      assert.equal(back.first, 'H', `${o.key} starts with its header`);
      assert.ok(back.records.length > 0 && back.entities > 0, `${o.key}: ${back.records.length} records, ${back.entities} entities`);
      got.push(...back.records);
    }
    assert.equal(got.length, sent.length, 'count');
    for (let i = 0; i < sent.length; i++) assert.equal(got[i], sent[i]!.content, `record #${i} (${sent[i]!.type})`);
    console.log(`s3 object=sf: ${sent.length} records in ${objs.length} objects (${objs.map((o) => o.size).join(', ')} bytes)`);
  });
});

test('s3 object=sf: `falconet process` with the S3 sink → objects `falconet print` reads; their records are the trace\'s', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const url = `s3+http://S3RVER:S3RVER@${endpoint}/traces/agents?object=sf&format=sysflow-msg&max_bytes=40kb&node=web-1&nodeip=10.0.0.5&policy=block&dir=${encodeURIComponent(dir)}`;
    const { forward } = writePipelines(tmp, url);
    // a v5 trace: print shows fields an older writer schema lacks as empty, and an object is v5
    const trace = 'k8s_small.sf';
    const r = await runCli(['process', '--config', forward, join(TRACES, trace)]);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/, 'the pinned SDK\'s notice is not in the agent\'s log');
    assert.deepEqual(readdirSync(dir), []);
    const objs = await list(client, 'traces');
    assert.ok(objs.length >= 2, `${objs.length} objects`);
    const want = await runCli(['print', '-o', 'csv', join(TRACES, trace)]);
    assert.equal(want.code, 0);
    const wantRows = want.stdout.trimEnd().split(/\r?\n/);
    let rows: string[] = [];
    let records = 0;
    for (const [i, o] of objs.entries()) {
      assert.match(o.key, /^agents\/web-1\/10\.0\.0\.5\/\d{4}\/\d\d\/\d\d\/\d{10}\.10\.0\.0\.5\.sf$/);
      const file = join(tmp, `obj${i}.sf`);
      const data = await get(client, 'traces', o.key);
      writeFileSync(file, data);
      records += readObject(data).records.length;
      const p = await runCli(['print', '-o', 'csv', file]);
      assert.equal(p.code, 0, p.stderr);
      const lines = p.stdout.trimEnd().split(/\r?\n/);
      assert.equal(lines[0], wantRows[0], 'same columns');
      rows = rows.concat(lines.slice(1));
    }
    assert.equal(records, 5247);
    console.log(`s3 object=sf via falconet process: ${records} records in ${objs.length} objects`);
    // the trace holds only engine records (no NE, PF), so print shows the same rows, in order
    assert.equal(rows.length, wantRows.length - 1);
    assert.deepEqual(rows, wantRows.slice(1));
  });
});

test('s3 object=sf: mutated and truncated sysflow-msg items are rejected with a reason, never thrown; the object stays a readable trace', () => {
  const msgs = traceRecords('shellshock.sf').map((r) => r.msg);
  assert.throws(() => splitSysFlowMessage(Buffer.alloc(0)), /empty message/);
  assert.throws(() => splitSysFlowMessage(Buffer.concat([msgs[0]!, msgs[0]!])), /bytes after its PE record/);
  const rng = new Rng(1313);
  const chunks: Buffer[] = [];
  let ok = 0; let bad = 0;
  const b = new SysFlowObjectBuilder({ version: 5n, exporter: 'x', ip: 'NA', filename: 'k' });
  for (let i = 0; i < 5000; i++) {
    const m = Buffer.from(msgs[rng.int(msgs.length)]!);
    let cut = m;
    switch (rng.int(3)) {
      case 0: cut = m.subarray(0, rng.int(m.length)); break;
      case 1: for (let k = 1 + rng.int(4); k > 0; k--) m[rng.int(m.length)] = rng.int(256); break;
      default: m[rng.int(m.length)] ^= 1 << rng.int(8);
    }
    const r = b.encode([{ id: { host: 'h', boot: 'b', seq: BigInt(i) }, kind: 'sysflow', data: cut }]);
    if (r.failed.length) { assert.match(r.failed[0]!.reason, /^not a sysflow-msg item/); bad++; } else { assert.equal(r.records, 1); ok++; }
    r.commit();
    chunks.push(r.bytes);
  }
  assert.ok(ok > 100 && bad > 500, `${ok} written, ${bad} rejected`);
  assert.equal(b.records, ok);
  const objs = [...readSysFlowBuffer(Buffer.concat(chunks))];
  assert.equal(objs.filter((o) => ENGINE_RECORD_TYPES.has(o.type) || o.type === 'NE' || o.type === 'PF').length, ok);
});

test('s3 object=sf: the store unreachable → the .sf window stays on disk; a later run uploads it, then deletes it', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const dead = await freePort();
    const q = `object=sf&format=sysflow-msg&nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`;
    const down = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@127.0.0.1:${dead}/telemetry?${q}`, 't'), () => 1_700_000_000_000);
    const sent = traceRecords('shellshock.sf');
    assert.deepEqual(await down.send(sent.map(item)), {});
    await down.close();
    assert.equal(down.stats.uploadErrors, 1);
    assert.deepEqual(readdirSync(dir), ['1700000000.n1.sf'], 'kept until confirmed');
    const up = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'));
    await up.open();
    await up.close();
    assert.deepEqual(readdirSync(dir), []);
    const objs = await list(client, 'telemetry');
    assert.deepEqual(objs.map((o) => o.key), ['a/n1/2023/11/14/1700000000.n1.sf']);
    assert.deepEqual(readObject(await get(client, 'telemetry', objs[0]!.key)).records, sent.map((r) => r.content));
  });
});

test('s3 object=sf: a window torn by a crash mid-append is cut back to its last whole block and uploaded; a torn preamble is set aside', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const q = `object=sf&format=sysflow-msg&nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`;
    const sent = traceRecords('shellshock.sf');
    // the "crashed" run: two batches appended, then half of a third block; never closed
    const crashed = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'), () => 1_700_000_000_000);
    assert.deepEqual(await crashed.send(sent.slice(0, 30).map(item)), {});
    assert.deepEqual(await crashed.send(sent.slice(30).map(item)), {});
    const part = join(dir, '1700000000.n1.sf.part');
    const whole = readFileSync(part);
    const other = new SysFlowObjectBuilder({ version: 5n, exporter: 'x', ip: 'NA', filename: 'k' });
    other.encode(sent.slice(0, 10).map(item)).commit(); // the preamble goes with the first batch
    const block = other.encode(sent.slice(10, 20).map(item)).bytes;
    appendFileSync(part, block.subarray(0, block.length >> 1)); // a block cut short
    // and a window whose first append tore inside the preamble
    writeFileSync(join(dir, '1700000005.n1.sf.part'), whole.subarray(0, 100));
    const data = await recoverAndUpload(endpoint, client, q, dir, 'sf');
    assert.ok(data.equals(whole), 'exactly the two whole batches');
    assert.deepEqual(readObject(data).records, sent.map((r) => r.content));
    crashed.close().catch(() => undefined);
  });
});

test('s3 object=sf: a window whose middle block framing is damaged keeps the whole blocks on both sides; the bytes lost are counted', async () => {
  await withS3rver(async (endpoint, client, tmp) => {
    const dir = join(tmp, 'win');
    const q = `object=sf&format=sysflow-msg&nodeip=n1&node=a&dir=${encodeURIComponent(dir)}`;
    const sent = traceRecords('shellshock.sf');
    const crashed = new S3Sink(parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'), () => 1_700_000_000_000);
    const part = join(dir, '1700000000.n1.sf.part');
    const ends: number[] = [];
    for (const [a, b] of [[0, 20], [20, 30], [30, sent.length]] as const) {
      assert.deepEqual(await crashed.send(sent.slice(a, b).map(item)), {});
      ends.push(readFileSync(part).length);
    }
    const [e1, e2, e3] = ends as [number, number, number];
    const original = readFileSync(part);
    const pre = openSysFlow(original, 'window').info.dataOffset;
    // one damage per run: the first batch's block count (the preamble and the later blocks kept),
    // the second batch's block count, then its sync marker; the last upload is read back below
    for (const [at, lost] of [[pre, e1 - pre], [e1, e2 - e1], [e2 - 1, e2 - e1]] as const) {
      const f = Buffer.from(original);
      f[at] ^= 0xff;
      writeFileSync(part, f);
      const logged: string[] = [];
      const up = new S3Sink({ ...parseS3SinkUrl(`s3+http://S3RVER:S3RVER@${endpoint}/telemetry?${q}`, 't'), log: (l) => logged.push(l) }, () => 1_700_000_000_000 + at);
      await up.open();
      await up.close();
      assert.deepEqual([up.stats.damagedWindows, up.stats.damagedBytes, up.stats.truncatedWindows, up.stats.corruptWindows, up.stats.objects], [1, lost, 0, 0, 1], `damage at ${at}`);
      assert.match(logged.join('\n'), new RegExp(`is damaged at bytes \\d+–\\d+: ${lost} bytes lost, the blocks around them kept and uploaded$`), `damage at ${at}`);
      assert.deepEqual(readdirSync(dir), [], 'uploaded and deleted');
    }
    crashed.close().catch(() => undefined);
    const objs = await list(client, 'telemetry');
    assert.equal(objs.length, 1, 'the same window each time: one key');
    const data = await get(client, 'telemetry', objs[0]!.key);
    assert.ok(data.equals(Buffer.concat([original.subarray(0, e1), original.subarray(e2, e3)])), 'the first and third batches\' blocks');
    const back = readObject(data).records;
    assert.equal(back.length, 20 + (sent.length - 30));
    assert.deepEqual(back.slice(0, 20), sent.slice(0, 20).map((r) => r.content));
  });
});

test('s3 object=sf: cut and mutated windows: a whole-block prefix that reads back, never a throw', () => {
  const sent = traceRecords('shellshock.sf');
  const b = new SysFlowObjectBuilder({ version: 5n, exporter: 'x', ip: 'NA', filename: 'k' }, { blockSize: 2000 });
  const parts: Buffer[] = [];
  for (let i = 0; i < sent.length; i += 7) { const r = b.encode(sent.slice(i, i + 7).map(item)); r.commit(); parts.push(r.bytes); }
  const file = Buffer.concat(parts);
  // what a crash's torn end is cut back to: the first run, when it holds a block beyond the preamble
  const preamble = openSysFlow(file, 'window').info.dataOffset;
  const completeSysFlowLength = (f: Buffer): number => { const n = wholePrefix(wholeSysFlowRuns(f)); return n > preamble ? n : 0; };
  assert.equal(completeSysFlowLength(file), file.length);
  const { none: cut, kept: whole } = fuzzWholePrefix(file, 1317, 3000, completeSysFlowLength, (f, n, i) => {
    // an untouched prefix cut back to whole blocks reads to its end
    if (file.subarray(0, n).equals(f.subarray(0, n))) assert.ok([...readSysFlowBuffer(file.subarray(0, n))].length > 0, `#${i}: records in ${n} bytes`);
  });
  assert.ok(cut > 100 && whole > 200, `${cut} set aside, ${whole} kept`);
  // damage anywhere: ordered runs, the first with the preamble, never a throw
  const split = fuzzDamagedRuns(file, 2718, 1500, wholeSysFlowRuns, (_f, [a], index, i) => {
    if (index === 0) assert.equal(a, 0, `#${i}: the preamble first`);
  });
  // damage to deflate data that still inflates goes unseen (Avro blocks carry no checksum)
  assert.ok(split > 50, `${split} windows kept blocks after a damaged one`);
});
