// One sink behind one bounded queue, optionally backed by the disk spool. `push` admits records
// under the overload policy (every refusal counted by reason); a sender loop hands batches to
// the sink, confirms them, and on failure rewinds to the last confirmed record and retries with
// backoff. Records re-sent after a failure or a restart may have arrived before: they are counted
// as duplicatesResent and each range is reported in a log line.
import type { DropReason, OverloadPolicy, RecordId, Sink, SinkItem } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';
import { itemBytes, MemoryBacklog, SpoolBacklog, type Backlog, type Taken } from './backlog.js';
import { frameSize } from './record-frame.js';
import { COMMIT_MAX_BYTES, Spool } from './spool.js';
import type { PushWindowSize } from '../pipeline/push-window.js';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes?: number;
  fsyncMs?: number;
}

export interface DeliveryOptions {
  /** sink name for metrics and logs, e.g. "syslog-1"; also the spool cursor's name */
  name: string;
  sink: Sink;
  /** default 'drop_newest': a dead sink never blocks the others or the kernel side */
  policy: OverloadPolicy;
  /** in-memory queue bound: bytes of encoded records (data + id + 22 bytes of framing each; see backlog.ts) */
  maxBytes: number;
  /** at-least-once when present */
  spool?: SpoolOptions;
  /** items per send (default 512) */
  batchMax?: number;
  retry?: { minMs: number; maxMs: number };
  /**
   * Additive to the contract: how long a sent batch must stay without a transport error before
   * it counts as delivered. Transports without acknowledgements (syslog over TCP/TLS, unix)
   * use it so that a peer that dies with records in its buffers gets them again. 0 = at once.
   */
  confirmMs?: number;
  /** where diagnostics go (default stderr) */
  log?: (line: string) => void;
}

export interface DeliveryStats {
  accepted: number;
  delivered: number;
  duplicatesResent: number;
  dropped: Partial<Record<DropReason, number>>;
  queueDepth: number;
  queueBytes: number;
  spoolBytes: number;
  spoolTruncatedBytes: number;
  sinkUp: boolean;
  /** the sink's own counters, when it keeps any (Sink.counters) */
  sinkCounters?: Readonly<Record<string, number>>;
}

/** What push did with a batch (additive: the contract's callers may ignore it). */
export interface PushResult {
  accepted: number;
  refused: number;
  /** the refused records by reason */
  dropped?: Partial<Record<DropReason, number>>;
}

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
  /** bytes accepted into the spool's commit buffer and not committed yet */
  private committing = 0;
  private admit: Promise<unknown> = Promise.resolve();
  private waiters: (() => void)[] = [];
  /**
   * Sent batches not confirmed yet, in order: by time (confirm window) or, for sinks that
   * acknowledge (SendResult.acked), once their acknowledgement came (`pending` false).
   */
  private inflight: Inflight[] = [];
  /** bumped at every rewind: acknowledgements of batches sent before it are stale */
  private epoch = 0;
  /** an acknowledgement failed (connection lost, record refused): the loop rewinds */
  private ackFailure: unknown = null;
  private running = false;
  private closing = false;
  private loop: Promise<void> | null = null;
  private sinkOpen = false;
  private downSince = 0;
  private truncatedAtOpen = 0;

  constructor(opts: DeliveryOptions) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`sink ${opts.name}: queue size must be positive`);
    this.o = opts;
    this.log = opts.log ?? ((l) => process.stderr.write(`falconet: ${l}\n`));
  }

  async open(): Promise<void> {
    if (this.o.spool) {
      const sp = this.o.spool;
      this.spool = await Spool.open({ dir: sp.dir, maxBytes: sp.maxBytes, segmentBytes: sp.segmentBytes, fsyncMs: sp.fsyncMs, consumers: [this.o.name], log: this.log });
      this.truncatedAtOpen = this.spool.counters.truncatedBytes;
      this.spool.setCommitListener(() => this.wake());
      this.backlog = new SpoolBacklog(this.spool, this.o.name);
    } else {
      this.backlog = new MemoryBacklog({ reuse: this.o.sink.releasesData === true });
    }
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
    if (n > 0) this.st.dropped[reason] = (this.st.dropped[reason] ?? 0) + n;
  }

  private async admitBatch(items: readonly SinkItem[]): Promise<{ result: PushResult; commit?: Promise<unknown> }> {
    if (!this.running || this.closing) {
      this.drop('shutdown', items.length);
      return { result: { accepted: 0, refused: items.length, dropped: { shutdown: items.length } } };
    }
    return this.spool ? this.admitToSpool(this.spool, items) : { result: await this.admitToMemory(this.backlog as MemoryBacklog, items) };
  }

  private async admitToMemory(q: MemoryBacklog, items: readonly SinkItem[]): Promise<PushResult> {
    let accepted = 0;
    let refusing = false;
    const dropped: Partial<Record<DropReason, number>> = {};
    // admitted records are encoded into the queue in runs, not one by one; take[takeFrom..] are
    // admitted and not queued yet (drop_oldest may drop from its front: they are older than
    // what comes next, and newer than everything queued)
    let take: SinkItem[] = [];
    let sizes: number[] = [];
    let takeFrom = 0;
    let takeBytes = 0;
    const flush = (): void => {
      if (take.length > takeFrom) q.pushItems(takeFrom ? take.slice(takeFrom) : take, takeFrom ? sizes.slice(takeFrom) : sizes);
      take = [];
      sizes = [];
      takeFrom = 0;
      takeBytes = 0;
    };
    for (const item of items) {
      const b = itemBytes(item);
      let ok = !refusing;
      while (ok && q.bytes + takeBytes + b > this.o.maxBytes) {
        if (this.o.policy === 'drop_oldest') {
          if (q.dropOldestUnsent()) this.drop('queue_full');
          else if (takeFrom < take.length) {
            takeBytes -= sizes[takeFrom]!;
            takeFrom++;
            accepted--;
            this.drop('queue_full');
            dropped.queue_full = (dropped.queue_full ?? 0) + 1;
          } else ok = false;
        } else if (this.o.policy === 'block' && (q.bytes > 0 || takeBytes > 0) && !this.closing) {
          flush();
          this.wake();
          await this.changed();
        } else ok = false;
      }
      if (!ok) {
        // once full, the rest of the batch is refused too: what is dropped is always the newest
        refusing = this.o.policy !== 'drop_oldest';
        const reason: DropReason = this.closing ? 'shutdown' : this.o.policy === 'reject' ? 'rejected' : 'queue_full';
        this.drop(reason);
        dropped[reason] = (dropped[reason] ?? 0) + 1;
        continue;
      }
      take.push(item);
      sizes.push(b);
      takeBytes += b;
      accepted++;
    }
    flush();
    this.st.accepted += accepted;
    if (accepted) this.wake();
    return { accepted, refused: items.length - accepted, dropped };
  }

  private async admitToSpool(sp: Spool, items: readonly SinkItem[]): Promise<{ result: PushResult; commit: Promise<unknown> }> {
    const commits: Promise<void>[] = [];
    let take: SinkItem[] = [];
    let sizes: number[] = [];
    let takeBytes = 0;
    let refused = 0;
    // room under the cap, asked again only when a record does not fit (asking walks the segments)
    let room = sp.room();
    const flushTake = (): void => {
      if (!take.length) return;
      commits.push(this.commitPart(sp, take, sizes, takeBytes));
      take = [];
      sizes = [];
      takeBytes = 0;
      room = sp.room();
    };
    const policy = this.o.policy;
    let sticky: DropReason | null = null;
    const dropped: Partial<Record<DropReason, number>> = {};
    for (const item of items) {
      const f = frameSize(item);
      let reason: DropReason | null = sticky;
      // the memory bound covers records waiting for their group commit
      while (reason === null && this.committing + takeBytes + f > this.o.maxBytes) {
        if (takeBytes > 0) flushTake();
        else if (policy === 'block' && this.committing > 0 && !this.closing) await this.changed();
        else {
          reason = this.closing ? 'shutdown' : policy === 'reject' ? 'rejected' : 'queue_full';
          break;
        }
      }
      // the size cap on disk
      while (reason === null && takeBytes + f > room && takeBytes + f > (room = sp.room())) {
        if (policy === 'block') {
          flushTake();
          if (this.closing) reason = 'shutdown';
          else await this.changed();
        } else if (policy === 'drop_oldest') {
          flushTake();
          const lost = sp.evictOldest();
          if (lost < 0) reason = 'spool_full';
          else this.drop('spool_full', lost);
        } else reason = policy === 'reject' ? 'rejected' : 'spool_full';
      }
      if (reason !== null) {
        // once full, the rest of the batch is refused too: what is dropped is always the newest
        if (policy !== 'drop_oldest') sticky = reason;
        this.drop(reason);
        dropped[reason] = (dropped[reason] ?? 0) + 1;
        refused++;
        continue;
      }
      take.push(item);
      sizes.push(f);
      takeBytes += f;
    }
    flushTake();
    return { result: { accepted: items.length - refused, refused, dropped }, commit: Promise.all(commits) };
  }

  private commitPart(sp: Spool, items: SinkItem[], sizes: number[], bytes: number): Promise<void> {
    this.committing += bytes;
    const n = items.length;
    return sp.append(items, sizes).then(
      () => {
        this.st.accepted += n;
        this.committing -= bytes;
        this.notify();
      },
      (e: unknown) => {
        // the spool cannot write (disk error): these records were never accepted
        this.committing -= bytes;
        this.drop('spool_full', n);
        this.notify();
        throw e;
      },
    );
  }

  /** Resolves at the next state change (room freed, commit done, close). */
  private changed(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  private wakeLoop: (() => void) | null = null;
  private wake(): void {
    const w = this.wakeLoop;
    this.wakeLoop = null;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wakeLoop = null;
        r();
      }, ms);
      this.wakeLoop = () => {
        clearTimeout(t);
        r();
      };
    });
  }

  private get confirmMs(): number {
    return this.o.confirmMs ?? 0;
  }

  /**
   * Confirms batches whose confirmation window has passed without a transport error, and
   * acknowledged batches (in order: one still waiting for its acknowledgement holds the rest).
   */
  private confirmDue(all = false): void {
    const now = Date.now();
    for (;;) {
      const f = this.inflight[0];
      if (!f || (f.pending === undefined ? !all && now - f.at < this.confirmMs : f.pending)) break;
      this.inflight.shift();
      // an acknowledged batch is the one a restart need not send again (the others were marked when sent)
      if (f.pending !== undefined) this.backlog.taken(f.mark);
      this.backlog.confirm(f.mark, f.count);
      this.st.delivered += f.count;
    }
    this.notify();
  }

  /** Follows a batch's acknowledgement (SendResult.acked). */
  private track(f: Inflight, acked: Promise<void>): void {
    const epoch = this.epoch;
    acked.then(
      () => {
        f.pending = false;
        if (epoch !== this.epoch) return;
        this.confirmDue();
        this.wake();
      },
      (e: unknown) => {
        if (epoch !== this.epoch || this.ackFailure) return;
        this.ackFailure = e ?? new Error('acknowledgement failed');
        this.wake();
      },
    );
  }

  /** Starts again after the last confirmed record (everything sent since is re-sent). */
  private rewind(unsent: Taken | null): void {
    this.epoch++;
    this.ackFailure = null;
    this.inflight = [];
    this.backlog.rewind(unsent);
  }

  private async run(): Promise<void> {
    const retry = this.o.retry ?? { minMs: 100, maxMs: 5000 };
    let backoff = retry.minMs;
    const batchMax = this.o.batchMax ?? DEFAULT_BATCH;
    while (this.running) {
      if (!this.sinkOpen) {
        try {
          await this.o.sink.open();
          this.sinkOpen = true;
          this.up();
          backoff = retry.minMs;
        } catch (e) {
          this.down(e);
          await this.sleep(backoff);
          backoff = Math.min(retry.maxMs, backoff * 2);
          continue;
        }
      }
      if (this.ackFailure) {
        // a batch was not acknowledged: everything after the last acknowledged one goes again
        this.down(this.ackFailure);
        this.rewind(null);
        await this.sleep(backoff);
        backoff = Math.min(retry.maxMs, backoff * 2);
        continue;
      }
      this.confirmDue();
      const t = this.backlog.take(batchMax, BATCH_BYTES);
      if (!t) {
        if (!this.running) break;
        const f = this.inflight[0];
        // acknowledgements wake the loop; a confirm window is waited out
        await this.sleep(f && f.pending === undefined ? Math.max(1, this.confirmMs - (Date.now() - f.at)) : 1000);
        continue;
      }
      try {
        const { acked } = await this.sendAll(t.items, retry);
        if (t.resent) this.reportResend(t);
        this.up();
        backoff = retry.minMs;
        if (acked) {
          const f: Inflight = { mark: t.mark, count: t.items.length, at: Date.now(), pending: true };
          this.inflight.push(f);
          this.track(f, acked);
        } else {
          this.backlog.taken(t.mark);
          this.inflight.push({ mark: t.mark, count: t.items.length, at: Date.now() });
          if (this.confirmMs === 0) this.confirmDue();
        }
      } catch (e) {
        // a batch that failed part-way may have reached the peer: its re-sends count
        if (t.resent && !(e instanceof SinkUnavailableError)) this.reportResend(t);
        this.down(e);
        this.rewind(e instanceof SinkUnavailableError ? t : null);
        await this.sleep(backoff);
        backoff = Math.min(retry.maxMs, backoff * 2);
      }
    }
  }

  /**
   * Sends a batch; items the sink failed with retry=true are re-sent alone, the others counted.
   * Returns the batch's acknowledgement when the sink gives one (SendResult.acked).
   */
  private async sendAll(items: readonly SinkItem[], retry: { minMs: number; maxMs: number }): Promise<{ acked?: Promise<void> }> {
    let todo = items;
    let wait = retry.minMs;
    for (;;) {
      const res = await this.o.sink.send(todo);
      // a sink that acknowledges later reports refused records by rejecting `acked` (wrapped:
      // an async function returning the promise itself would wait for it)
      if (res.acked) return { acked: res.acked };
      const failed = res.failed ?? [];
      if (failed.length === 0) return {};
      const again: SinkItem[] = [];
      for (const f of failed) {
        const it = todo[f.index];
        if (!it) continue;
        if (f.retry && this.running) again.push(it);
        else {
          this.drop(f.retry ? 'shutdown' : 'sink_rejected');
          this.log(`sink ${this.o.name}: record ${recordIdString(it.id)} ${f.retry ? 'not delivered at shutdown' : 'rejected'}: ${f.reason}`);
        }
      }
      if (again.length === 0) return {};
      todo = again;
      await this.sleep(wait);
      wait = Math.min(retry.maxMs, wait * 2);
    }
  }

  private reportResend(t: Taken): void {
    this.st.duplicatesResent += t.resent;
    const first = t.items[0]!.id;
    const last = t.items[t.resent - 1]!.id;
    this.log(`sink ${this.o.name}: re-sending ${t.resent} records that may have been delivered already: ${recordIdString(first)} .. ${recordIdString(last)}`);
  }

  private up(): void {
    if (!this.st.sinkUp && this.downSince) this.log(`sink ${this.o.name}: up again after ${Date.now() - this.downSince} ms`);
    this.st.sinkUp = true;
    this.downSince = 0;
  }

  private down(e: unknown): void {
    if (this.st.sinkUp || !this.downSince) {
      this.log(`sink ${this.o.name}: down: ${e instanceof Error ? e.message : String(e)}`);
      this.downSince = Date.now();
    }
    this.st.sinkUp = false;
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
    this.notify(); // blocked pushes give up (counted as shutdown)
    await this.admit;
    await this.spool?.flush();
    this.wake();
    while (Date.now() < deadline && (this.backlog.depth > 0 || this.hasUnsent())) {
      await new Promise((r) => setTimeout(r, 5));
      if (opts.whileProgressing && this.st.delivered !== seen) {
        seen = this.st.delivered;
        deadline = Date.now() + drainMs;
      }
    }
    this.running = false;
    this.wake();
    await this.loop;
    try {
      await this.o.sink.close();
      // a clean close of the transport means what was handed to it got there (batches waiting
      // for an acknowledgement stay unconfirmed: a restart sends them again)
      if (this.st.sinkUp) this.confirmDue(true);
    } catch (e) {
      this.log(`sink ${this.o.name}: close: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (this.spool) await this.spool.close();
    else this.drop('shutdown', (this.backlog as MemoryBacklog).clear());
    this.notify();
  }

  /** Nothing waits: every accepted record is confirmed (or dropped). */
  idle(): boolean {
    return this.committing === 0 && this.backlog.depth === 0 && this.inflight.length === 0 && !this.hasUnsent();
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
      queueBytes: this.spool ? this.committing : this.backlog ? this.backlog.bytes : 0,
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

interface Inflight {
  readonly mark: Taken['mark'];
  readonly count: number;
  readonly at: number;
  /** undefined: confirmed by time; true/false: waiting for / got the sink's acknowledgement */
  pending?: boolean;
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
