// NATS JetStream source for central processors (`falconet process --driver nats`): a durable
// pull consumer with explicit acks. Processors started with the same durable name pull from the
// same consumer, so JetStream splits the stream between them; a message is acknowledged only
// when the runtime calls ack() after delivering what it produced, so the in-flight messages of
// a processor that dies are redelivered (after ack_wait) to the others.
import { AckPolicy, connect, ConsumerEvents, DeliverPolicy, nanos, type ConsumerInfo, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import type { Envelope, RecordId, RecordKind, Source, SourceEvent } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import { parseDurationMs, parseFleetUrl, parseIntParam } from '../util/fleet-url.js';
import { shutdownNats } from '../sinks/nats.js';
import { RepeatLines } from '../util/repeat-lines.js';

const KINDS: readonly RecordKind[] = ['file', 'socket', 'process', 'payload', 'pid_exit', 'alert', 'sysflow'];

/** Turns a message body into the record the processor's stages take (default: JSON). */
export type FleetDecode = (data: Uint8Array, kind: RecordKind) => unknown;

export const jsonDecode: FleetDecode = (data) => JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as unknown;

export interface NatsSourceOptions {
  servers: string[];
  user?: string;
  password?: string;
  token?: string;
  stream: string;
  /** consumer name shared by the processors that split the stream */
  durable: string;
  /** e.g. "falconet.>" or "falconet.socket" (default: everything in the stream) */
  filterSubject?: string;
  /** a message not acked within this time goes to another processor */
  ackWaitMs: number;
  maxAckPending: number;
  /** messages pulled per request; also the largest batch handed to the runtime */
  batch: number;
  /** with nothing received for this long while the consumer has messages for it, the source
   * asks the server about its consumer (see NatsSource.watch) */
  stallCheckMs: number;
  /** a consumer that has had no leader for this long while its stream answers is replaced (see
   * NatsSource.replaceLeaderless); Infinity: never */
  leaderlessMs: number;
  decode?: FleetDecode;
  /** diagnostics (bad messages) */
  log?: (text: string) => void;
}

/** `nats://host:port[,host:port]/subject-filter?stream=NAME&durable=NAME&ack_wait=30s&batch=256` */
export function parseNatsSourceUrl(text: string, where: string): NatsSourceOptions {
  const u = parseFleetUrl(text, where, 4222);
  if (u.scheme !== 'nats') throw new Error(`${where}: scheme '${u.scheme}' is not nats`);
  const p = u.params;
  const prefix = u.path.replace(/\/+$/, '').replace(/\//g, '.');
  return {
    servers: u.hosts, user: u.user, password: u.password, token: p['token'],
    stream: p['stream'] ?? 'FALCONET',
    durable: p['durable'] ?? 'falconet-processor',
    filterSubject: prefix ? (prefix.endsWith('>') || prefix.split('.').length > 1 ? prefix : `${prefix}.>`) : undefined,
    ackWaitMs: p['ack_wait'] ? parseDurationMs(p['ack_wait'], `${where} ack_wait`) : 30_000,
    maxAckPending: parseIntParam(p, 'max_ack_pending', where, 10_000, 1, 1_000_000),
    batch: parseIntParam(p, 'batch', where, 256, 1, 10_000),
    stallCheckMs: p['stall_check'] ? parseAtLeast(p['stall_check'], `${where} stall_check`, 1000, 'each check is a JetStream API request') : 30_000,
    leaderlessMs: p['leaderless'] === 'never' ? Infinity
      : p['leaderless'] ? parseAtLeast(p['leaderless'], `${where} leaderless`, MIN_LEADERLESS_MS, 'a leader election can take seconds') : 60_000,
  };
}

/** A leaderless consumer's deletion, as its line says it. */
const DELETION_WORDS = {
  deleted: 'deleted',
  unconfirmed: 'deletion asked (unconfirmed)',
  unknown: 'the cluster does not know it (only a member without a leader does)',
} as const;

/** the least `leaderless`: a healthy group elects a leader in seconds */
const MIN_LEADERLESS_MS = 10_000;

function parseAtLeast(text: string, where: string, minMs: number, why: string): number {
  const ms = parseDurationMs(text, where);
  if (ms < minMs) throw new Error(`${where}: '${text}' is under ${minMs / 1000}s (${why})`);
  return ms;
}

/** `host:boot:seq` (the Nats-Msg-Id) → RecordId; undefined when it is not one. */
export function parseRecordId(text: string | undefined): RecordId | undefined {
  if (!text) return undefined;
  const b = text.lastIndexOf(':');
  const a = b > 0 ? text.lastIndexOf(':', b - 1) : -1;
  // canonical decimal only (no leading zeros), so the text round-trips through recordIdString
  if (a <= 0 || !/^(0|[1-9]\d*)$/.test(text.slice(b + 1))) return undefined;
  return { host: text.slice(0, a), boot: text.slice(a + 1, b), seq: BigInt(text.slice(b + 1)) };
}

/** What a fleet source attaches as `enrich.fleet` to each envelope. */
export interface FleetDelivery {
  source: 'nats' | 'kafka';
  /** JetStream stream sequence, or Kafka offset */
  streamSeq: number;
  /** the engine says this record was delivered before (to this or another processor) */
  redelivered: boolean;
  deliveries: number;
  partition?: number;
}

export interface NatsSourceStats {
  received: number;
  redelivered: number;
  acked: number;
  /** messages that could not be decoded (terminated, never redelivered) */
  bad: number;
  /** the consumer's ack floor (stream sequence) when the server last told it: a consumer made
   * anew delivers from the next one */
  ackFloor?: number;
}

/** JetStream API requests of a source: the client's default (5 s) is short for a loaded cluster. */
const API_TIMEOUT_MS = 15_000;
/** a leaderless consumer's deletion: its answer seldom comes (see replaceLeaderless) */
const DELETE_TIMEOUT_MS = 5_000;
/** the least time between two retry lines with the same answer (an outage of minutes would
 * otherwise give a line every 5 s) */
const RETRY_LINE_EVERY_MS = 60_000;

/** A JetStream API failure that may pass: no answer in time, or no responders (no leader yet). */
function isTransientApiError(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'TIMEOUT' || code === '503';
}

const isNotFound = (e: unknown): boolean => /consumer not found/i.test((e as Error).message);

/** An API failure in words: nats.js reports both "no responders" and a JetStream API error with
 * status 503 as "503"; the server's own description (and err_code) tells them apart. */
export function describeApiError(e: unknown): string {
  const api = (e as { api_error?: { description?: string; err_code?: number } }).api_error;
  const text = (e as Error).message;
  if (!api) return text === '503' ? '503 no responders' : text;
  return `${text} ${api.description ?? ''}${api.err_code ? ` (err_code ${api.err_code})` : ''}`.trim();
}

/** The oldest nats-server whose consumer API the source's pull consumer uses (nats.js checks it
 * in `consumers.get`, which the source does not call: see consume). */
export const MIN_SERVER_VERSION = '2.9.4';

/** undefined when `version` (the server's INFO) is at least `min`, else why not. */
export function serverTooOld(version: string | undefined): string | undefined {
  const min = MIN_SERVER_VERSION;
  const parse = (v: string) => /^v?(\d+)\.(\d+)\.(\d+)/.exec(v)?.slice(1, 4).map(Number);
  const have = version ? parse(version) : undefined;
  const want = parse(min)!;
  if (!have) return `nats-server reports no version${version ? ` it can be read from ('${version}')` : ''}`;
  for (let i = 0; i < 3; i++) {
    if (have[i]! > want[i]!) return undefined;
    if (have[i]! < want[i]!) return `nats-server ${version} is older than ${min}, the least the source's JetStream consumer needs`;
  }
  return undefined;
}

/** What the source was doing when a request failed (its retry line names it). */
type ConsumeStep = 'connect' | 'JetStream account info' | 'consumer info' | 'consumer create' | 'consume';
/** A step whose request is about the consumer itself (its group answers it). */
const aboutConsumer = (s: ConsumeStep): boolean => s === 'consumer info' || s === 'consumer create';

/** JetStream's "system temporarily unavailable" (err_code 10008). A member of a consumer's group
 * that has no leader answers each of the consumer's requests so, at once. */
const isLeaderless = (e: unknown): boolean => (e as { api_error?: { err_code?: number } }).api_error?.err_code === 10008;

/** The durable consumer of o, made unless it exists (a sibling processor may make it first).
 * `createFirst`: asked to make it before asking for it (see NatsSource.replaceLeaderless). Made
 * anew, it delivers from the stream sequence after `ackFloor` when one was seen (a consumer
 * that was lost: what was acked is not delivered again), else from the stream's start. */
async function ensureConsumer(jsm: JetStreamManager, o: NatsSourceOptions, ackFloor: number | undefined,
  step: (what: ConsumeStep) => void, createFirst: boolean): Promise<ConsumerInfo> {
  if (!createFirst) {
    step('consumer info');
    try {
      return await jsm.consumers.info(o.stream, o.durable);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  step('consumer create');
  try {
    return await jsm.consumers.add(o.stream, {
      durable_name: o.durable, ack_policy: AckPolicy.Explicit,
      ...(ackFloor ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: ackFloor + 1 } : { deliver_policy: DeliverPolicy.All }),
      ack_wait: nanos(o.ackWaitMs), max_ack_pending: o.maxAckPending,
      ...(o.filterSubject ? { filter_subject: o.filterSubject } : {}),
    });
  } catch (e) {
    if (!/already in use|already exists/i.test((e as Error).message)) throw e;
  }
  step('consumer info');
  return await jsm.consumers.info(o.stream, o.durable);
}

/** What the stall check saw of the consumer: a verdict, and the facts for its line. */
export type StallSample =
  | { kind: 'not_found' }
  | { kind: 'leaderless' }
  | { kind: 'error' }
  | { kind: 'info'; numPending: number; numAckPending: number };

/** Whether a consumer from which nothing arrived for a whole check period, with nothing left in
 * the client's buffer, is stalled: gone, or holding messages for us while under its ack limit
 * (at the limit, the runtime's acks are what it waits for), or without a leader (consuming
 * again finds out whether that lasts: see NatsSource.consume). Another API error is no verdict. */
export function stalled(s: StallSample, maxAckPending: number): string | undefined {
  if (s.kind === 'not_found') return 'consumer not found';
  if (s.kind === 'leaderless') return 'consumer without a leader';
  if (s.kind === 'info' && s.numPending > 0 && s.numAckPending < maxAckPending) {
    return `${s.numPending} messages pending, none delivered`;
  }
  return undefined;
}

export class NatsSource implements Source {
  readonly name: string;
  readonly stats: NatsSourceStats = { received: 0, redelivered: 0, acked: 0, bad: 0 };
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private ended = false;
  /** delivered to the runtime, not yet acked, in delivery order */
  private inflight: { id: string; msg: JsMsg }[] = [];
  /** the last replacement's deletion was answered "not found": a member keeps a group the
   * cluster does not know, and the consumer made since is expected to have no leader either, so
   * the next replacement waits only MIN_LEADERLESS_MS (see replaceLeaderless) */
  private staleMember = false;
  /** a retry's line: each new answer at once, the same answer again at most once a minute */
  private readonly retryLines = new RepeatLines(RETRY_LINE_EVERY_MS);

  constructor(private readonly opts: NatsSourceOptions) {
    this.name = `nats:${opts.stream}/${opts.durable}`;
  }

  /** A line about this source's consumer. */
  private say(text: string): void {
    this.opts.log?.(`nats: consumer ${this.opts.durable} on stream ${this.opts.stream}: ${text}`);
  }

  stop(): void {
    this.stopped = true;
    this.messages?.stop();
  }

  ack(upTo: RecordId): void {
    const want = recordIdString(upTo);
    const at = this.inflight.findIndex((x) => x.id === want);
    if (at < 0) return;
    for (const x of this.inflight.splice(0, at + 1)) { x.msg.ack(); this.stats.acked++; }
    if (this.ended && !this.inflight.length) void this.shutdown();
  }

  private async shutdown(): Promise<void> {
    const nc = this.nc;
    this.nc = undefined;
    if (nc) await shutdownNats(nc);
  }

  /** Closes the connection now: unacked messages go back to the stream after ack_wait. */
  async close(): Promise<void> {
    this.stop();
    await this.shutdown();
  }

  /** Connects (once), makes the durable consumer if absent and starts consuming. A cluster
   * electing leaders, or busy creating a replicated consumer for a sibling processor, can leave a
   * request unanswered: that is retried (with a line each time) until the source is stopped;
   * anything else throws. undefined: stopped first. */
  private async consume(): Promise<ConsumerMessages | undefined> {
    const o = this.opts;
    let leaderlessSince: number | undefined;
    // after a replacement: make the consumer before asking for it (see replaceLeaderless)
    let remake = false;
    for (let attempt = 1; !this.stopped; attempt++) {
      let step: ConsumeStep = 'connect';
      let jsm: JetStreamManager | undefined;
      try {
        this.nc ??= await connect({
          servers: o.servers, user: o.user, pass: o.password, token: o.token, name: this.name,
          reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 2000,
        });
        const old = serverTooOld(this.nc.info?.version);
        if (old) throw new Error(`${this.name}: ${old}`);
        step = 'JetStream account info';
        jsm = await this.nc.jetstreamManager({ timeout: API_TIMEOUT_MS });
        const info = await ensureConsumer(jsm, o, this.stats.ackFloor, (what) => { step = what; }, remake);
        remake = false;
        this.stats.ackFloor = info.ack_floor.stream_seq;
        step = 'consume';
        // from the info in hand: asking again could meet the answer of a member without a leader
        const consumer = this.nc.jetstream({ timeout: API_TIMEOUT_MS }).consumers.getPullConsumerFor(info);
        return await consumer.consume({ max_messages: o.batch, expires: 5000 });
      } catch (e) {
        if (!isTransientApiError(e)) throw e;
        const why = `${step}: ${describeApiError(e)}${this.nc?.info?.server_name ? ` via ${this.nc.info.server_name}` : ''}`;
        const held = this.retryLines.pass(why);
        if (held !== undefined) this.say(`${why}; retrying (attempt ${attempt}${held ? `, ${held} like it not shown` : ''})`);
        if (!isLeaderless(e) || !aboutConsumer(step)) leaderlessSince = undefined;
        else if (Date.now() - (leaderlessSince ??= Date.now()) >= (this.staleMember ? Math.min(o.leaderlessMs, MIN_LEADERLESS_MS) : o.leaderlessMs) &&
          jsm && await this.replaceLeaderless(jsm, leaderlessSince)) {
          leaderlessSince = undefined;
          remake = true;
          continue;
        }
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5000)));
      }
    }
    return undefined;
  }

  /** Deletes a consumer whose group has had no leader since `since` while its stream answers, so
   * that the next attempt makes it anew (from the last ack floor seen: see ensureConsumer). In a
   * healthy cluster a group elects a leader in seconds. nats-server 2.9 can keep a broken one
   * after a cluster lost quorum and regained it: one member answers each of the consumer's
   * requests with 10008 at once and never catches up (what nats.test's no-quorum failure points
   * to; nats-leaderless.test makes these answers on purpose). A stream that does not
   * answer either is a cluster still recovering: nothing is deleted then. true: deleted.
   * The next attempt makes the consumer before it asks for it. When the deletion answers "not
   * found", the cluster's meta leader does not know the consumer: only the member that answers
   * 10008 holds it (seen in nats.test's CI failure: the stream counted no consumer while one
   * server kept saying "no quorum" of it). Asking for it would meet that member's answer again
   * and never make it; made, the cluster knows it, so a later deletion reaches every member.
   * That member keeps its stale group, so the consumer made is expected to have no leader
   * either: the next replacement comes after MIN_LEADERLESS_MS, not `leaderless`. */
  private async replaceLeaderless(jsm: JetStreamManager, since: number): Promise<boolean> {
    const o = this.opts;
    const what = `no leader for ${Math.round((Date.now() - since) / 1000)} s`;
    try {
      await jsm.streams.info(o.stream);
    } catch (e) {
      this.say(`${what}, nor has its stream (${describeApiError(e)}); waiting`);
      return false;
    }
    let done: 'deleted' | 'unconfirmed' | 'unknown' = 'deleted';
    try {
      // the answer comes from the consumer's leader, which there is none of, so it is waited for
      // less than other requests; the next attempt finds out whether the deletion went through
      // (seen: it did)
      const quick = await this.nc!.jetstreamManager({ timeout: DELETE_TIMEOUT_MS, checkAPI: false });
      await quick.consumers.delete(o.stream, o.durable);
    } catch (e) {
      if ((e as { code?: string }).code === 'TIMEOUT') done = 'unconfirmed';
      else if (isNotFound(e)) done = 'unknown';
      else {
        this.say(`${what}; not deleted (${describeApiError(e)})`);
        return false;
      }
    }
    this.say(`${what} while its stream answers; ${DELETION_WORDS[done]}, to be made again from ${this.stats.ackFloor ? `stream seq ${this.stats.ackFloor + 1}` : 'the stream\'s start'}`);
    this.staleMember = done === 'unknown';
    // what was delivered from it cannot be acked any more (see the iterator)
    this.inflight = [];
    return true;
  }

  /** Ends `messages` when its consumer is lost, so that consumption starts again (and makes the
   * consumer anew if it is gone): the client alone would ask for a lost consumer for ever, and
   * the source would stall without a word.
   * - The server says it is deleted, or not found. One "not found" is enough: the client counts
   *   them only in an unbroken row, and a cluster that lost quorum can answer "not found" and
   *   time out by turns for ever (nats-server 2.9, seen in nats.test).
   * - Nothing arrived for two check periods in a row while the client's buffer is empty, and
   *   the server, asked, says the consumer is gone, holds messages for us or has no leader
   *   (`stalled`): after a cluster lost quorum, a server can keep a consumer that no longer has
   *   one. */
  private watch(messages: ConsumerMessages): { why?: string; gone?: boolean; stop(): void } {
    const o = this.opts;
    const seen: { why?: string; gone?: boolean; stop(): void } = { stop: () => clearInterval(timer) };
    const end = (why: string, gone: boolean) => {
      if (seen.why) return;
      seen.why = why;
      seen.gone = gone;
      seen.stop();
      messages.stop();
    };
    const said = new Set<string>();
    void (async () => {
      for await (const st of await messages.status()) {
        // the first of each kind, so that a consumer that stops delivering says why
        if (Object.values(ConsumerEvents).includes(st.type as ConsumerEvents) && !said.has(st.type)) {
          said.add(st.type);
          this.say(`${st.type} (${String(st.data)})`);
        }
        if (st.type === ConsumerEvents.ConsumerDeleted || st.type === ConsumerEvents.ConsumerNotFound) {
          end(`${st.type} (${String(st.data)})`, true);
          return;
        }
      }
    })().catch(() => { /* the status iterator ends with the messages */ });
    let lastReceived = messages.getReceived();
    let quiet = 0;
    let checking = false;
    const timer = setInterval(() => {
      const received = messages.getReceived();
      const idle = received === lastReceived && received <= messages.getProcessed();
      lastReceived = received;
      if (!idle) { quiet = 0; return; }
      if (++quiet < 2 || checking || !this.nc) return;
      checking = true;
      void this.sample(this.nc).then((s) => {
        const why = stalled(s, o.maxAckPending);
        if (why) end(`${why} in ${Math.round((quiet * o.stallCheckMs) / 1000)} s`, s.kind === 'not_found');
      }).finally(() => { checking = false; });
    }, o.stallCheckMs);
    timer.unref?.();
    return seen;
  }

  private async sample(nc: NatsConnection): Promise<StallSample> {
    try {
      const i = await (await nc.jetstreamManager({ timeout: API_TIMEOUT_MS })).consumers.info(this.opts.stream, this.opts.durable);
      this.stats.ackFloor = i.ack_floor.stream_seq;
      return { kind: 'info', numPending: i.num_pending, numAckPending: i.num_ack_pending };
    } catch (e) {
      return { kind: isNotFound(e) ? 'not_found' : isLeaderless(e) ? 'leaderless' : 'error' };
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SourceEvent> {
    const o = this.opts;
    const decode = o.decode ?? jsonDecode;
    let batch: Envelope[] = [];
    while (!this.stopped) {
      const messages = this.messages = await this.consume();
      if (!messages) break;
      const lost = this.watch(messages);
      try {
        for await (const m of messages) {
          this.stats.received++;
          this.staleMember = false;
          if (m.info.redelivered) this.stats.redelivered++;
          const kind = m.subject.slice(m.subject.lastIndexOf('.') + 1) as RecordKind;
          const id = parseRecordId(m.headers?.get('Nats-Msg-Id'));
          let rec: unknown;
          try {
            if (!KINDS.includes(kind)) throw new Error(`subject ${m.subject} names no record kind`);
            if (!id) throw new Error('no Nats-Msg-Id record id');
            rec = decode(m.data, kind);
          } catch (e) {
            this.stats.bad++;
            o.log?.(`nats: ${m.subject} stream seq ${m.seq}: ${(e as Error).message}; message terminated`);
            m.term();
            continue;
          }
          this.inflight.push({ id: recordIdString(id!), msg: m });
          // delivery facts for stages that care (a redelivered record may have been processed before)
          const fleet: FleetDelivery = { source: 'nats', streamSeq: m.seq, redelivered: m.info.redelivered, deliveries: m.info.deliveryCount };
          batch.push({ kind, rec, id, enrich: { fleet } });
          // nothing more buffered in the client: hand the batch over now. (getPending() counts the
          // message being handed out and queued status frames too, so it is not 0 at the tail; waiting
          // for one more message would hold the tail of a stream until its ack_wait ran out.)
          if (batch.length >= o.batch || messages.getReceived() <= messages.getProcessed()) {
            const out = batch;
            batch = [];
            yield { kind: 'records', records: out };
          }
          if (this.stopped) break;
        }
      } finally {
        lost.stop();
      }
      if (this.stopped) break;
      // not stopped: the consumer was lost under the client (see watch)
      this.say(`${lost.why ?? 'consumption ended'}; consuming again`);
      // a consumer that was gone is made anew and delivers again what the runtime has not acked
      // (at least once, as after any redelivery). The old deliveries cannot be acked any more,
      // so they leave the in-flight list, or an ack by record id would stop at the old copy.
      // A stalled consumer that still exists keeps them: their acks still count.
      if (lost.gone !== false) this.inflight = [];
      await new Promise((r) => setTimeout(r, 250));
    }
    if (batch.length) yield { kind: 'records', records: batch };
    this.ended = true;
    if (!this.inflight.length) await this.shutdown();
    yield { kind: 'end' };
  }
}
