// One sink behind one bounded queue, optionally backed by the disk spool. `push` admits records
// under the overload policy (every refusal counted by reason); a sender loop hands batches to
// the sink, confirms them, and on failure rewinds to the last confirmed record and retries with
// backoff. Records re-sent after a failure or a restart may have arrived before: they are counted
// as duplicatesResent and each range is reported in a log line.
// The parts: admission (delivery-admit.ts), the batches waiting for confirmation
// (delivery-inflight.ts), the sink side of sending (delivery-send.ts), waiting and waking
// (delivery-wake.ts), and the option and stat types (delivery-types.ts).
import type { DropReason, RecordId, SinkItem } from '../pipeline/types.js';
import { MemoryBacklog, SpoolBacklog, type Backlog } from './backlog.js';
import { Admission } from './delivery-admit.js';
import { InflightBatches } from './delivery-inflight.js';
import { Backoff, Sender } from './delivery-send.js';
import { countDrop, type DeliveryOptions, type DeliveryStats, type PushResult } from './delivery-types.js';
import { Wakeups } from './delivery-wake.js';
import { COMMIT_MAX_BYTES, Spool } from './spool.js';
import type { PushWindowSize } from '../pipeline/push-window.js';

export type { DeliveryOptions, DeliveryStats, PushResult, SpoolOptions } from './delivery-types.js';

const DEFAULT_BATCH = 512;

/**
 * Pushes a producer keeps outstanding to a spooled delivery: four commits' worth, so that while
 * one commit runs (write + fdatasync) the next ones are already admitted and the producer
 * still has room to make more.
 */
export const SPOOL_PUSH_WINDOW: PushWindowSize = { pushes: 64, bytes: 4 * COMMIT_MAX_BYTES };

async function afterCommit(a: { result: PushResult; commit?: Promise<unknown> }): Promise<PushResult> {
  await a.commit;
  return a.result;
}
const BATCH_BYTES = 1 << 20;

export class Delivery {
  private readonly o: DeliveryOptions;
  private readonly log: (line: string) => void;
  private spool: Spool | null = null;
  private backlog!: Backlog;
  private readonly st: DeliveryStats = {
    accepted: 0, delivered: 0, duplicatesResent: 0, dropped: {}, queueDepth: 0, queueBytes: 0, spoolBytes: 0, spoolTruncatedBytes: 0, sinkUp: false,
  };
  private readonly sig = new Wakeups();
  private readonly admission: Admission;
  private readonly sender: Sender;
  private admit: Promise<unknown> = Promise.resolve();
  /** sent batches not confirmed yet (created with the backlog, at open) */
  private inflight!: InflightBatches;
  private running = false;
  private closing = false;
  private loop: Promise<void> | null = null;
  private sinkOpen = false;
  private truncatedAtOpen = 0;

  constructor(opts: DeliveryOptions) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`sink ${opts.name}: queue size must be positive`);
    this.o = opts;
    this.log = opts.log ?? ((l) => process.stderr.write(`falconet: ${l}\n`));
    this.admission = new Admission(opts, this.st, this.sig, () => this.closing);
    this.sender = new Sender(opts, this.st, this.log, this.sig, () => this.running);
  }

  async open(): Promise<void> {
    if (this.o.spool) {
      const sp = this.o.spool;
      this.spool = await Spool.open({ dir: sp.dir, maxBytes: sp.maxBytes, segmentBytes: sp.segmentBytes, fsyncMs: sp.fsyncMs, consumers: [this.o.name], log: this.log });
      this.truncatedAtOpen = this.spool.counters.truncatedBytes;
      this.spool.setCommitListener(() => this.sig.wake());
      this.backlog = new SpoolBacklog(this.spool, this.o.name);
    } else {
      this.backlog = new MemoryBacklog({ reuse: this.o.sink.releasesData === true });
    }
    this.inflight = new InflightBatches(this.o, this.backlog, this.st, this.sig);
    this.running = true;
    this.loop = this.run();
  }

  /**
   * With a spool a push resolves only after its group commit: producers keep several pushes
   * outstanding so that they share commits (push-window.ts). Memory queues admit at once.
   */
  get pushWindow(): PushWindowSize | undefined {
    if (!this.o.spool) return undefined;
    // records waiting for their commit count against the queue bound (a full queue refuses
    // under drop_newest/reject): the window stays well inside it (frames are larger than data)
    const bytes = Math.min(SPOOL_PUSH_WINDOW.bytes, Math.floor(this.o.maxBytes / 4));
    return bytes === SPOOL_PUSH_WINDOW.bytes ? SPOOL_PUSH_WINDOW : { pushes: SPOOL_PUSH_WINDOW.pushes, bytes };
  }

  /** The memory queue copies what it admits before push resolves (pushItems); the spool path
   * is not claimed (its commits may still reference a batch). */
  get copiesOnPush(): boolean {
    return !this.o.spool;
  }

  /** The last record the spool accepted before this process started (resume point of a replay). */
  lastAcceptedId(): RecordId | undefined {
    return this.spool?.lastAcceptedId;
  }

  push(items: readonly SinkItem[]): Promise<PushResult> {
    // admissions run one after another so a blocked push keeps the order of later ones; waiting
    // for the group commit does not hold the next admission, so concurrent pushes share a commit
    const p = this.admit.then(() => this.admitBatch(items));
    this.admit = p.catch(() => undefined);
    // not a closure here: it would share this call's context and keep `items` alive until the
    // commit (tens of thousands of records per window surviving young-generation GCs)
    return p.then(afterCommit);
  }

  private drop(reason: DropReason, n = 1): void {
    countDrop(this.st.dropped, reason, n);
  }

  private async admitBatch(items: readonly SinkItem[]): Promise<{ result: PushResult; commit?: Promise<unknown> }> {
    if (!this.running || this.closing) {
      this.drop('shutdown', items.length);
      return { result: { accepted: 0, refused: items.length, dropped: { shutdown: items.length } } };
    }
    return this.spool ? this.admission.toSpool(this.spool, items) : { result: await this.admission.toMemory(this.backlog as MemoryBacklog, items) };
  }

  private async run(): Promise<void> {
    const retry = this.o.retry ?? { minMs: 100, maxMs: 5000 };
    const backoff = new Backoff(retry);
    const batchMax = this.o.batchMax ?? DEFAULT_BATCH;
    while (this.running) {
      if (!this.sinkOpen) {
        try {
          await this.o.sink.open();
          this.sinkOpen = true;
          this.sender.up();
          backoff.reset();
        } catch (e) {
          this.sender.down(e);
          await this.sig.sleep(backoff.next());
          continue;
        }
      }
      if (this.inflight.failure) {
        // a batch was not acknowledged: everything after the last acknowledged one goes again
        this.sender.down(this.inflight.failure);
        this.inflight.rewind(null);
        await this.sig.sleep(backoff.next());
        continue;
      }
      this.inflight.confirmDue();
      const t = this.backlog.take(batchMax, BATCH_BYTES);
      if (!t) {
        if (!this.running) break;
        await this.sig.sleep(this.inflight.idleWaitMs());
        continue;
      }
      try {
        const { acked } = await this.sender.send(t.items, retry);
        if (t.resent) this.sender.reportResend(t);
        this.sender.up();
        backoff.reset();
        this.inflight.sent(t, acked);
      } catch (e) {
        // a batch that failed part-way may have reached the peer: its re-sends count
        if (t.resent && !(e instanceof SinkUnavailableError)) this.sender.reportResend(t);
        this.sender.down(e);
        this.inflight.rewind(e instanceof SinkUnavailableError ? t : null);
        await this.sig.sleep(backoff.next());
      }
    }
  }

  /**
   * Stops accepting, waits up to drainMs (default 5 s) for the backlog to reach the sink, then
   * stops. With a spool the rest stays on disk; without one it is counted as dropped (shutdown).
   * `whileProgressing`: drainMs counts from the sink's last delivery instead of from the call
   * (a finite run delivers everything to a slow but working sink; a dead one still ends it).
   */
  async close(opts: { drainMs?: number; whileProgressing?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    const drainMs = opts.drainMs ?? 5000;
    let deadline = Date.now() + drainMs;
    let seen = this.st.delivered;
    this.closing = true;
    this.sig.notify(); // blocked pushes give up (counted as shutdown)
    await this.admit;
    await this.spool?.flush();
    this.sig.wake();
    while (Date.now() < deadline && (this.backlog.depth > 0 || this.hasUnsent())) {
      await new Promise((r) => setTimeout(r, 5));
      if (opts.whileProgressing && this.st.delivered !== seen) {
        seen = this.st.delivered;
        deadline = Date.now() + drainMs;
      }
    }
    this.running = false;
    this.sig.wake();
    await this.loop;
    try {
      await this.o.sink.close();
      // a clean close of the transport means what was handed to it got there (batches waiting
      // for an acknowledgement stay unconfirmed: a restart sends them again)
      if (this.st.sinkUp) this.inflight.confirmDue(true);
    } catch (e) {
      this.log(`sink ${this.o.name}: close: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (this.spool) await this.spool.close();
    else this.drop('shutdown', (this.backlog as MemoryBacklog).clear());
    this.sig.notify();
  }

  /** Nothing waits: every accepted record is confirmed (or dropped). */
  idle(): boolean {
    return this.admission.committing === 0 && this.backlog.depth === 0 && this.inflight.size === 0 && !this.hasUnsent();
  }

  private hasUnsent(): boolean {
    return this.backlog instanceof SpoolBacklog ? this.backlog.hasUnsent() : (this.backlog as MemoryBacklog).unsent > 0;
  }

  stats(): DeliveryStats {
    const s = this.st;
    return {
      ...s,
      dropped: { ...s.dropped },
      queueDepth: this.backlog ? this.backlog.depth : 0,
      queueBytes: this.spool ? this.admission.committing : this.backlog ? this.backlog.bytes : 0,
      spoolBytes: this.spool ? this.spool.bytes : 0,
      spoolTruncatedBytes: this.spool ? this.spool.counters.truncatedBytes + this.spool.counters.corruptSkippedBytes : 0,
      sinkUp: s.sinkUp,
      ...(this.o.sink.counters ? { sinkCounters: this.o.sink.counters() } : {}),
    };
  }

  /** Truncated bytes found by this process's recovery (log and metric), vs. earlier runs. */
  truncatedAtStart(): number {
    return this.truncatedAtOpen;
  }
}

/**
 * A sink throws this from send() when none of the batch reached the transport (not connected,
 * connect refused). The batch is then not counted as a possible duplicate when it is re-sent.
 */
export class SinkUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SinkUnavailableError';
  }
}
