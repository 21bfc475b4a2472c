// syslog over RELP (rsyslog's imrelp): every record is a `syslog` command with its own
// transaction number, and the server answers each with `rsp 200 OK` once it has taken it. A
// batch counts as delivered only when all its answers came (SendResult.acked), while the next
// batches already go out, up to `window` unanswered records. A lost connection, a `serverclose`,
// a malformed frame or an answer other than 200 fails the acknowledgements of everything not yet
// answered, and the Delivery sends those records again (at-least-once; re-sends are counted).
// The message is the same RFC 5424 (or 3164) text as syslog over TCP, record id included.
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { SinkUnavailableError } from './delivery.js';
import { encodeRelpFrame, encodeSyslogFrames, parseOffers, parseRelpResponse, RelpFrameError, RelpParser, RELP_TXNR_MAX, type RelpFrame, type RelpResponse } from './relp-frame.js';
import { StreamConn, describeTarget, type StreamTarget } from './stream-conn.js';
import { syslogMessage, type SyslogHeader } from './syslog-format.js';

export interface RelpOptions {
  /** unanswered `syslog` commands at most (default 128) */
  window?: number;
  /** a connection whose oldest unanswered command waits this long is given up (default 30 s) */
  ackTimeoutMs?: number;
}

// librelp's own default; more did not send faster to a local rsyslogd, and every unanswered record
// is a possible duplicate after a crash
export const RELP_DEFAULT_WINDOW = 128;
const OPEN_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 5000;
const OFFERS = 'relp_version=0\nrelp_software=falconet\ncommands=syslog';

/** The answers one batch waits for. */
class BatchAck {
  left: number;
  settled = false;
  readonly promise: Promise<void>;
  private res!: () => void;
  private rej!: (e: Error) => void;

  constructor(n: number) {
    this.left = n;
    this.promise = new Promise<void>((res, rej) => {
      this.res = res;
      this.rej = rej;
    });
    // a batch that fails while it is still being written is reported by send() itself
    this.promise.catch(() => {});
  }

  answered(): void {
    if (--this.left === 0 && !this.settled) {
      this.settled = true;
      this.res();
    }
  }

  fail(e: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rej(e);
  }
}

type Waiter = { readonly batch: BatchAck } | { readonly command: string; resolve(r: RelpResponse): void; reject(e: Error): void };

export class RelpSink implements Sink {
  readonly name: string;
  private readonly conn: StreamConn;
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private parser = new RelpParser();
  private txnr = 1;
  private open_ = false;
  private readonly waiting = new Map<number, Waiter>();
  /** `syslog` commands without an answer */
  private outstanding = 0;
  private roomWaiters: (() => void)[] = [];
  private lastBreak: Error | null = null;
  /** last answer, or when the first of the outstanding commands went out */
  private progressAt = 0;
  private watchdog: NodeJS.Timeout | null = null;

  constructor(
    target: StreamTarget,
    private readonly header: SyslogHeader,
    opts: RelpOptions = {},
  ) {
    this.name = `relp:${describeTarget(target)}`;
    this.window = Math.max(1, opts.window ?? RELP_DEFAULT_WINDOW);
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
    this.conn = new StreamConn(target, { onData: (d) => this.onData(d), onBroken: (e) => this.onBroken(e) });
  }

  async open(): Promise<void> {
    // connect lazily on the first send, so a server that is down does not fail the start
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    await this.session();
    const ack = new BatchAck(batch.length);
    const now = new Date();
    let i = 0;
    while (i < batch.length) {
      await this.room();
      const n = Math.min(this.window - this.outstanding, batch.length - i);
      const first = this.txnr;
      const msgs: Buffer[] = [];
      for (let k = 0; k < n; k++) {
        msgs.push(syslogMessage(this.header, batch[i + k]!, now));
        this.waiting.set(this.nextTxnr(), { batch: ack });
      }
      if (this.outstanding === 0) this.progressAt = Date.now();
      this.outstanding += n;
      i += n;
      // a break while writing rejects `ack` and fails this write: the Delivery rewinds
      await this.conn.write(encodeSyslogFrames(first, msgs));
    }
    return { acked: ack.promise };
  }

  async close(): Promise<void> {
    this.stopWatchdog();
    if (!this.open_ || !this.conn.connected) {
      this.conn.discardBroken();
      await this.conn.close();
      return;
    }
    // the answers still due (the Delivery waited for them while draining; this is the bound)
    const end = Date.now() + CLOSE_TIMEOUT_MS;
    while (this.outstanding > 0 && this.conn.connected && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    if (this.outstanding > 0) {
      const e = new Error(`${this.name}: closing with ${this.outstanding} records unanswered`);
      this.conn.abort(e);
      this.conn.discardBroken();
      throw e;
    }
    this.open_ = false;
    try {
      const r = await this.command('close', undefined, CLOSE_TIMEOUT_MS);
      if (r.code !== 200) throw new Error(`${this.name}: close answered ${r.code} ${r.text}`);
    } finally {
      // the server closes its side after answering
      this.conn.discardBroken();
      await this.conn.close().catch(() => {});
    }
  }

  /** Connects and opens a RELP session if there is none; failures mean nothing was sent. */
  private async session(): Promise<void> {
    if (this.open_ && this.conn.connected) return;
    this.open_ = false;
    this.conn.discardBroken(); // its records were failed by onBroken
    if (this.conn.connected) {
      // connected without a session (its opening failed): start over on a new connection
      this.conn.abort(new Error(`${this.name}: session not open`));
      this.conn.discardBroken();
    }
    try {
      await this.conn.ensure();
    } catch (e) {
      throw e instanceof SinkUnavailableError ? e : new SinkUnavailableError(String((e as Error).message));
    }
    this.parser = new RelpParser();
    this.txnr = 1;
    this.lastBreak = null;
    let r: RelpResponse;
    try {
      r = await this.command('open', OFFERS, OPEN_TIMEOUT_MS);
    } catch (e) {
      throw new SinkUnavailableError(`${this.name}: open: ${(e as Error).message}`);
    }
    const refuse = (why: string): never => {
      const e = new SinkUnavailableError(`${this.name}: ${why}`);
      this.conn.abort(e);
      throw e;
    };
    if (r.code !== 200) refuse(`the server refused the session: ${r.code} ${r.text}`);
    const commands = (parseOffers(r.payload).get('commands') ?? '').split(',');
    if (!commands.includes('syslog')) refuse(`the server does not offer the syslog command (offers: ${JSON.stringify(r.payload)})`);
    this.open_ = true;
    this.startWatchdog();
  }

  private nextTxnr(): number {
    const t = this.txnr;
    this.txnr = t === RELP_TXNR_MAX ? 1 : t + 1;
    return t;
  }

  /** Sends one command and waits for its answer (or the connection's end, or the timeout). */
  private async command(command: string, data: string | undefined, timeoutMs: number): Promise<RelpResponse> {
    const t = this.nextTxnr();
    const answer = new Promise<RelpResponse>((resolve, reject) => this.waiting.set(t, { command, resolve, reject }));
    answer.catch(() => {});
    const timer = setTimeout(() => this.conn.abort(new Error(`${this.name}: no answer to ${command} within ${timeoutMs} ms`)), timeoutMs);
    try {
      await this.conn.write(encodeRelpFrame(t, command, data));
      return await answer;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until the window has room; throws if the connection broke meanwhile. */
  private async room(): Promise<void> {
    while (this.outstanding >= this.window && this.conn.connected) await new Promise<void>((r) => this.roomWaiters.push(r));
    if (!this.conn.connected) throw this.lastBreak ?? new Error(`${this.name}: connection lost`);
  }

  private wakeRoom(): void {
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const r of w) r();
  }

  private onData(chunk: Buffer): void {
    let frames: RelpFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (e) {
      this.conn.abort(new Error(`${this.name}: ${e instanceof RelpFrameError ? e.message : String(e)}`));
      return;
    }
    for (const f of frames) {
      if (!this.conn.connected) return;
      this.onFrame(f);
    }
  }

  private onFrame(f: RelpFrame): void {
    if (f.command === 'serverclose') {
      this.conn.abort(new Error(`${this.name}: the server closed the session (serverclose)`));
      return;
    }
    if (f.command !== 'rsp') {
      this.conn.abort(new Error(`${this.name}: unexpected command "${f.command}" from the server (txnr ${f.txnr})`));
      return;
    }
    const w = this.waiting.get(f.txnr);
    if (!w) {
      this.conn.abort(new Error(`${this.name}: answer for transaction ${f.txnr}, which is not waiting for one`));
      return;
    }
    // librelp answers `close` with an empty rsp
    const r = f.data.length === 0 && !('batch' in w) && w.command === 'close' ? { code: 200, text: '', payload: '' } : parseRelpResponse(f.data);
    if (!r) {
      this.conn.abort(new Error(`${this.name}: answer for transaction ${f.txnr} has no status code: ${JSON.stringify(f.data.subarray(0, 80).toString('latin1'))}`));
      return;
    }
    this.waiting.delete(f.txnr);
    if (!('batch' in w)) {
      w.resolve(r);
      return;
    }
    this.outstanding--;
    this.progressAt = Date.now();
    if (r.code === 200) w.batch.answered();
    // the record (and everything after the last acknowledged batch) is sent again
    else w.batch.fail(new Error(`${this.name}: the server refused the record of transaction ${f.txnr}: ${r.code} ${r.text}`));
    this.wakeRoom();
  }

  private onBroken(e: Error): void {
    this.open_ = false;
    this.lastBreak = e;
    this.stopWatchdog();
    const ws = [...this.waiting.values()];
    this.waiting.clear();
    this.outstanding = 0;
    for (const w of ws) {
      if ('batch' in w) w.batch.fail(e);
      else w.reject(e);
    }
    this.wakeRoom();
  }

  /** A server that stops answering (stopped, wedged) is given up after ackTimeoutMs. */
  private startWatchdog(): void {
    if (this.watchdog) return;
    const every = Math.max(10, Math.min(1000, this.ackTimeoutMs / 4));
    this.watchdog = setInterval(() => {
      if (this.outstanding > 0 && Date.now() - this.progressAt > this.ackTimeoutMs) {
        this.conn.abort(new Error(`${this.name}: no answer for ${this.ackTimeoutMs} ms (${this.outstanding} records unanswered)`));
      }
    }, every);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}
