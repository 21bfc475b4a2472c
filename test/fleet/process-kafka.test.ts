// Central processing on Kafka — librdkafka's mock cluster (a stand-in: no Kafka broker can be
// installed here): an agent forwards a SysFlow trace (format=sysflow-msg, key=record so records
// spread over the 4 partitions), two `falconet process --driver kafka` form one consumer group
// and write alerts to file sinks. The alerts equal the ground truth; both members consumed. Then
// a new group of two, one member SIGKILLed mid-stream: nothing is lost (its partitions resume
// from the last commit at the other member; repeats only of records it had not committed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaMock } from './kafka-mock.js';
import { waitFor } from './nats-helpers.js';
import { groundTruth, minus, Processor, runAgent, writePipelines } from './fleet-cli.js';

const AGENT = ['mon.1531776712.sf'];
const RECORDS = 6325;

let mock: KafkaMock;
let dir: string;
let central: string;
let forward: string;
let truth: string[];
before(async () => {
  mock = await KafkaMock.start(3);
  await mock.command('topic central 4 3');
  dir = mkdtempSync(join(tmpdir(), 'falconet-central-kafka-'));
  ({ forward, central } = writePipelines(dir, `kafka://${mock.bootstrap.join(',')}/central?format=sysflow-msg&key=record&policy=block`));
  truth = await groundTruth(central, AGENT);
});
after(async () => {
  await mock?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const srcUrl = (group: string, topic: string): string => `kafka://${mock.bootstrap.join(',')}/${topic}?group=${group}&session_timeout=6s`;

/** Starts two members one after the other (the second one through KafkaMock.whileJoining). */
async function groupOfTwo(group: string, prefix: string, topic: string): Promise<[Processor, Processor]> {
  const p1 = new Processor(`${prefix}1`, 'kafka', central, join(dir, `${prefix}1.jsonl`), srcUrl(group, topic));
  await waitFor(`${prefix}1 in the group`, () => (p1.partitions()?.length ?? 0) === 4, 60_000);
  const p2 = await mock.whileJoining(async () => {
    const second = new Processor(`${prefix}2`, 'kafka', central, join(dir, `${prefix}2.jsonl`), srcUrl(group, topic));
    await waitFor('a group of two', () => {
      const a = p1.partitions() ?? []; const b = second.partitions() ?? [];
      return a.length > 0 && b.length > 0 && a.length + b.length === 4 && a.every((x) => !b.includes(x));
    }, 90_000).catch((e: Error) => { throw new Error(`${e.message}\np1: ${p1.tail()}\np2: ${second.tail()}`); });
    return second;
  });
  return [p1, p2];
}

test('process --driver kafka: agent → mock cluster (4 partitions) → a consumer group of two: alerts exact, both consumed', async () => {
  assert.equal(truth.length, 466);
  const [p1, p2] = await groupOfTwo('central', 'g', 'central');
  try {
    await runAgent(forward, AGENT);
    await waitFor(`${truth.length} alerts`, () => p1.lines().length + p2.lines().length >= truth.length, 180_000)
      .catch((e: Error) => { throw new Error(`${e.message}: ${p1.lines().length} + ${p2.lines().length}\np1: ${p1.tail()}\np2: ${p2.tail()}`); });
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual([await p1.stop(), await p2.stop()], [0, 0]);
    const got = [...p1.lines(), ...p2.lines()];
    const r1 = p1.stat('received'); const r2 = p2.stat('received');
    console.log(`central kafka: p1 received ${r1} (alerts ${p1.lines().length}), p2 received ${r2} (alerts ${p2.lines().length}); committed ${p1.stat('committed')} + ${p2.stat('committed')}`);
    assert.deepEqual(minus(truth, got), [], 'every alert of the ground truth');
    assert.deepEqual(minus(got, truth), [], 'and nothing else: each record processed once');
    assert.equal(r1 + r2, RECORDS);
    assert.ok(Math.min(r1, r2) >= RECORDS / 10, `a non-trivial split: ${r1} / ${r2}`);
    assert.equal(p1.stat('committed') + p2.stat('committed'), RECORDS, 'every record committed once its alerts were out');
  } finally {
    await p1.stop('SIGKILL'); await p2.stop('SIGKILL');
  }
});

test('process --driver kafka: one member SIGKILLed mid-stream: nothing lost', async () => {
  // a fresh topic, so that both members hold partitions before the records arrive
  await mock.command('topic central2 4 3');
  const sub = join(dir, 'kill');
  mkdirSync(sub);
  const fwd2 = writePipelines(sub, `kafka://${mock.bootstrap.join(',')}/central2?format=sysflow-msg&key=record&policy=block`).forward;
  const [p1, p2] = await groupOfTwo('central2', 'k', 'central2');
  try {
    const agent = runAgent(fwd2, AGENT);
    await waitFor('p1 has delivered alerts', () => p1.lines().length >= 1, 120_000);
    const atKill = p1.lines().length + p2.lines().length;
    await p1.stop('SIGKILL');
    assert.ok(atKill < truth.length, `killed mid-stream (${atKill} of ${truth.length} alerts out)`);
    const killedLines = p1.lines();
    await agent;
    await waitFor('every alert of the ground truth', () => minus(truth, [...killedLines, ...p2.lines()]).length === 0, 180_000)
      .catch((e: Error) => { throw new Error(`${e.message}: ${p2.lines().length}\np2: ${p2.tail()}`); });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await p2.stop(), 0);
    const got = [...killedLines, ...p2.lines()];
    const extra = minus(got, truth);
    console.log(`central kafka kill: p1 killed after ${killedLines.length} alerts, p2 ${p2.lines().length} alerts, received ${p2.stat('received')}, extra alerts ${extra.length}`);
    assert.deepEqual(minus(truth, got), [], 'nothing lost');
    // a repeat is an alert p1 wrote for a record it had not committed when it died
    assert.deepEqual(minus(extra, killedLines), [], 'every extra alert is one p1 had written');
    assert.ok(p2.stat('received') > RECORDS / 2, 'p2 took over p1\'s partitions');
  } finally {
    await p1.stop('SIGKILL'); await p2.stop('SIGKILL');
  }
});
