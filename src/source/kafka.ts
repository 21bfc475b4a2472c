// Kafka source for central processors (`falconet process --driver kafka`): a consumer group
// (kafkajs) with auto-commit off. Offsets are committed only when the runtime acks the records,
// so when a processor dies its partitions move to the others and resume from the last commit.
// Kafka has no per-message redelivery flag: a record after a rebalance may repeat (at least once).
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { Envelope, RecordId, RecordKind, Source, SourceEvent } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import { parseBoolParam, parseDurationMs, parseFleetUrl } from '../util/fleet-url.js';
import { jsonDecode, parseRecordId, type FleetDecode, type FleetDelivery } from './nats.js';

const KINDS: readonly RecordKind[] = ['file', 'socket', 'process', 'payload', 'pid_exit', 'alert', 'sysflow'];

export interface KafkaSourceOptions {
  brokers: string[];
  topic: string;
  groupId: string;
  clientId: string;
  /** start from the oldest retained record when the group has no committed offset */
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  /** how long a fetch waits for records before returning empty */
  maxWaitMs: number;
  decode?: FleetDecode;
  log?: (text: string) => void;
}

/** `kafka://host:port[,host:port]/topic?group=NAME&from_beginning=true&session_timeout=30s&max_wait=500ms` */
export function parseKafkaSourceUrl(text: string, where: string): KafkaSourceOptions {
  const u = parseFleetUrl(text, where, 9092);
  if (u.scheme !== 'kafka') throw new Error(`${where}: scheme '${u.scheme}' is not kafka`);
  const p = u.params;
  const topic = u.path.replace(/\/+$/, '');
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new Error(`${where}: topic '${topic}' must be 1..249 of letters, digits, '.', '_' and '-'`);
  return {
    brokers: u.hosts, topic,
    groupId: p['group'] ?? 'falconet-processor',
    clientId: p['client_id'] ?? 'falconet-processor',
    fromBeginning: parseBoolParam(p, 'from_beginning', where, true),
    sessionTimeoutMs: p['session_timeout'] ? parseDurationMs(p['session_timeout'], `${where} session_timeout`) : 30_000,
    maxWaitMs: p['max_wait'] ? parseDurationMs(p['max_wait'], `${where} max_wait`) : 500,
  };
}

interface Inflight { id: string; partition: number; offset: bigint }

export class KafkaSource implements Source {
  readonly name: string;
  /** joins: group (re)joins so far; partitions: this member's current assignment */
  readonly stats = { received: 0, committed: 0, bad: 0, commitErrors: 0, joins: 0, partitions: [] as number[] };
  private consumer: Consumer | undefined;
  private stopped = false;
  private queue: SourceEvent[] = [];
  private wake: (() => void) | undefined;
  private taken: (() => void) | undefined;
  private inflight: Inflight[] = [];
  private failure: Error | undefined;
  private closed = false;
  /** offset commits under way (close waits for them: a stopped processor commits what it acked) */
  private readonly commits = new Set<Promise<void>>();

  constructor(private readonly opts: KafkaSourceOptions) {
    this.name = `kafka:${opts.topic}/${opts.groupId}`;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.taken?.();
  }

  ack(upTo: RecordId): void {
    const want = recordIdString(upTo);
    const at = this.inflight.findIndex((x) => x.id === want);
    if (at < 0) return;
    const done = this.inflight.splice(0, at + 1);
    const next = new Map<number, bigint>();
    for (const x of done) if ((next.get(x.partition) ?? -1n) < x.offset + 1n) next.set(x.partition, x.offset + 1n);
    const offsets = [...next].map(([partition, offset]) => ({ topic: this.opts.topic, partition, offset: offset.toString() }));
    const c = this.consumer;
    if (!c) return;
    const p = c.commitOffsets(offsets).then(
      () => { this.stats.committed += done.length; },
      // a partition moved to another processor: it resumes from the last commit (repeats, loses nothing)
      (e: Error) => { this.stats.commitErrors++; this.opts.log?.(`kafka: commit failed: ${e.message}`); },
    ).finally(() => { this.commits.delete(p); });
    this.commits.add(p);
  }

  private push(ev: SourceEvent): void {
    this.queue.push(ev);
    this.wake?.();
  }

  /** Leaves the group now (uncommitted records go to the other members). */
  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    await Promise.allSettled([...this.commits]);
    const c = this.consumer;
    this.consumer = undefined;
    await c?.disconnect().catch(() => undefined);
  }

  /** After the iteration ended: a consumer started while close() ran is disconnected here. */
  private async leave(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    await c?.disconnect().catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SourceEvent> {
    const o = this.opts;
    const kafka = new Kafka({ clientId: o.clientId, brokers: o.brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 } });
    const decode = o.decode ?? jsonDecode;
    // Joining a group can fail outright (a coordinator moving, a SyncGroup refused while members
    // come and go), at the start or at a later rebalance, where kafkajs gives up on errors it
    // deems not retriable: start again with a fresh consumer a few times before giving up.
    // Offsets not yet committed are fetched again (at least once).
    let rejoins = 0;
    const join = async (): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      const consumer = kafka.consumer({
        groupId: o.groupId, sessionTimeout: o.sessionTimeoutMs, heartbeatInterval: Math.max(100, Math.floor(o.sessionTimeoutMs / 10)),
        maxWaitTimeInMs: o.maxWaitMs, allowAutoTopicCreation: false,
        // a crash after the start: kafkajs rejoins by itself
        retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000, restartOnFailure: async () => true },
      });
      this.consumer = consumer;
      consumer.on(consumer.events.CRASH, (e) => { if (!e.payload.restart) { this.failure = e.payload.error; this.wake?.(); } });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        this.stats.joins++;
        this.stats.partitions = [...(e.payload.memberAssignment[o.topic] ?? [])].sort((x, y) => x - y);
        o.log?.(`kafka: joined group ${o.groupId}: partitions [${this.stats.partitions.join(',')}] of ${o.topic}`);
      });
      try {
        await consumer.connect();
        if (this.stopped) throw new Error('stopped');
        await consumer.subscribe({ topic: o.topic, fromBeginning: o.fromBeginning });
        if (this.stopped) throw new Error('stopped');
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
            const records: Envelope[] = [];
            for (const m of batch.messages) {
              if (!isRunning() || isStale() || this.stopped) break;
              this.stats.received++;
              const id = parseRecordId(m.headers?.['falconet-id']?.toString());
              const kind = m.headers?.['falconet-kind']?.toString() as RecordKind | undefined;
              try {
                if (!id) throw new Error('no falconet-id header');
                if (!kind || !KINDS.includes(kind)) throw new Error(`falconet-kind '${kind}' is no record kind`);
                const rec = decode(m.value ?? new Uint8Array(0), kind);
                const fleet: FleetDelivery = { source: 'kafka', streamSeq: Number(m.offset), partition: batch.partition, redelivered: false, deliveries: 1 };
                this.inflight.push({ id: recordIdString(id), partition: batch.partition, offset: BigInt(m.offset) });
                records.push({ kind, rec, id, enrich: { fleet } });
              } catch (e) {
                // a record that cannot be decoded never will be: skip it (its offset is committed with the next ack)
                this.stats.bad++;
                o.log?.(`kafka: ${o.topic}[${batch.partition}]@${m.offset}: ${(e as Error).message}; skipped`);
              }
              resolveOffset(m.offset);
            }
            if (records.length) {
              // hand over and wait until the runtime took the batch (backpressure)
              const took = new Promise<void>((r) => { this.taken = r; });
              this.push({ kind: 'records', records });
              await took;
            }
            await heartbeat();
          },
        });
        return true;
      } catch (e) {
        this.consumer = undefined;
        await consumer.disconnect().catch(() => undefined);
        if (this.stopped) return false;
        if (attempt >= 12) throw e;
        o.log?.(`kafka: joining group ${o.groupId} failed (${(e as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
    }
    };
    if (!(await join())) { yield { kind: 'end' }; return; }
    try {
      while (!this.stopped) {
        if (this.failure) {
          const e = this.failure;
          if (++rejoins > 12) throw e;
          this.failure = undefined;
          o.log?.(`kafka: consumer of group ${o.groupId} stopped (${e.message}); joining again`);
          const old = this.consumer;
          this.consumer = undefined;
          await old?.disconnect().catch(() => undefined);
          // records handed over but not acknowledged come again from the committed offsets
          this.inflight.length = 0;
          if (!(await join())) break;
          continue;
        }
        const ev = this.queue.shift();
        if (ev) {
          if (!this.queue.length) { const t = this.taken; this.taken = undefined; t?.(); }
          yield ev;
          continue;
        }
        await new Promise<void>((r) => { this.wake = r; });
        this.wake = undefined;
      }
      for (const ev of this.queue.splice(0)) yield ev;
    } finally {
      this.taken?.();
      // stopped: the group is left by close(), after the last acks are committed
      if (this.closed) await this.leave();
    }
    yield { kind: 'end' };
  }
}

