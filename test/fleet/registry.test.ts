// The fleet sinks plug into the sink registry by scheme: --sink / pipeline.json URLs become
// NATS, Kafka, Elasticsearch and S3 sinks, with the common delivery options (spool, queue…).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSink, parseSinkUrl } from '../../src/sinks/registry.js';
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
  assert.throws(() => createSink(parseSinkUrl('nats://127.0.0.1:4222/fleet?replicas=7', '--sink #5')), /replicas=7/);
  // a cluster through the registry: hosts= carries the other servers (WHATWG URL takes no host list)
  const c = createSink(parseSinkUrl('nats://127.0.0.1:4221/fleet?hosts=127.0.0.1:4222,127.0.0.1:4223&stream=FLEET&replicas=3', '--sink #6'));
  assert.deepEqual((c as NatsSink).opts.servers, ['127.0.0.1:4221', '127.0.0.1:4222', '127.0.0.1:4223']);
  assert.throws(() => createSink(parseSinkUrl('nats://h/x?hosts=a:1,b:0', '--sink #7')), /hosts= entry #2 'b:0' has port 0/);
});
