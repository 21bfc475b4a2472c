// The NATS source against a consumer whose group lost its quorum while its stream did not: on a
// real 5-node cluster, an R5 stream keeps a leader with two nodes down, and an R3 consumer on two
// of those nodes does not. Its surviving member answers every request of the consumer with
// 10008 at once, the state nats-server 2.9 can also leave a consumer in after a whole cluster
// lost quorum (see nats.test's no-quorum test). The source deletes it after `leaderless` and
// makes it again from the ack floor it last saw: nothing lost, nothing acked delivered twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, connect, DeliverPolicy, nanos, type JetStreamManager } from 'nats';
import { NatsSink, parseNatsSinkUrl } from '../../src/sinks/nats.js';
import { NatsSource, parseNatsSourceUrl } from '../../src/source/nats.js';
import { recordIdString } from '../../src/pipeline/types.js';
import { NatsCluster } from './nats-cluster.js';
import { checkDeliveries, collect, items, publishAll, Timeline, waitFor, type Received } from './nats-helpers.js';

let cluster: NatsCluster;
before(async () => { cluster = await NatsCluster.start(5); });
after(async () => { await cluster?.close(); });

/** A JetStream API call on a connection of its own, to the nodes still running. */
async function jsApi<T>(call: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: cluster.nodes.filter((n) => n.proc).map((n) => `127.0.0.1:${n.client}`) });
  try {
    return await call(await nc.jetstreamManager({ timeout: 20_000 }));
  } finally { await nc.close(); }
}

test('nats source: a consumer left without a leader while its stream has one is made again from its ack floor', async () => {
  const sink = new NatsSink(parseNatsSinkUrl(cluster.url('fleet7', 'stream=LL&replicas=5&ack_timeout=20s'), 't'));
  await sink.open();
  const first = items(100);
  const second = items(100, 100);
  await publishAll(sink, first, 50);
  // made here on three of the five nodes; the source finds it and uses it
  const made = await jsApi((jsm) => jsm.consumers.add('LL', {
    durable_name: 'c', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(3000), num_replicas: 3,
  }));
  const peers = [made.cluster!.leader!, ...made.cluster!.replicas!.map((r) => r.name)];
  assert.equal(peers.length, 3, JSON.stringify(made.cluster));
  const lines: string[] = [];
  const timed = new Timeline(); // the same lines with when they came
  const src = new NatsSource({ ...parseNatsSourceUrl(cluster.url('fleet7', 'stream=LL&durable=c&ack_wait=3s&stall_check=2s&leaderless=10s'), 's'),
    log: (t) => { lines.push(t); timed.mark(t); } });
  const got: Received[] = [];
  let failed: unknown;
  const run = collect(src, 'c', got).catch((e: unknown) => { failed = e; });
  const unique = () => new Set(got.map((d) => d.id)).size;
  const diag = () => `${unique()} unique of ${got.length}; source ${JSON.stringify(src.stats)}; its lines:\n${timed.lines.join('\n')}`;
  try {
    // the first 100 consumed and acked, and the source told so by the server (its stall check
    // asks once the stream is quiet)
    await waitFor('the first 100 acked, as the server says', () => src.stats.ackFloor === 100 || failed !== undefined, 60_000)
      .catch((e: unknown) => { throw new Error(`${(e as Error).message}: ${diag()}`); });
    for (const n of peers.slice(0, 2)) await cluster.kill(n);
    timed.mark(`(test) consumer peers ${peers.slice(0, 2).join(', ')} killed`);
    await publishAll(sink, second, 50);
    await waitFor('all 200 records', () => unique() >= 200 || failed !== undefined, 180_000)
      .catch((e: unknown) => { throw new Error(`${(e as Error).message}: ${diag()}`); });
    timed.mark('(test) 200 records');
  } finally {
    src.stop();
    await src.close();
    await sink.close();
    await run;
  }
  timed.print('leaderless timeline');
  assert.equal(failed, undefined, `the source ended with ${String(failed)}: ${diag()}`);
  assert.equal(checkDeliveries(got, [...first, ...second]).missing, 0);
  // made again after the floor: none of the acked first 100 came twice
  const firstIds = new Set(first.map((i) => recordIdString(i.id)));
  assert.equal(got.filter((d) => firstIds.has(d.id)).length, 100, diag());
  assert.ok(lines.some((l) => /^nats: consumer c on stream LL: no leader for \d+ s while its stream answers; (deleted|deletion asked \(unconfirmed\)), to be made again from stream seq 101$/.test(l)), diag());
  // and it is a consumer with a leader again
  const now = await jsApi((jsm) => jsm.consumers.info('LL', 'c'));
  assert.ok(now.cluster?.leader, JSON.stringify(now.cluster));
});
