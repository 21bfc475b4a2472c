// One outgoing stream connection (TCP, TLS or UNIX) that connects lazily and reports a broken
// connection on the next write. Connecting failures throw SinkUnavailableError (nothing of the
// batch went out); a write on a connection that broke may have lost data, so it throws a plain
// error and the Delivery re-sends everything it has not confirmed. A protocol that answers
// (RELP) passes handlers for the bytes that come back and for the break.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { SinkUnavailableError } from './delivery.js';

export type StreamTarget =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'tls'; readonly host: string; readonly port: number; readonly tls: ConnectionOptions }
  | { readonly kind: 'unix'; readonly path: string };

export function describeTarget(t: StreamTarget): string {
  return t.kind === 'unix' ? `unix:${t.path}` : `${t.kind}:${t.host}:${t.port}`;
}

const CONNECT_TIMEOUT_MS = 5000;

export interface StreamHandlers {
  /** bytes from the peer (without it they are read and ignored: a syslog server sends nothing) */
  onData?(chunk: Buffer): void;
  /** the connection broke (once per connection) */
  onBroken?(e: Error): void;
}

export class StreamConn {
  private sock: Socket | null = null;
  private broken: Error | null = null;

  constructor(
    private readonly target: StreamTarget,
    private readonly handlers: StreamHandlers = {},
  ) {}

  get connected(): boolean {
    return this.sock !== null && this.broken === null;
  }

  private async connect(): Promise<Socket> {
    const t = this.target;
    return new Promise<Socket>((resolve, reject) => {
      let s: Socket;
      const fail = (e: Error): void => {
        s.destroy();
        reject(new SinkUnavailableError(`${describeTarget(t)}: ${e.message}`));
      };
      if (t.kind === 'tls') {
        s = tlsConnect({ host: t.host, port: t.port, servername: isName(t.host) ? t.host : undefined, ...t.tls }, () => done());
      } else if (t.kind === 'tcp') {
        s = netConnect({ host: t.host, port: t.port }, () => done());
      } else {
        s = netConnect({ path: t.path }, () => done());
      }
      const timer = setTimeout(() => fail(new Error('connect timed out')), CONNECT_TIMEOUT_MS);
      s.once('error', fail);
      const done = (): void => {
        clearTimeout(timer);
        s.off('error', fail);
        if (t.kind !== 'unix') s.setNoDelay(true);
        s.setKeepAlive(true, 10_000);
        resolve(s);
      };
    });
  }

  /**
   * Connects if there is no connection; true when a new one was made. A broken connection
   * throws its error first (data written before the break may be lost: the caller rewinds).
   */
  async ensure(): Promise<boolean> {
    if (this.broken) this.drop();
    if (this.sock) return false;
    const s = await this.connect();
    this.broken = null;
    const mark = (e: Error): void => {
      if (this.sock !== s || this.broken) return;
      this.broken = e;
      this.handlers.onBroken?.(e);
    };
    s.on('error', (e) => mark(e));
    s.on('close', () => mark(new Error(`${describeTarget(this.target)}: connection closed`)));
    s.on('end', () => mark(new Error(`${describeTarget(this.target)}: connection closed by peer`)));
    const onData = this.handlers.onData;
    s.on('data', onData ? (d: Buffer) => this.sock === s && onData(d) : () => {});
    this.sock = s;
    return true;
  }

  /** Breaks the connection on purpose (a protocol error): onBroken runs with `e`. */
  abort(e: Error): void {
    const s = this.sock;
    if (!s || this.broken) return;
    this.broken = e;
    this.handlers.onBroken?.(e);
    s.destroy();
  }

  /** Forgets a broken connection without throwing its error (the caller accounted for it). */
  discardBroken(): void {
    if (!this.broken) return;
    this.sock?.destroy();
    this.sock = null;
    this.broken = null;
  }

  /** Writes bytes; resolves once the socket has taken them. */
  async write(buf: Uint8Array): Promise<void> {
    await this.ensure();
    const s = this.sock!;
    await new Promise<void>((resolve, reject) => {
      s.write(buf, (err) => (err ? reject(err) : this.broken ? reject(this.broken) : resolve()));
    });
  }

  private drop(): void {
    const e = this.broken;
    this.sock?.destroy();
    this.sock = null;
    this.broken = null;
    if (e) throw e; // data written before the break may be lost: the caller rewinds
  }

  async close(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (!s) return;
    if (this.broken) {
      s.destroy();
      throw this.broken;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, 2000);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
    });
  }
}

function isName(host: string): boolean {
  return !/^[\d.]+$/.test(host) && !host.includes(':');
}
