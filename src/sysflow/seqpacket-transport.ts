// A real SOCK_SEQPACKET transport for SysFlowSocketOutput: Node cannot open such sockets, so
// each message goes as a [u32 length][bytes] frame to the small C relay
// (sensor/relay/falconet-sfsock), which sends it as exactly one packet to sf-processor's socket.
//
// With `reconnect`, a processor that goes away (restarted, say) is connected to again: a new
// relay is started, retrying until the socket answers, and `onConnect(true)` tells the caller to
// start a new segment (a header, and every live entity again). Messages given while no relay is
// connected are dropped and counted, so the agent's memory stays bounded; what the lost relay had
// been given and not sent is counted too. The socket has no acknowledgements: what a processor
// took into its socket buffer and never read is not seen.
//
// A connected processor that reads slower than the agent writes is bounded the same way: once
// `highWaterBytes` wait in the relay's input, messages are dropped and counted, and when that
// input has drained, `onConnect(true)` starts a new segment, so the entities dropped in between
// come again before anything refers to them.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { DatagramTransport } from './socket-output.js';
import { RepeatLines } from '../util/repeat-lines.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const RELAY_BIN = process.env.FALCONET_SFSOCK ?? path.resolve(here, '../../../sensor/relay/falconet-sfsock');

export interface RelayOptions {
  /** start a new relay when the processor goes away (default: no, the output ends) */
  reconnect?: boolean;
  /** a relay connected; `again`: not the first connection (start a new segment) */
  onConnect?: (again: boolean) => void;
  /** lines about lost and new connections */
  log?: (line: string) => void;
  /** wait between a relay's end and the next one's start (ms, default 1000) */
  retryMs?: number;
  /** bytes the relay's input may hold before messages are dropped (default 16 MiB, at least
   * 64 KiB) */
  highWaterBytes?: number;
}

export const DEFAULT_RELAY_HIGH_WATER = 16 << 20;
/** at least a pipe's worth: Node emits 'drain' only after a write over its own mark (16 KiB) */
export const MIN_RELAY_HIGH_WATER = 64 << 10;

export interface RelayStats {
  /** messages handed to a relay */
  written: number;
  /** messages each connection's socket took, in order of the connections */
  sentByConnection: number[];
  /** messages given while no relay was connected after a relay ended: never written */
  droppedWhileDown: number;
  /** messages handed to a relay that ended before sending them */
  lostAtDisconnect: number;
  /** messages dropped because the relay's input held highWaterBytes (a slow processor) */
  droppedSlow: number;
  /** the most bytes the relay's input held */
  maxBuffered: number;
}

export class SeqpacketRelayTransport implements DatagramTransport {
  private child!: ChildProcess;
  private stderr = '';
  private connected = false;
  /** a relay ended (connected or not) and none is connected since */
  private down = false;
  /** messages handed to the current relay */
  private given = 0;
  private closing = false;
  private retry: NodeJS.Timeout | undefined;
  /** messages are being dropped until the relay's input drains (a slow processor) */
  private overflowing = false;
  private readonly highWater: number;
  private resolveDone!: (code: number | null) => void;
  private readonly waitLines = new RepeatLines(60_000);
  readonly stats: RelayStats = { written: 0, sentByConnection: [], droppedWhileDown: 0, lostAtDisconnect: 0, droppedSlow: 0, maxBuffered: 0 };
  /** resolves with the last relay's exit code once it has delivered everything (or failed) */
  readonly done: Promise<number | null>;

  constructor(private readonly socketPath: string, private readonly waitSeconds = 10, private readonly opts: RelayOptions = {}) {
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    this.highWater = Math.max(opts.highWaterBytes ?? DEFAULT_RELAY_HIGH_WATER, MIN_RELAY_HIGH_WATER);
    this.start();
  }

  private start(): void {
    const child = spawn(RELAY_BIN, ['--wait', String(this.waitSeconds), this.socketPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.connected = false;
    this.overflowing = false; // a new relay's input is empty
    this.given = 0;
    let sent: number | undefined;
    let out = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-4096); });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === 'connected') this.onConnected();
        else if (line.startsWith('sent ')) sent = Number(line.slice(5));
      }
    });
    child.stdin!.on('error', () => { /* the relay exited: reported through 'close' */ });
    child.on('close', (code) => {
      // the next relay starts only after this: `given` is still this one's
      const took = sent ?? 0;
      if (sent !== undefined) this.stats.sentByConnection.push(took);
      this.stats.lostAtDisconnect += this.given - took;
      const wasConnected = this.connected;
      this.connected = false;
      this.down = true; // nothing is handed on until a relay connects again (without reconnect: ever)
      if (this.closing || !this.opts.reconnect) {
        this.resolveDone(code);
        return;
      }
      if (wasConnected) this.opts.log?.(`SysFlow socket ${this.socketPath}: the processor went away (${this.lastError() || `relay exit ${code}`}); ${this.given - took} messages not sent; connecting again`);
      else {
        // a processor that stays away: the same line at most once a minute
        const why = `SysFlow socket ${this.socketPath}: not connected (${this.lastError() || `relay exit ${code}`})`;
        const held = this.waitLines.pass(why);
        if (held !== undefined) this.opts.log?.(`${why}; trying again${held ? ` (${held} like it not shown)` : ''}`);
      }
      this.retry = setTimeout(() => { this.retry = undefined; this.start(); }, this.opts.retryMs ?? 1000);
    });
  }

  private onConnected(): void {
    this.connected = true;
    const again = this.down; // a relay ended before this one: what it held is gone, start afresh
    if (again) this.opts.log?.(`SysFlow socket ${this.socketPath}: connected again (${this.stats.droppedWhileDown} messages dropped while away so far); starting a new segment`);
    this.down = false;
    this.opts.onConnect?.(again);
  }

  private lastError(): string {
    const lines = this.stderr.trim().split('\n');
    return lines[lines.length - 1] ?? '';
  }

  send(message: Buffer): void {
    // before the first connection the relay holds what it is given (the processor may start
    // after the agent); after a lost one, nothing is held: the next segment starts afresh
    if (this.down) {
      this.stats.droppedWhileDown++;
      return;
    }
    const stdin = this.child.stdin!;
    if (this.overflowing || stdin.writableLength >= this.highWater) {
      if (!this.overflowing) this.overflow(this.child);
      this.stats.droppedSlow++;
      return;
    }
    const len = Buffer.alloc(4);
    len.writeUInt32LE(message.length, 0);
    stdin.write(len);
    stdin.write(message);
    this.given++;
    this.stats.written++;
    if (stdin.writableLength > this.stats.maxBuffered) this.stats.maxBuffered = stdin.writableLength;
  }

  /** The relay's input is full: drop until it has drained, then start a new segment (what was
   * dropped may include entities that later messages refer to). A relay that ends first leaves
   * the rest to the reconnection. */
  private overflow(child: ChildProcess): void {
    this.overflowing = true;
    const dropped = this.stats.droppedSlow;
    const why = this.connected ? 'the processor reads slower than records come' : 'no processor has connected yet';
    this.opts.log?.(`SysFlow socket ${this.socketPath}: ${why} (${this.highWater} bytes waiting); dropping messages until it catches up`);
    child.stdin!.once('drain', () => {
      if (this.child !== child || this.closing || !this.overflowing) return;
      this.overflowing = false;
      this.opts.log?.(`SysFlow socket ${this.socketPath}: the processor caught up (${this.stats.droppedSlow - dropped} messages dropped); starting a new segment`);
      this.opts.onConnect?.(true);
    });
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = undefined;
      this.resolveDone(1);
      return;
    }
    this.child.stdin!.end();
    // a relay still trying to connect after a lost connection holds nothing worth waiting for
    if (this.down) this.child.kill();
  }

  /** What the relay said on stderr (connection errors). */
  get errors(): string {
    return this.stderr.trim();
  }
}
