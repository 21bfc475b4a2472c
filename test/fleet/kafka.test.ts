// Kafka sink and source (kafkajs) against librdkafka's mock cluster — a stand-in that speaks the
// Kafka protocol, since no Kafka broker can be installed here: produce, consume with a consumer
// group of two, a broker down then up mid-stream with nothing lost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaSink, kafkaKey, parseKafkaSinkUrl } from '../../src/sinks/kafka.js';
import { KafkaSource, parseKafkaSourceUrl } from '../../src/source/kafka.js';
import { recordIdString, type Source } from '../../src/pipeline/types.js';
import type { FleetDelivery } from '../../src/source/nats.js';
import { KafkaMock } from './kafka-mock.js';
import { sleep } from './nats-cluster.js';
import { checkDeliveries, items, publishAll, waitFor, type Received } from './nats-helpers.js';

let mock: KafkaMock;
before(async () => { mock = await KafkaMock.start(3); });
after(async () => { await mock?.close(); });

interface KDelivery extends Received { partition: number; offset: number; key: string }

function run(src: Source, consumer: string, into: KDelivery[], keys: Map<string, string>): Promise<void> {
  return (async () => {
    for await (const ev of src) {
      if (ev.kind !== 'records') continue;
      for (const e of ev.records) {
        const f = e.enrich?.['fleet'] as FleetDelivery;
        const id = recordIdString(e.id!);
        into.push({ id, redelivered: false, consumer, partition: f.partition!, offset: f.streamSeq, key: keys.get(id)! });
      }
      src.ack!(ev.records[ev.records.length - 1]!.id!);
    }
  })();
}

test('kafka url: brokers, topic, options; bad values named', () => {
  const o = parseKafkaSinkUrl('kafka://k1:9093,k2/flows?compression=none&retries=3', '--sink #1');
  assert.deepEqual([o.brokers, o.topic, o.compression, o.retries, o.idempotent], [['k1:9093', 'k2:9092'], 'flows', 'none', 3, true]);
  assert.throws(() => parseKafkaSinkUrl('kafka://k1/bad topic', 'x'), /x: topic 'bad topic'/);
  assert.throws(() => parseKafkaSinkUrl('kafka://k1/t?compression=lz9', 'x'), /compression=lz9 must be none or gzip/);
  const s = parseKafkaSourceUrl('kafka://k1/flows?group=central', 'y');
  assert.deepEqual([s.topic, s.groupId, s.fromBeginning], ['flows', 'central', true]);
  assert.equal(kafkaKey(items(1, 5)[0]!), 'agent-1/5');
});

test('kafka: produce through a broker outage, consume with a group of two: nothing lost, flows ordered', async () => {
  await mock.command('topic flows 4 3');
  // broker 1 leads partitions 0 and 1, so taking it down stalls part of every batch
  for (const [part, broker] of [[0, 1], [1, 1], [2, 2], [3, 3]]) await mock.command(`leader flows ${part} ${broker}`);
  const url = `kafka://${mock.bootstrap.join(',')}/flows?retries=5&retry_min=100&retry_max=1000`;
  const sink = new KafkaSink(parseKafkaSinkUrl(url, 't'));
  await sink.open();
  const all = items(5000);
  const keys = new Map(all.map((it) => [recordIdString(it.id), kafkaKey(it)]));
  const deliveries: KDelivery[] = [];
  const srcUrl = `kafka://${mock.bootstrap.join(',')}/flows?group=central&session_timeout=6s`;
  const a = new KafkaSource(parseKafkaSourceUrl(srcUrl, 'a'));
  const b = new KafkaSource(parseKafkaSourceUrl(srcUrl, 'b'));
  // the second member joins once the first one has, through KafkaMock.whileJoining (the mock
  // refuses a follower's SyncGroup that comes after the leader's)
  const runs = [run(a, 'a', deliveries, keys)];
  let failed: unknown;
  runs[0]!.catch((e: unknown) => { failed ??= e; });
  let tookMs = 0;
  let rep = { sends: 0, throws: 0, retriedItems: 0 };
  try {
    await waitFor('the first member in the group', () => failed !== undefined || a.stats.joins >= 1, 60_000);
    await mock.whileJoining(async () => {
      runs.push(run(b, 'b', deliveries, keys));
      runs[1]!.catch((e: unknown) => { failed ??= e; });
      // both members hold partitions before the records arrive
      await waitFor('a group of two', () => failed !== undefined || (b.stats.joins >= 1 && a.stats.partitions.length + b.stats.partitions.length === 4 && a.stats.partitions.length > 0 && b.stats.partitions.length > 0), 60_000);
    });
    if (failed) throw failed;
    let downAt = 0;
    rep = await publishAll(sink, all, 250, 120_000, async (done) => {
      if (done === 2500) {
        await mock.command('down 1');
        downAt = Date.now();
        setTimeout(() => { void mock.command('up 1'); }, 3000);
      }
    });
    tookMs = Date.now() - downAt;
    assert.ok(tookMs >= 2500, `the rest waited for the broker (${tookMs} ms)`);
    await waitFor('5,000 records at the group', () => failed !== undefined || new Set(deliveries.map((d) => d.id)).size >= 5000, 90_000);
    if (failed) throw failed;
    await sleep(300);
  } finally {
    await a.close(); await b.close();
    await Promise.allSettled(runs);
    await sink.close();
  }
  const check = checkDeliveries(deliveries, all);
  console.log(`kafka: idempotent producer ${sink.idempotent}, sends ${rep.sends}, failed sends ${rep.throws}, outage wait ${tookMs} ms, ` +
    `a=${deliveries.filter((d) => d.consumer === 'a').length} b=${deliveries.filter((d) => d.consumer === 'b').length}, duplicates ${check.duplicates}`);
  assert.equal(check.missing, 0);
  assert.equal(check.unique, 5000);
  assert.ok(deliveries.some((d) => d.consumer === 'a') && deliveries.some((d) => d.consumer === 'b'), 'both members consumed');
  // the mock names no controller, so kafkajs cannot get a producer id: the sink fell back
  assert.equal(sink.idempotent, false);
  // one key → one partition, and its records in the order they were produced
  const byKey = new Map<string, KDelivery[]>();
  for (const d of deliveries) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d]);
  for (const [key, ds] of byKey) {
    assert.equal(new Set(ds.map((d) => d.partition)).size, 1, `${key} in one partition`);
    const seqs = ds.filter((d, i) => ds.findIndex((x) => x.id === d.id) === i).sort((x, y) => x.offset - y.offset).map((d) => Number(d.id.split(':')[2]));
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `${key} in order`);
  }
  assert.equal(byKey.size, 64);
});

test('kafka sink: a cluster that is gone makes send throw (the spool keeps the batch)', async () => {
  const sink = new KafkaSink(parseKafkaSinkUrl('kafka://127.0.0.1:1/flows?retries=1&retry_min=50&retry_max=100&timeout=1s', 't'));
  await assert.rejects(sink.send(items(10)), /./);
  await sink.close();
});
