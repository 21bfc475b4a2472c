// The fleet sinks plug into the sink registry by scheme: --sink / pipeline.json URLs become
// NATS, Kafka, Elasticsearch and S3 sinks, with the common delivery options (spool, queue…).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSink, parseSinkUrl, SinkUrlError } from '../../src/sinks/registry.js';
import { NatsSink, registerNats } from '../../src/sinks/nats.js';
import { KafkaSink, registerKafka } from '../../src/sinks/kafka.js';
import { ElasticsearchSink, registerElasticsearch } from '../../src/sinks/elasticsearch.js';
import { S3Sink, registerS3 } from '../../src/sinks/s3.js';

registerNats(); registerKafka(); registerElasticsearch(); registerS3();

test('registry: fleet schemes create their sinks, common options go to delivery', () => {
  const n = parseSinkUrl('nats://127.0.0.1:4222/fleet?stream=FLEET&replicas=3&spool=/tmp/falconet-spool&format=ecs', '--sink #1');
  assert.equal(n.format, 'ecs');
  assert.equal(n.delivery.spool?.dir, '/tmp/falconet-spool');
  assert.ok(createSink(n) instanceof NatsSink);
  assert.ok(createSink(parseSinkUrl('kafka://127.0.0.1:9092/flows', '--sink #2')) instanceof KafkaSink);
  assert.ok(createSink(parseSinkUrl('es+http://127.0.0.1:9200/falconet-alerts?format=ecs', '--sink #3')) instanceof ElasticsearchSink);
  assert.ok(createSink(parseSinkUrl('s3+http://127.0.0.1:9000/telemetry/fleet?window=60s&dir=/tmp/falconet-s3', '--sink #4')) instanceof S3Sink);
  // a scheme's own parser runs in parseSinkUrl: the error is a SinkUrlError naming the place
  assert.throws(() => parseSinkUrl('nats://127.0.0.1:4222/fleet?replicas=7', '--sink #5'), (e: Error) =>
    e instanceof SinkUrlError && /^--sink #5: sink "nats:\/\/127\.0\.0\.1:4222\/fleet\?replicas=7": replicas=7 must be an integer in 1\.\.5$/.test(e.message));
  // a cluster through the registry: hosts= carries the other servers (WHATWG URL takes no host list)
  const c = createSink(parseSinkUrl('nats://127.0.0.1:4221/fleet?hosts=127.0.0.1:4222,127.0.0.1:4223&stream=FLEET&replicas=3', '--sink #6'));
  assert.deepEqual((c as NatsSink).opts.servers, ['127.0.0.1:4221', '127.0.0.1:4222', '127.0.0.1:4223']);
  assert.throws(() => createSink(parseSinkUrl('nats://h/x?hosts=a:1,b:0', '--sink #7')), /hosts= entry #2 'b:0' has port 0/);
});

test('registry: host lists in fleet URLs (nats://h1:p1,h2:p2/…, kafka://h1:p1,h2:p2/topic, es, s3)', () => {
  const n = parseSinkUrl('nats://u:pw@127.0.0.1:4221,127.0.0.1:4222,[::1]:4223/fleet.a?stream=FLEET&replicas=3&policy=block', '--sink #1');
  assert.equal(n.url.host, '127.0.0.1:4221');
  assert.equal(n.delivery.policy, 'block');
  assert.deepEqual((createSink(n) as NatsSink).opts.servers, ['127.0.0.1:4221', '127.0.0.1:4222', '[::1]:4223']);
  assert.equal((createSink(n) as NatsSink).opts.subjectPrefix, 'fleet.a');
  const k = createSink(parseSinkUrl('kafka://k1:9093,k2,k3:9095/flows?key=record', 'pipeline.json:3:5 exporter.sink'));
  assert.deepEqual([(k as KafkaSink).opts.brokers, (k as KafkaSink).opts.topic, (k as KafkaSink).opts.key], [['k1:9093', 'k2:9092', 'k3:9095'], 'flows', 'record']);
  assert.ok(createSink(parseSinkUrl('es+http://e1:9200,e2:9201/idx', 'x')) instanceof ElasticsearchSink);
  // errors name the place and the host
  const cases: [string, RegExp][] = [
    ['nats://a:4222,:4223/fleet', /^--sink #2: sink "[^"]+": host #2 ':4223' is not host\[:port\]$/],
    ['nats://a:4222,b:70000/fleet', /^--sink #2: sink "[^"]+": host #2 'b:70000' has port 70000 outside 1\.\.65535$/],
    ['kafka://k1,,k3/flows', /^--sink #2: sink "[^"]+": host #2 '' is not host\[:port\]$/],
    ['kafka://k1,k2/bad topic', /^--sink #2: sink "[^"]+": white space or control characters in the address$/],
    ['kafka://k1,k2/', /^--sink #2: sink "[^"]+": topic '' must be 1\.\.249/],
    ['kafka://k1,k2/t?key=flows', /^--sink #2: sink "[^"]+": key=flows must be flow, host or record$/],
    ['nats://,/x', /^--sink #2: sink "[^"]+": host #1 '' is not host\[:port\]$/],
  ];
  for (const [url, re] of cases) assert.throws(() => parseSinkUrl(url, '--sink #2'), (e: Error) => e instanceof SinkUrlError && re.test(e.message), url);
});
