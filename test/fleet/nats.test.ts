// NATS JetStream sink and source against a real 3-node nats-server cluster (Debian nats-server)
// on 127.0.0.1, with R3 streams: a node killed mid-stream, the whole cluster down and back,
// two processors sharing one durable consumer with one of them killed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, type JetStreamManager } from 'nats';
import { NatsSink, parseNatsSinkUrl } from '../../src/sinks/nats.js';
import { describeApiError, NatsSource, parseNatsSourceUrl, parseRecordId, serverTooOld, stalled } from '../../src/source/nats.js';
import { recordIdString } from '../../src/pipeline/types.js';
import { NatsCluster, sleep } from './nats-cluster.js';
import { checkDeliveries, collect, items, publishAll, Timeline, waitFor, type Received } from './nats-helpers.js';
import { Delivery } from '../../src/sinks/delivery.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let cluster: NatsCluster;
before(async () => { cluster = await NatsCluster.start(3); });
after(async () => { await cluster?.close(); });

/** call(), again after a TIMEOUT, up to `tries` times in all (each retry says so). */
async function retryTimeout<T>(what: string, tries: number, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= tries || (e as { code?: string }).code !== 'TIMEOUT') throw e;
      console.log(`# ${what}: timed out (attempt ${attempt}); again`);
    }
  }
}

/** A JetStream API call on a connection of its own. A cluster taking 20,000 records with two
 * pull consumers can leave an API request unanswered past the client's 5 s default on a loaded
 * machine (seen once in CI): 20 s, and one retry. */
const jsApi = <T>(call: (jsm: JetStreamManager) => Promise<T>): Promise<T> => retryTimeout('JetStream API', 2, async () => {
  const nc = await connect({ servers: cluster.servers });
  try {
    return await call(await nc.jetstreamManager({ timeout: 20_000 }));
  } finally { await nc.close(); }
});

/** Opens a sink whose stream may still be in the making: an R3 stream made on a cluster that
 * has just started (or restarted a node) can take longer than the sink's 3 s ack_timeout on a
 * loaded machine (seen once: TIMEOUT 3 s into the kill-node test). The agent's delivery retries
 * an open the same way; a stream made behind a timed-out request is found by the next try. */
const openSink = (sink: NatsSink): Promise<void> => retryTimeout(`${sink.name}: open`, 4, () => sink.open());

const consumerInfo = (stream: string, name: string) => jsApi((jsm) => jsm.consumers.info(stream, name));
const streamInfo = (stream: string) => jsApi((jsm) => jsm.streams.info(stream));

test('nats url: hosts, prefix, stream options; bad values named', () => {
  const o = parseNatsSinkUrl('nats://u:p%40ss@10.0.0.1:4223,10.0.0.2/fleet/agents?stream=FLEET&replicas=3&retention=workqueue&max_age=24h&format=ecs', '--sink #1');
  assert.deepEqual([o.servers, o.user, o.password, o.subjectPrefix, o.stream, o.replicas, o.retention, o.maxAgeMs, o.duplicateWindowMs],
    [['10.0.0.1:4223', '10.0.0.2:4222'], 'u', 'p@ss', 'fleet.agents', 'FLEET', 3, 'workqueue', 86_400_000, 120_000]);
  assert.throws(() => parseNatsSinkUrl('nats://h/x?replicas=9', '--sink #2'), /--sink #2: replicas=9 must be an integer in 1\.\.5/);
  assert.throws(() => parseNatsSinkUrl('nats://h:99999/x', '--sink #3'), /--sink #3: host #1 'h:99999' has port 99999/);
  assert.throws(() => parseNatsSinkUrl('nats://h/a.*', 'p:1'), /subject prefix 'a\.\*'/);
  assert.throws(() => parseNatsSinkUrl('nats://h/x?retention=forever', 'p:2'), /retention=forever must be limits, interest or workqueue/);
  const s = parseNatsSourceUrl('nats://h1,h2/fleet?stream=FLEET&durable=central&ack_wait=5s', 'x');
  assert.deepEqual([s.servers, s.filterSubject, s.durable, s.ackWaitMs, s.stallCheckMs], [['h1:4222', 'h2:4222'], 'fleet.>', 'central', 5000, 30_000]);
  assert.equal(parseNatsSourceUrl('nats://h/x?stall_check=5s', 'x').stallCheckMs, 5000);
  assert.deepEqual([s.leaderlessMs, parseNatsSourceUrl('nats://h/x?leaderless=20s', 'x').leaderlessMs], [60_000, 20_000]);
  assert.throws(() => parseNatsSourceUrl('nats://h/x?leaderless=2s', '--input'), /--input leaderless: '2s' is under 10s \(a leader election/);
  assert.throws(() => parseNatsSourceUrl('nats://h/x?stall_check=soon', '--input'), /--input stall_check/);
  assert.throws(() => parseNatsSourceUrl('nats://h/x?stall_check=10ms', '--input'), /--input stall_check: '10ms' is under 1s/);
  assert.deepEqual(parseRecordId('web-1:b00t:42'), { host: 'web-1', boot: 'b00t', seq: 42n });
  assert.equal(parseRecordId('nope'), undefined);
});

test('nats source: when a quiet consumer counts as stalled', () => {
  assert.equal(stalled({ kind: 'not_found' }, 100), 'consumer not found');
  assert.equal(stalled({ kind: 'info', numPending: 7, numAckPending: 0 }, 100), '7 messages pending, none delivered');
  assert.equal(stalled({ kind: 'info', numPending: 0, numAckPending: 0 }, 100), undefined, 'nothing to deliver: idle');
  assert.equal(stalled({ kind: 'info', numPending: 7, numAckPending: 100 }, 100), undefined, 'at its ack limit: waiting for our acks');
  assert.equal(stalled({ kind: 'leaderless' }, 100), 'consumer without a leader');
  assert.equal(stalled({ kind: 'error' }, 100), undefined, 'no answer is no verdict');
});

test('nats source: a server older than the consumer API it uses is refused by name', async () => {
  assert.equal(serverTooOld('2.9.10'), undefined);
  assert.equal(serverTooOld('2.9.4'), undefined);
  assert.equal(serverTooOld('2.10.0-beta.1'), undefined);
  assert.equal(serverTooOld('v3.0.0'), undefined);
  assert.match(serverTooOld('2.9.3')!, /^nats-server 2\.9\.3 is older than 2\.9\.4/);
  assert.match(serverTooOld('2.8.12')!, /older than 2\.9\.4/);
  assert.match(serverTooOld('1.99.99')!, /older/);
  assert.match(serverTooOld(undefined)!, /reports no version/);
  assert.match(serverTooOld('dev')!, /no version it can be read from \('dev'\)/);
  // the cluster the tests run against is new enough (Debian 12: 2.9.10)
  const nc = await connect({ servers: cluster.servers });
  try {
    assert.equal(serverTooOld(nc.info?.version), undefined, nc.info?.version);
  } finally { await nc.close(); }
});

test('nats: R3 stream, one node killed mid-stream of 20,000 records: all consumed, duplicates only redeliveries', async () => {
  const sink = new NatsSink(parseNatsSinkUrl(cluster.url('fleet1', 'stream=KILL1&replicas=3&ack_timeout=3s'), 't'));
  await openSink(sink);
  const info0 = await streamInfo('KILL1');
  assert.equal(info0.config.num_replicas, 3);
  const deliveries: Received[] = [];
  // JetStream announces each new consumer leader; a new leader resumes from the replicated
  // delivery state and re-sends what the old one had sent but not yet replicated, unflagged
  const adv = await connect({ servers: cluster.servers });
  const elections: number[] = [];
  const advSub = adv.subscribe('$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.KILL1.central', { callback: () => { elections.push(deliveries.length); } });
  const srcOpts = { ...parseNatsSourceUrl(cluster.url('fleet1', 'stream=KILL1&durable=central&ack_wait=3s&batch=200'), 's') };
  const a = new NatsSource(srcOpts);
  const b = new NatsSource(srcOpts);
  const runs = [collect(a, 'a', deliveries), collect(b, 'b', deliveries)];
  const all = items(20_000);
  let killed = '';
  let consumerLeader = '';
  let deliveredBeforeKill = new Set<string>();
  const rep = await publishAll(sink, all, 500, 120_000, async (done) => {
    if (done === 10_000) {
      // kill the stream's leader: the hardest node to lose
      killed = (await streamInfo('KILL1')).cluster!.leader!;
      consumerLeader = (await consumerInfo('KILL1', 'central')).cluster!.leader!;
      deliveredBeforeKill = new Set(deliveries.map((d) => d.id));
      await cluster.kill(killed);
    }
  });
  assert.ok(killed, 'a node was killed');
  try {
    await waitFor('20,000 unique records at the consumers', () => new Set(deliveries.map((d) => d.id)).size >= 20_000, 120_000);
  } catch (e) {
    const ci = await consumerInfo('KILL1', 'central').catch((x: Error) => x.message);
    // leave nothing running behind a failure: sources, sink, the killed node
    await a.close(); await b.close(); await sink.close(); advSub.unsubscribe(); await adv.close();
    if (killed) { await cluster.restart(killed); await cluster.ready(); }
    throw new Error(`${(e as Error).message}: ${new Set(deliveries.map((d) => d.id)).size} unique, a ${JSON.stringify(a.stats)}, b ${JSON.stringify(b.stats)}, ` +
      `killed ${killed}, consumer ${typeof ci === 'string' ? ci : JSON.stringify({ pending: ci.num_pending, ackPending: ci.num_ack_pending, waiting: ci.num_waiting, leader: ci.cluster?.leader })}`);
  }
  await sleep(500);
  a.stop(); b.stop();
  await Promise.all(runs);
  await a.close(); await b.close();
  const info = await streamInfo('KILL1');
  const check = checkDeliveries(deliveries, all);
  await cluster.restart(killed);
  await cluster.ready();
  await sink.close();
  console.log(`kill-node: killed ${killed}, sends ${rep.sends}, throws ${rep.throws}, retried items ${rep.retriedItems}, ` +
    `JetStream-reported duplicate publishes ${sink.stats.duplicates}, consumer duplicates ${check.duplicates}, ` +
    `split a=${deliveries.filter((d) => d.consumer === 'a').length} b=${deliveries.filter((d) => d.consumer === 'b').length}`);
  // the stream holds each record exactly once: retried publishes were de-duplicated by Nats-Msg-Id
  assert.equal(info.state.messages, 20_000);
  assert.equal(check.missing, 0);
  assert.equal(check.unique, 20_000);
  advSub.unsubscribe();
  await adv.close();
  // A duplicate is flagged redelivered by JetStream, except re-sends in the fail-over after the
  // kill: nats-server 2.9 re-sends some in-flight records without the flag when the stream's
  // leader changes (counted and reported; never before the kill).
  const firstSeen = new Set<string>();
  const unexplained: string[] = [];
  deliveries.forEach((d, i) => {
    if (firstSeen.has(d.id) && !d.redelivered && i < deliveredBeforeKill.size) unexplained.push(d.id);
    firstSeen.add(d.id);
  });
  console.log(`kill-node: consumer leader ${consumerLeader} (${deliveredBeforeKill.size} delivered at the kill), leader elections at deliveries [${elections.join(', ')}], ` +
    `duplicates flagged redelivered ${check.duplicates - check.unflaggedDuplicates}, re-sent after a leader election ${check.unflaggedDuplicates}`);
  for (const id of unexplained.slice(0, 4)) {
    console.log(`  ${id}: ${deliveries.map((d, i) => (d.id === id ? `#${i} ${d.consumer} re=${d.redelivered}` : '')).filter((x) => x).join(', ')} of ${deliveries.length}`);
  }
  assert.deepEqual(unexplained, [], 'before the kill every duplicate delivery is one JetStream flagged');
  assert.ok(check.unflaggedDuplicates <= 500, 'unflagged re-sends are bounded by one pull window per consumer');
  assert.ok(a.stats.acked + b.stats.acked >= 20_000);
});

test('nats: whole cluster down 30 s: the agent\'s spool holds the records (across an agent restart) and delivers them after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-natsspool-'));
  const url = cluster.url('fleet2', 'stream=OUTAGE&replicas=3&ack_timeout=1s');
  const logs: string[] = [];
  const agent = () => new Delivery({
    name: 'nats-1', sink: new NatsSink(parseNatsSinkUrl(url, 't')), policy: 'block', maxBytes: 8 << 20,
    spool: { dir, maxBytes: 64 << 20 }, batchMax: 250, retry: { minMs: 100, maxMs: 1000 }, log: (l) => logs.push(l),
  });
  const first = items(1000, 0, 'agent-2');
  const during = items(1000, 1000, 'agent-2');
  const d1 = agent();
  await d1.open();
  await d1.push(first);
  await waitFor('the first 1,000 delivered', () => d1.stats().delivered === 1000, 30_000);
  await cluster.stopAll();
  const outageMs = Number(process.env['FALCONET_NATS_OUTAGE_MS'] ?? 30_000);
  const t0 = Date.now();
  await d1.push(during);
  await sleep(3000);
  const held = d1.stats();
  // nothing reported delivered while the cluster is down; the spool holds the records
  assert.equal(held.delivered, 1000);
  assert.equal(held.sinkUp, false);
  assert.ok(held.spoolBytes > 0);
  // the agent restarts during the outage: its spool is all that holds the records
  await d1.close({ drainMs: 200 });
  const sinkDown = new NatsSink(parseNatsSinkUrl(url, 't'));
  await assert.rejects(sinkDown.send(during.slice(0, 10)), /./, 'a send without the cluster fails');
  await sinkDown.close();
  await sleep(Math.max(0, outageMs - (Date.now() - t0)));
  const d2 = agent();
  await d2.open();
  await cluster.startAll();
  await waitFor('the spooled 1,000 delivered after the outage', () => d2.stats().delivered >= 1000, 90_000);
  const deliveries: Received[] = [];
  const src = new NatsSource(parseNatsSourceUrl(cluster.url('fleet2', 'stream=OUTAGE&durable=c&ack_wait=3s'), 's'));
  const run = collect(src, 'c', deliveries);
  await waitFor('2,000 records at the consumer', () => new Set(deliveries.map((d) => d.id)).size >= 2000, 60_000);
  src.stop(); await run; await src.close();
  const info = await streamInfo('OUTAGE');
  const st2 = d2.stats();
  await d2.close({ drainMs: 1000 });
  rmSync(dir, { recursive: true, force: true });
  console.log(`outage: cluster down ${outageMs} ms (agent restarted during it); all delivered ${Date.now() - t0} ms after it began; delivered after the restart ${st2.delivered}, re-sent (possible duplicates) ${st2.duplicatesResent}`);
  assert.ok(Date.now() - t0 >= outageMs);
  // Nats-Msg-Id de-duplication: re-sent records are stored once
  assert.equal(info.state.messages, 2000);
  const check = checkDeliveries(deliveries, [...first, ...during]);
  assert.deepEqual([check.missing, check.unique, check.unflaggedDuplicates], [0, 2000, 0]);
});

const CHILD = fileURLToPath(new URL('./nats-processor-child.js', import.meta.url));

interface ChildRun { lines: Received[]; kill(): void; done: Promise<void> }
function startProcessor(name: string, url: string): ChildRun {
  const p = spawn(process.execPath, [CHILD, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Received[] = [];
  createInterface({ input: p.stdout! }).on('line', (l) => {
    const [id, re] = l.split(' ');
    lines.push({ id: id!, redelivered: re === '1', consumer: name });
  });
  const done = new Promise<void>((r) => p.once('exit', () => r()));
  return { lines, kill: () => p.kill('SIGKILL'), done };
}

let waiting = 0;
test('nats: two processors share a durable consumer; killing one loses nothing', async () => {
  const sink = new NatsSink(parseNatsSinkUrl(cluster.url('fleet3', 'stream=SHARE&replicas=3'), 't'));
  const all = items(6000, 0, 'agent-3');
  await openSink(sink);
  const url = cluster.url('fleet3', 'stream=SHARE&durable=central&ack_wait=5s&batch=50');
  const p1 = startProcessor('p1', url);
  const p2 = startProcessor('p2', url);
  try {
    // both processors pulling before the records arrive
    await waitFor('two pull requests', () => waiting >= 2, 30_000, async () => {
      try { waiting = (await consumerInfo('SHARE', 'central')).num_waiting; } catch { /* not created yet */ }
    });
    await publishAll(sink, all.slice(0, 3000), 100);
    await waitFor('both processors at work', () => p1.lines.length >= 500 && p2.lines.length >= 500, 60_000);
    const before1 = p1.lines.length;
    // while both are healthy: no record went to both, and none was a redelivery
    const both = [...p1.lines, ...p2.lines];
    assert.equal(new Set(both.map((d) => d.id)).size, both.length);
    assert.equal(both.filter((d) => d.redelivered).length, 0);
    p1.kill();
    await p1.done;
    await publishAll(sink, all.slice(3000), 500);
    await waitFor('all 6,000 records processed', () => new Set([...p1.lines, ...p2.lines].map((d) => d.id)).size >= 6000, 90_000);
    const check = checkDeliveries([...p1.lines, ...p2.lines], all);
    console.log(`share: p1 ${p1.lines.length} (killed after ${before1}), p2 ${p2.lines.length}, redelivered to p2 ${p2.lines.filter((d) => d.redelivered).length}`);
    assert.deepEqual([check.missing, check.unique, check.unflaggedDuplicates], [0, 6000, 0]);
    assert.ok(p2.lines.length > 3000 - before1, 'p2 took over the rest');
  } finally {
    p1.kill(); p2.kill();
    await Promise.all([p1.done, p2.done]);
    await sink.close();
  }
});

test('nats sink: records land on <prefix>.<kind> with Nats-Msg-Id = record id', async () => {
  const sink = new NatsSink(parseNatsSinkUrl(cluster.url('fleet4', 'stream=SUBJ&replicas=1'), 't'));
  const batch = items(3, 7, 'h');
  assert.deepEqual(await sink.send(batch), {});
  assert.deepEqual(await sink.send(batch), {}, 'a resend is acknowledged');
  assert.equal(sink.stats.duplicates, 3, 'and reported duplicate by JetStream');
  const nc = await connect({ servers: cluster.servers });
  const jsm = await nc.jetstreamManager();
  const got: string[] = [];
  for (let seq = 1; seq <= 3; seq++) {
    const m = await jsm.streams.getMessage('SUBJ', { seq });
    got.push(`${m.subject} ${m.header.get('Nats-Msg-Id')}`);
  }
  assert.equal((await jsm.streams.info('SUBJ')).state.messages, 3);
  await nc.close();
  await sink.close();
  assert.deepEqual(got, ['fleet4.file h:b1:7', 'fleet4.process h:b1:8', 'fleet4.socket h:b1:9']);
  assert.equal(recordIdString(batch[0]!.id), 'h:b1:7');
});

test('nats source: its durable consumer deleted under it, it makes it again (saying so) and loses nothing', async () => {
  const sink = new NatsSink(parseNatsSinkUrl(cluster.url('fleet6', 'stream=GONE&replicas=3&ack_timeout=20s'), 't'));
  await openSink(sink);
  const first = items(100), second = items(100, 100);
  await publishAll(sink, first, 50);
  const lines: string[] = [];
  const src = new NatsSource({ ...parseNatsSourceUrl(cluster.url('fleet6', 'stream=GONE&durable=gone&ack_wait=3s'), 's'), log: (t) => lines.push(t) });
  const got: Received[] = [];
  let failed: unknown;
  const run = collect(src, 'gone', got).catch((e: unknown) => { failed = e; });
  const unique = () => new Set(got.map((d) => d.id)).size;
  const diag = () => `${unique()} unique; source ${JSON.stringify(src.stats)}; its lines:\n${lines.join('\n')}`;
  try {
    await waitFor('the first 100 records', () => unique() >= 100 || failed !== undefined, 60_000)
      .catch((e: unknown) => { throw new Error(`${(e as Error).message}: ${diag()}`); });
    // the client alone would ask for the deleted consumer for ever
    await jsApi((jsm) => jsm.consumers.delete('GONE', 'gone'));
    await publishAll(sink, second, 50);
    await waitFor('all 200 records', () => unique() >= 200 || failed !== undefined, 90_000)
      .catch((e: unknown) => { throw new Error(`${(e as Error).message}: ${diag()}`); });
  } finally {
    src.stop();
    await src.close();
    await sink.close();
    await run;
  }
  assert.equal(failed, undefined, `the source ended with ${String(failed)}: ${diag()}`);
  assert.equal(checkDeliveries(got, [...first, ...second]).missing, 0);
  assert.ok(lines.some((l) => /^nats: consumer gone on stream GONE: consumer_deleted .*; consuming again$/.test(l) ||
    /^nats: consumer gone on stream GONE: consumer_not_found .*; consuming again$/.test(l)), diag());
  // made again: the consumer exists on the server once more
  assert.equal((await consumerInfo('GONE', 'gone')).name, 'gone');
});

test('nats source: started while JetStream has no quorum, it retries (saying so) and consumes once the nodes are back', async () => {
  const sink = new NatsSink(parseNatsSinkUrl(cluster.url('fleet5', 'stream=NOQ&replicas=3&ack_timeout=20s'), 't'));
  await openSink(sink);
  const all = items(200);
  await publishAll(sink, all, 50);
  await sink.close();
  // two of three nodes down: no JetStream leader, API requests go unanswered or fail. The meta
  // leader is the one kept: its first answers still come (account info, "consumer not found"),
  // and the consumer create it takes then times out. That is the path of this test's CI
  // failure of 2026-12-05 (the earlier ones' lines did not name the step); a survivor that was
  // no leader never took it
  const leader = await cluster.metaLeader();
  const down = cluster.nodes.filter((n) => n.name !== leader).slice(0, 2).map((n) => n.name);
  for (const n of down) await cluster.kill(n);
  const lines: string[] = [];
  const timed = new Timeline(); // the same lines with when they came, for a failure's report
  const src = new NatsSource({ ...parseNatsSourceUrl(cluster.url('fleet5', 'stream=NOQ&durable=late&ack_wait=3s&stall_check=5s&leaderless=20s'), 's'),
    log: (t) => { lines.push(t); timed.mark(t); } });
  const got: Received[] = [];
  let failed: unknown;
  const run = collect(src, 'late', got).catch((e: unknown) => { failed = e; });
  try {
    try {
      await waitFor('a retry line', () => lines.some((l) => /retrying/.test(l)) || failed !== undefined, 60_000);
    } finally {
      timed.mark(`(test) nodes ${down.join(', ')} restarted`);
      for (const n of down) await cluster.restart(n);
      // the meta layer only: NOQ's replicas catch up while the source consumes (awaited below)
      await cluster.ready(60_000, false);
    }
    // the recovery takes 20-45 s here, ~90 s when the survivor keeps a consumer group the
    // cluster does not know (about 1 run in 8: two replacements, see docs/fleet.md). Before the
    // source made the consumer ahead of asking for it (2026-12-05), such a run never recovered
    await waitFor('200 records', () => new Set(got.map((d) => d.id)).size >= 200 || failed !== undefined, 240_000)
      .catch(async (e: unknown) => {
        // what the source saw, and what the servers say of the stream and the consumer
        const server = await Promise.all([streamInfo('NOQ'), consumerInfo('NOQ', 'late')].map((p) => p.then(
          (i) => JSON.stringify({ cluster: i.cluster, state: 'state' in i ? i.state : undefined, pending: 'num_pending' in i ? [i.num_pending, i.num_ack_pending, i.num_waiting, i.delivered] : undefined }),
          (x: unknown) => `error ${describeApiError(x)}`)));
        throw new Error(`${(e as Error).message}: ${new Set(got.map((d) => d.id)).size} of 200; source ${JSON.stringify(src.stats)}; ` +
          `stream ${server[0]}; consumer ${server[1]}; its lines:\n${timed.lines.join('\n')}\n` +
          cluster.nodes.map((n) => `node ${n.name}, last lines:\n${n.log.slice(-8).join('')}`).join('\n'));
      });
  } finally {
    src.stop();
    await src.close();
    await run;
  }
  // the recovery's timeline: how long a passing run took, beside a failing one's report
  timed.mark('(test) 200 records');
  timed.print('no-quorum timeline');
  assert.equal(failed, undefined, `the source ended with ${String(failed)}; its lines:\n${lines.join('\n')}`);
  assert.equal(checkDeliveries(got, all).missing, 0);
  assert.match(lines[0]!, /^nats: consumer late on stream NOQ: .+; retrying \(attempt 1\)$/, lines.join('\n'));
  // the same answer twice in a row is shown again only a minute later, saying what it left out
  const retries = lines.map((l) => /^(.*); retrying \(attempt \d+(, \d+ like it not shown)?\)$/.exec(l)).filter((m) => m !== null);
  for (let i = 1; i < retries.length; i++)
    if (retries[i]![1] === retries[i - 1]![1]) assert.ok(retries[i]![2], `a repeated retry line without its count:\n${lines.join('\n')}`);
});
