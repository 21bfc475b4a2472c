// Kafka sink (kafkajs). Messages are keyed by host + flow (SinkItem.key, else the host) so one
// flow's records stay in one partition, in order. The producer is idempotent where the cluster
// allows it (InitProducerId), compresses batches, and retries with exponential backoff inside
// kafkajs; a batch it still cannot deliver throws, so the delivery queue/spool keeps it.
import { CompressionTypes, Kafka, logLevel, type Producer } from 'kafkajs';
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import { registerSinkScheme } from './registry.js';
import { parseBoolParam, parseDurationMs, parseFleetUrl, parseIntParam } from '../util/fleet-url.js';

export interface KafkaSinkOptions {
  brokers: string[];
  topic: string;
  clientId: string;
  /** try an idempotent producer first; fall back when the cluster refuses InitProducerId */
  idempotent: boolean;
  compression: 'none' | 'gzip';
  /** kafkajs retries per request (exponential backoff from retryMinMs up to retryMaxMs) */
  retries: number;
  retryMinMs: number;
  retryMaxMs: number;
  requestTimeoutMs: number;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  ssl: boolean;
  /** partition key: flow (host + flow, the default), host, or record (the record id: spreads a
   * host's records over every partition, for records that need no order, e.g. sysflow-msg) */
  key: KafkaKeyMode;
  name?: string;
}

export type KafkaKeyMode = 'flow' | 'host' | 'record';

/** `kafka://[user:pass@]host:port[,host:port]/topic?compression=gzip&idempotent=true&retries=8` */
export function parseKafkaSinkUrl(text: string, where: string): KafkaSinkOptions {
  const u = parseFleetUrl(text, where, 9092);
  if (u.scheme !== 'kafka' && u.scheme !== 'kafka+ssl') throw new Error(`${where}: scheme '${u.scheme}' is not kafka`);
  const p = u.params;
  const topic = u.path.replace(/\/+$/, '');
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new Error(`${where}: topic '${topic}' must be 1..249 of letters, digits, '.', '_' and '-'`);
  const compression = p['compression'] ?? 'gzip';
  if (compression !== 'none' && compression !== 'gzip') throw new Error(`${where}: compression=${compression} must be none or gzip`);
  const key = p['key'] ?? 'flow';
  if (key !== 'flow' && key !== 'host' && key !== 'record') throw new Error(`${where}: key=${key} must be flow, host or record`);
  const mech = p['sasl'] ?? 'plain';
  if (mech !== 'plain' && mech !== 'scram-sha-256' && mech !== 'scram-sha-512') throw new Error(`${where}: sasl=${mech} must be plain, scram-sha-256 or scram-sha-512`);
  return {
    brokers: u.hosts,
    topic,
    clientId: p['client_id'] ?? 'falconet',
    idempotent: parseBoolParam(p, 'idempotent', where, true),
    compression,
    retries: parseIntParam(p, 'retries', where, 8, 0, 100),
    retryMinMs: p['retry_min'] ? parseDurationMs(p['retry_min'], `${where} retry_min`) : 300,
    retryMaxMs: p['retry_max'] ? parseDurationMs(p['retry_max'], `${where} retry_max`) : 30_000,
    requestTimeoutMs: p['timeout'] ? parseDurationMs(p['timeout'], `${where} timeout`) : 30_000,
    sasl: u.user !== undefined ? { mechanism: mech, username: u.user, password: u.password ?? '' } : undefined,
    ssl: u.scheme === 'kafka+ssl',
    key,
  };
}

// kafkajs asks the controller for a producer id; clusters without ACLs for it, old brokers, and
// clusters that name no controller refuse it
const IDEMPOTENCE_REFUSED = /CLUSTER_AUTHORIZATION_FAILED|not authorized to access this cluster|UNSUPPORTED_VERSION|not found in the cached metadata/i;

/** Partition key: the item's own key (host + flow), else its host; or its host, or its record id. */
export function kafkaKey(it: SinkItem, mode: KafkaKeyMode = 'flow'): string {
  if (mode === 'record') return recordIdString(it.id);
  return mode === 'host' ? it.id.host : (it.key ?? it.id.host);
}

export class KafkaSink implements Sink {
  readonly name: string;
  private producer: Producer | undefined;
  private opening: Promise<void> | undefined;
  /** false once the cluster refused an idempotent producer */
  idempotent: boolean;
  readonly stats = { sent: 0, batches: 0, failedBatches: 0 };

  constructor(readonly opts: KafkaSinkOptions) {
    this.name = opts.name ?? `kafka:${opts.topic}`;
    this.idempotent = opts.idempotent;
  }

  private client(): Kafka {
    const o = this.opts;
    return new Kafka({
      clientId: o.clientId, brokers: o.brokers, ssl: o.ssl,
      ...(o.sasl ? { sasl: o.sasl as never } : {}),
      requestTimeout: o.requestTimeoutMs, connectionTimeout: 3000,
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: o.retryMinMs, maxRetryTime: o.retryMaxMs, retries: o.retries, factor: 0.2, multiplier: 2 },
    });
  }

  async open(): Promise<void> {
    if (this.producer) return;
    this.opening ??= this.connect().finally(() => { this.opening = undefined; });
    return this.opening;
  }

  private async connect(): Promise<void> {
    try {
      await this.connectProducer();
    } catch (e) {
      if (!this.idempotent || !IDEMPOTENCE_REFUSED.test((e as Error).message)) throw e;
      // InitProducerId refused (no rights, too old, or no controller to ask): carry on without
      this.idempotent = false;
      await this.connectProducer();
    }
  }

  private async connectProducer(): Promise<void> {
    const p = this.client().producer({
      idempotent: this.idempotent,
      // kafkajs keeps idempotent ordering only with one request in flight
      ...(this.idempotent ? { maxInFlightRequests: 1 } : {}),
      allowAutoTopicCreation: true,
    });
    try {
      await p.connect();
    } catch (e) {
      await p.disconnect().catch(() => undefined);
      throw e;
    }
    this.producer = p;
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    if (!batch.length) return {};
    await this.open();
    const o = this.opts;
    const record = {
      topic: o.topic,
      acks: -1,
      compression: o.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      messages: batch.map((it) => ({
        key: kafkaKey(it, o.key),
        value: Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength),
        headers: { 'falconet-id': recordIdString(it.id), 'falconet-kind': it.kind },
      })),
    };
    try {
      await this.producer!.send(record);
    } catch (e) {
      this.stats.failedBatches++;
      const msg = (e as Error).message;
      if (this.idempotent && IDEMPOTENCE_REFUSED.test(msg)) {
        // the cluster does not allow idempotent producers: carry on without
        this.idempotent = false;
        await this.reset();
      }
      throw new Error(`kafka: batch of ${batch.length} to ${o.topic} not acknowledged: ${msg}`);
    }
    this.stats.sent += batch.length;
    this.stats.batches++;
    return {};
  }

  private async reset(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.reset();
  }
}

/** Plugs the scheme into the sink registry (parseSinkUrl/createSink, --sink, pipeline.json). */
export function registerKafka(register: typeof registerSinkScheme = registerSinkScheme): void {
  register('kafka', (spec) => new KafkaSink(parseKafkaSinkUrl(spec.text ?? spec.url.href, spec.text ?? 'sink')), parseKafkaSinkUrl);
}
