// NATS JetStream sink: one subject per record kind (<prefix>.<kind>), Nats-Msg-Id = the record
// id so that a publish retried after a lost ack is de-duplicated by the stream, and every
// publish awaited for its PubAck. Items without an ack are reported failed (retry) so the
// delivery queue/spool keeps them; a batch with no ack at all throws (the sink is down).
import { connect, nanos, RetentionPolicy, StorageType, type JetStreamClient, type NatsConnection, type StreamConfig } from 'nats';
import type { RecordKind, SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import { registerSinkScheme } from './registry.js';
import { parseBoolParam, parseDurationMs, parseFleetUrl, parseIntParam } from '../util/fleet-url.js';

export interface NatsSinkOptions {
  servers: string[];
  user?: string;
  password?: string;
  token?: string;
  /** subjects are `${prefix}.${kind}` */
  subjectPrefix: string;
  stream: string;
  /** create the stream when it does not exist */
  createStream: boolean;
  replicas: number;
  retention: 'limits' | 'interest' | 'workqueue';
  storage: 'file' | 'memory';
  /** 0: unlimited */
  maxAgeMs: number;
  maxBytes: number;
  /** JetStream de-duplication window for Nats-Msg-Id */
  duplicateWindowMs: number;
  /** how long one publish waits for its ack */
  ackTimeoutMs: number;
  name?: string;
}

/** Subject for a record kind under a prefix. */
export function natsSubject(prefix: string, kind: RecordKind): string {
  return `${prefix}.${kind}`;
}

const RETENTION = { limits: RetentionPolicy.Limits, interest: RetentionPolicy.Interest, workqueue: RetentionPolicy.Workqueue } as const;

/**
 * `nats://[user:pass@]host:port[,host:port]/subject-prefix?stream=NAME&replicas=3&retention=limits`
 * Other keys: storage=file|memory, max_age=24h, max_bytes=N, dup_window=2m, ack_timeout=5s,
 * create=true|false, token=T. Keys the runtime owns (format, spool, queue, policy…) are ignored.
 */
export function parseNatsSinkUrl(text: string, where: string): NatsSinkOptions {
  const u = parseFleetUrl(text, where, 4222);
  if (u.scheme !== 'nats') throw new Error(`${where}: scheme '${u.scheme}' is not nats`);
  const p = u.params;
  const prefix = u.path.replace(/\/+$/, '').replace(/\//g, '.') || 'falconet';
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) throw new Error(`${where}: subject prefix '${prefix}' must be dot-separated tokens without wildcards or spaces`);
  const stream = p['stream'] ?? 'FALCONET';
  if (!/^[A-Za-z0-9_-]+$/.test(stream)) throw new Error(`${where}: stream name '${stream}' may only hold letters, digits, '_' and '-'`);
  const retention = p['retention'] ?? 'limits';
  if (retention !== 'limits' && retention !== 'interest' && retention !== 'workqueue') throw new Error(`${where}: retention=${retention} must be limits, interest or workqueue`);
  const storage = p['storage'] ?? 'file';
  if (storage !== 'file' && storage !== 'memory') throw new Error(`${where}: storage=${storage} must be file or memory`);
  return {
    servers: u.hosts,
    user: u.user,
    password: u.password,
    token: p['token'],
    subjectPrefix: prefix,
    stream,
    createStream: parseBoolParam(p, 'create', where, true),
    replicas: parseIntParam(p, 'replicas', where, 1, 1, 5),
    retention,
    storage,
    maxAgeMs: p['max_age'] ? parseDurationMs(p['max_age'], `${where} max_age`) : 0,
    maxBytes: parseIntParam(p, 'max_bytes', where, -1, -1, Number.MAX_SAFE_INTEGER),
    duplicateWindowMs: p['dup_window'] ? parseDurationMs(p['dup_window'], `${where} dup_window`) : 120_000,
    ackTimeoutMs: p['ack_timeout'] ? parseDurationMs(p['ack_timeout'], `${where} ack_timeout`) : 5000,
  };
}

export interface NatsSinkStats {
  published: number;
  /** publishes JetStream acknowledged as duplicates of an earlier Nats-Msg-Id */
  duplicates: number;
  failed: number;
}

export class NatsSink implements Sink {
  readonly name: string;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private opening: Promise<void> | undefined;
  readonly stats: NatsSinkStats = { published: 0, duplicates: 0, failed: 0 };

  constructor(readonly opts: NatsSinkOptions) {
    this.name = opts.name ?? `nats:${opts.stream}`;
  }

  private closed = false;

  async open(): Promise<void> {
    if (this.js) return;
    if (this.closed) throw new Error(`${this.name}: closed`);
    this.opening ??= this.connect().finally(() => { this.opening = undefined; });
    return this.opening;
  }

  private async connect(): Promise<void> {
    const o = this.opts;
    const nc = await connect({
      servers: o.servers,
      user: o.user, pass: o.password, token: o.token,
      name: this.name,
      // the client reconnects by itself (to any cluster member) once connected
      reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250,
      timeout: 2000,
    });
    try {
      if (o.createStream) await this.ensureStream(nc);
      this.js = nc.jetstream({ timeout: o.ackTimeoutMs });
      this.nc = nc;
      void nc.closed().then(() => { if (this.nc === nc) { this.nc = undefined; this.js = undefined; } });
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  private async ensureStream(nc: NatsConnection): Promise<void> {
    const o = this.opts;
    const jsm = await nc.jetstreamManager({ timeout: o.ackTimeoutMs });
    const subjects = [`${o.subjectPrefix}.>`];
    try {
      const info = await jsm.streams.info(o.stream);
      if (!info.config.subjects?.some((s) => s === subjects[0])) {
        throw new Error(`stream ${o.stream} exists but does not hold subjects ${subjects[0]} (it has ${info.config.subjects?.join(', ') ?? 'none'})`);
      }
      return;
    } catch (e) {
      if (!/stream not found/i.test((e as Error).message)) throw e;
    }
    const cfg: Partial<StreamConfig> = {
      name: o.stream,
      subjects,
      num_replicas: o.replicas,
      retention: RETENTION[o.retention],
      storage: o.storage === 'file' ? StorageType.File : StorageType.Memory,
      duplicate_window: nanos(o.duplicateWindowMs),
      max_age: nanos(o.maxAgeMs),
      max_bytes: o.maxBytes,
    };
    try {
      await jsm.streams.add(cfg);
    } catch (e) {
      // another agent created it first
      if (!/already in use|already exists/i.test((e as Error).message)) throw e;
    }
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    if (!batch.length) return {};
    await this.open();
    const js = this.js!;
    const timeout = this.opts.ackTimeoutMs;
    const results = await Promise.allSettled(batch.map((it) =>
      js.publish(natsSubject(this.opts.subjectPrefix, it.kind), it.data, { msgID: recordIdString(it.id), timeout })));
    const failed: { index: number; retry: boolean; reason: string }[] = [];
    results.forEach((r, index) => {
      if (r.status === 'fulfilled') {
        this.stats.published++;
        if (r.value.duplicate) this.stats.duplicates++;
      } else {
        this.stats.failed++;
        failed.push({ index, retry: true, reason: (r.reason as Error)?.message ?? String(r.reason) });
      }
    });
    if (failed.length === batch.length) throw new Error(`nats: no publish of ${batch.length} acknowledged: ${failed[0]!.reason}`);
    return failed.length ? { failed } : {};
  }

  async close(): Promise<void> {
    this.closed = true;
    // a connect still under way would otherwise leave a live connection behind
    await this.opening?.catch(() => undefined);
    const nc = this.nc;
    this.nc = undefined;
    this.js = undefined;
    if (nc) await shutdownNats(nc);
  }
}

/** Drains a connected connection (flushing what it holds); closes a disconnected one at once. */
export async function shutdownNats(nc: NatsConnection): Promise<void> {
  const proto = (nc as unknown as { protocol?: { connected?: boolean } }).protocol;
  if (proto?.connected !== false) {
    await Promise.race([nc.drain().catch(() => undefined), new Promise<void>((r) => setTimeout(r, 2000).unref())]);
  }
  // also after a drain: nats.js 2.29 may still hold a socket (a reconnect under way) that only
  // abortReconnect + close() release
  await closeNats(nc);
}

/**
 * Closes a connection for good. nats.js 2.29 keeps its reconnect loop running when close() is
 * called while it is reconnecting (the loop only checks `abortReconnect`), which would keep the
 * process alive: set that flag as well.
 */
export async function closeNats(nc: NatsConnection): Promise<void> {
  const proto = (nc as unknown as { protocol?: { abortReconnect?: boolean } }).protocol;
  if (proto && typeof proto === 'object') proto.abortReconnect = true;
  await Promise.race([nc.close().catch(() => undefined), new Promise<void>((r) => setTimeout(r, 2000).unref())]);
}

/** Plugs the scheme into the sink registry (parseSinkUrl/createSink, --sink, pipeline.json). */
export function registerNats(register: typeof registerSinkScheme = registerSinkScheme): void {
  register('nats', (spec) => new NatsSink(parseNatsSinkUrl(spec.text ?? spec.url.href, spec.text ?? 'sink')), parseNatsSinkUrl);
}
