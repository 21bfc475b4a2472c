// Fuzzes the fleet URL parsers, the record-id parser and the Community ID input checks with
// mutations of valid inputs: each either parses or throws an Error naming the place; nothing
// else escapes (no TypeError/RangeError from inside), and nothing hangs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../policy/fuzz-lib.js';
import { parseNatsSinkUrl } from '../../src/sinks/nats.js';
import { parseKafkaSinkUrl } from '../../src/sinks/kafka.js';
import { parseEsSinkUrl } from '../../src/sinks/elasticsearch.js';
import { parseS3SinkUrl } from '../../src/sinks/s3.js';
import { parseNatsSourceUrl, parseRecordId } from '../../src/source/nats.js';
import { parseKafkaSourceUrl } from '../../src/source/kafka.js';
import { communityId } from '../../src/format/community-id.js';
import { parseSinkUrl, SinkUrlError } from '../../src/sinks/registry.js';
import { registerNats } from '../../src/sinks/nats.js';
import { registerKafka } from '../../src/sinks/kafka.js';
import { registerElasticsearch } from '../../src/sinks/elasticsearch.js';
import { registerS3 } from '../../src/sinks/s3.js';

registerNats(); registerKafka(); registerElasticsearch(); registerS3();

const SEEDS: [string, (t: string, w: string) => unknown][] = [
  ['nats://u:p@10.0.0.1:4222,[::1]:4223/fleet.a?stream=S&replicas=3&retention=workqueue&max_age=24h&dup_window=2m&ack_timeout=5s', parseNatsSinkUrl],
  ['nats://h1,h2/fleet?stream=S&durable=c&ack_wait=5s&batch=10&max_ack_pending=100', parseNatsSourceUrl],
  ['kafka://k1:9092,k2/flows?compression=gzip&retries=3&retry_min=1s&timeout=10s&idempotent=false', parseKafkaSinkUrl],
  ['kafka://k1/flows?group=g&session_timeout=6s&max_wait=1s&from_beginning=false', parseKafkaSourceUrl],
  ['es+https://u:p@h1,h2:9300/events?workers=3&flush_buffer=1MB&flush_timeout=10s&dead_letter=%2Ftmp%2Fdl', parseEsSinkUrl],
  ['s3+http://A:B@127.0.0.1:9000/telemetry/a/b?window=30s&max_bytes=16MB&part_size=5MB&node=n&nodeip=1.2.3.4&cluster=c', parseS3SinkUrl],
];
const PIECES = ['/', ':', ',', '?', '&', '=', '@', '%', '%zz', '[', ']', '.', '..', '-1', '0', '99999999', '1e3', 'ms', 'GB', ' ', '\u0000', '\u00e9', '//', '#', '+', 'true', 'x'];

function mutate(rng: Rng, s: string): string {
  let out = s;
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const at = rng.int(out.length + 1);
    switch (rng.int(3)) {
      case 0: out = out.slice(0, at) + rng.pick(PIECES) + out.slice(at); break;
      case 1: out = out.slice(0, at) + out.slice(at + 1 + rng.int(4)); break;
      default: { const b = rng.int(out.length + 1); out = out.slice(0, Math.min(at, b)) + out.slice(Math.max(at, b)); }
    }
  }
  return out;
}

test('fuzz: fleet URL parsers accept or reject with an error naming the place', () => {
  const rng = new Rng(20261202);
  let ok = 0; let rejected = 0;
  for (let i = 0; i < 12_000; i++) {
    const [seed, parse] = SEEDS[i % SEEDS.length]!;
    const text = mutate(rng, seed);
    try {
      parse(text, `fuzz#${i}`);
      ok++;
    } catch (e) {
      assert.ok(e instanceof Error && e.constructor === Error, `#${i} ${JSON.stringify(text)}: ${String(e)}`);
      assert.match(e.message, new RegExp(`^fuzz#${i}`), `#${i} ${JSON.stringify(text)}: ${e.message}`);
      rejected++;
    }
  }
  assert.ok(ok > 1000 && rejected > 1000, `${ok} parsed, ${rejected} rejected`);
});

test('fuzz: host-list URLs through the sink registry: a spec or a SinkUrlError naming the place', () => {
  const rng = new Rng(13);
  let ok = 0; let rejected = 0;
  const seeds = SEEDS.filter(([, p]) => p !== parseNatsSourceUrl && p !== parseKafkaSourceUrl).map(([s]) => s);
  for (let i = 0; i < 8000; i++) {
    const text = mutate(rng, seeds[i % seeds.length]!);
    try {
      const spec = parseSinkUrl(text, `fuzz#${i}`);
      assert.ok(spec.url instanceof URL);
      ok++;
    } catch (e) {
      assert.ok(e instanceof SinkUrlError, `#${i} ${JSON.stringify(text)}: ${String(e)}`);
      assert.ok(e.message.startsWith(`fuzz#${i}: sink "`), `#${i} ${JSON.stringify(text)}: ${e.message}`);
      rejected++;
    }
  }
  assert.ok(ok > 500 && rejected > 500, `${ok} parsed, ${rejected} rejected`);
});

test('fuzz: record ids and Community ID inputs', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 5000; i++) {
    const id = mutate(rng, 'web-1:b00t:42');
    const r = parseRecordId(id);
    if (r) assert.equal(`${r.host}:${r.boot}:${r.seq}`, id);
    const saddr = mutate(rng, rng.int(2) ? '192.168.1.52' : '2001:470:e5bf:dead::1');
    try {
      const c = communityId({ proto: rng.pick([1, 6, 17, 58, 132, 46]), saddr, daddr: saddr.includes(':') ? '::1' : '8.8.8.8', sport: rng.int(70000), dport: 53 });
      assert.match(c, /^1:[A-Za-z0-9+/]{27}=$/);
    } catch (e) {
      assert.ok(e instanceof Error && /^community-id: /.test(e.message), String(e));
    }
  }
});
