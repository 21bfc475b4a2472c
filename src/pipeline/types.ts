// The runtime's seams, defined once (DESIGN.md "Seams"). Every input is a Source, every
// per-record step a Stage, every output format an Encoder, every destination a Sink. A Sink never
// sees a Source: the runtime puts one bounded queue (and optionally a disk spool) between them.
import type { SensorHello, SensorStats } from '../model/records.js';

/** What a record is, in one word per monitor (plus alerts and SysFlow rows). */
export type RecordKind = 'file' | 'socket' | 'process' | 'payload' | 'pid_exit' | 'alert' | 'sysflow';

/**
 * Stable record id: (host, boot, sequence). It travels with the record to every sink so that
 * engines that can de-duplicate (Nats-Msg-Id, Elasticsearch _id, Kafka idempotence) do.
 */
export interface RecordId {
  readonly host: string;
  readonly boot: string;
  readonly seq: bigint;
}

/** The canonical text form of a RecordId: `host:boot:seq`. */
export function recordIdString(id: RecordId): string {
  return `${id.host}:${id.boot}:${id.seq}`;
}

/**
 * What enrichment stages attach to a record. Encoders read it; they never look anything up
 * themselves. Keys are owned by the enricher that sets them (one name per enricher).
 */
export interface Enrichment {
  [enricher: string]: unknown;
}

/** One record on its way through the runtime. `rec` is the decoded record of its kind. */
export interface Envelope<R = unknown> {
  readonly kind: RecordKind;
  readonly rec: R;
  /** set by the runtime when the record enters it; sequence = the kflowd InfoSequenceNumber */
  id?: RecordId;
  /** filled by stages; undefined until a stage attaches something */
  enrich?: Enrichment;
}

/** Control frames that travel beside records. */
export type Control =
  | { readonly kind: 'hello'; readonly hello: SensorHello }
  | { readonly kind: 'stats'; readonly stats: SensorStats }
  | { readonly kind: 'log'; readonly text: string }
  | { readonly kind: 'end' };

export type SourceEvent<R = unknown> = { readonly kind: 'records'; readonly records: Envelope<R>[] } | Control;

/** An input: the live sensor, a replayed stream, a SysFlow file or socket, a fleet stream. */
export interface Source<R = unknown> extends AsyncIterable<SourceEvent<R>> {
  readonly name: string;
  /** Asks the source to finish; it ends its iteration after flushing what it holds. */
  stop(): void;
  /** At-least-once sources (fleet consumers): called once the records up to `id` are delivered. */
  ack?(upTo: RecordId): void;
}

/** Facts a stage may need once the stream has said where it comes from. */
export interface StageContext {
  readonly hello?: SensorHello;
  /** diagnostics go here, never to stdout */
  log(text: string): void;
}

/**
 * Per-record work: enrichment, protocol decoding, filters, policies. A stage may drop records
 * (filter), attach enrichment, or add records (alerts). Async work is bounded by the stage: it
 * never holds a batch longer than its configured wait.
 */
export interface Stage {
  readonly name: string;
  start?(ctx: StageContext): void | Promise<void>;
  process(batch: Envelope[]): Envelope[] | Promise<Envelope[]>;
  /** records the stage still holds (pending look-ups) are released here at the end */
  flush?(): Envelope[] | Promise<Envelope[]>;
  close?(): void | Promise<void>;
}

/** Record → bytes. Pure: the same envelope always gives the same bytes. */
export interface Encoder {
  readonly name: string;
  /** null: this encoder has no representation for the record (it is skipped, not dropped) */
  encode(env: Envelope): Uint8Array | string | null;
  /** written once at the start of each output object (a file, a stream), e.g. a table header */
  header?(): Uint8Array | string | null;
  /**
   * Additive: nothing that encode() returned before this call is referenced any more (the
   * runtime calls it once every delivery has copied a batch): the encoder may reuse its memory.
   */
  release?(): void;
}

/** One encoded record handed to a sink. */
export interface SinkItem {
  readonly id: RecordId;
  readonly kind: RecordKind;
  readonly data: Uint8Array;
  /** partitioning/ordering key (host + flow) for sinks that have one */
  readonly key?: string;
}

/** What a sink says about a batch: everything not listed failed is delivered (acknowledged). */
export interface SendResult {
  /** per-item failures, by index into the batch; retry=false means rejected for good */
  readonly failed?: ReadonlyArray<{ readonly index: number; readonly retry: boolean; readonly reason: string }>;
  /**
   * Additive: the transport took the batch and the destination acknowledges it later (RELP's
   * `rsp`, while the sink already sends the next batches). The batch counts as delivered only
   * once this resolves; a rejection (connection lost, the server refused a record) means
   * everything not yet acknowledged is sent again. Absent: delivered when `send` resolved.
   */
  readonly acked?: Promise<void>;
}

/**
 * A destination. `send` resolves once the destination has acknowledged the batch (or as far as
 * the transport can tell: written to the file, handed to the socket). It throws when the whole
 * batch failed and may be retried (connection down).
 */
export interface Sink {
  readonly name: string;
  open(): Promise<void>;
  send(batch: readonly SinkItem[]): Promise<SendResult>;
  close(): Promise<void>;
  /**
   * Additive: true when the sink keeps no reference to the items' data once `send` has resolved
   * (it wrote them out, as the file sink does). The queue in front of it then reuses the memory
   * of confirmed records instead of leaving it to the GC. Absent: the data may be kept.
   */
  readonly releasesData?: boolean;
  /** Additive: the sink's own counters (an S3 window repaired, objects uploaded), exported as
   * `falconet_sink_counter{sink,counter}`. */
  counters?(): Readonly<Record<string, number>>;
}

/** How a queue in front of a sink behaves when it is full. */
export type OverloadPolicy = 'block' | 'drop_newest' | 'drop_oldest' | 'reject';

/** Why a record did not reach a sink. Every drop is counted under one of these. */
export type DropReason = 'queue_full' | 'spool_full' | 'rejected' | 'encode_error' | 'sink_rejected' | 'filtered' | 'shutdown';
