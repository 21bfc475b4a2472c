// RELP (Reliable Event Logging Protocol, as librelp / rsyslog's imrelp speak it) framing:
//   TXNR SP COMMAND SP DATALEN [SP DATA] LF
// TXNR 1-9 digits, COMMAND 1-32 letters, DATALEN 1-9 digits (0: no SP, no DATA). An incremental
// parser for the server's side of the stream (`rsp`, `serverclose`) and the client's encoder.
// Errors name the byte offset in the stream, never crash: a server that sends garbage breaks
// the session and the records not acknowledged are sent again.

export interface RelpFrame {
  readonly txnr: number;
  readonly command: string;
  readonly data: Buffer;
}

/** TXNRs run 1..999,999,999 and then wrap to 1 (the protocol's field holds 9 digits). */
export const RELP_TXNR_MAX = 999_999_999;
const MAX_COMMAND = 32;

export class RelpFrameError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(`malformed RELP frame at byte ${offset}: ${message}`);
    this.name = 'RelpFrameError';
  }
}

/** One frame's bytes. */
export function encodeRelpFrame(txnr: number, command: string, data?: Uint8Array | string): Buffer {
  const body = data === undefined ? Buffer.alloc(0) : typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const head = body.length ? `${txnr} ${command} ${body.length} ` : `${txnr} ${command} 0`;
  const out = Buffer.allocUnsafe(Buffer.byteLength(head) + body.length + 1);
  const n = out.write(head, 0, 'latin1');
  out.set(body, n);
  out[out.length - 1] = 0x0a;
  return out;
}

/** Appends `syslog` frames for messages with txnrs from `first` (wrapping), as one buffer. */
export function encodeSyslogFrames(first: number, msgs: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  let t = first;
  const nl = Buffer.from('\n');
  for (const m of msgs) {
    parts.push(Buffer.from(`${t} syslog ${m.length} `, 'latin1'), m, nl);
    t = t === RELP_TXNR_MAX ? 1 : t + 1;
  }
  return Buffer.concat(parts);
}

type State = 'txnr' | 'command' | 'len' | 'data' | 'trailer';

/**
 * Splits a byte stream into frames. `push` returns the frames completed by the chunk and throws
 * RelpFrameError (with the stream offset) at the first byte that cannot belong to a frame.
 */
export class RelpParser {
  private state: State = 'txnr';
  private offset = 0;
  private txnr = 0;
  private digits = 0;
  private command = '';
  private len = 0;
  private data: Buffer | null = null;
  private filled = 0;
  private failed: RelpFrameError | null = null;

  /** @param maxData largest DATALEN accepted (a server's answers are small) */
  constructor(private readonly maxData = 1 << 20) {}

  /** bytes consumed so far */
  get position(): number {
    return this.offset;
  }

  push(chunk: Uint8Array): RelpFrame[] {
    if (this.failed) throw this.failed;
    const out: RelpFrame[] = [];
    let i = 0;
    try {
      while (i < chunk.length) {
        if (this.state === 'data') {
          const take = Math.min(chunk.length - i, this.len - this.filled);
          this.data!.set(chunk.subarray(i, i + take), this.filled);
          this.filled += take;
          i += take;
          this.offset += take;
          if (this.filled === this.len) this.state = 'trailer';
          continue;
        }
        const c = chunk[i]!;
        this.step(c, out);
        i++;
        this.offset++;
      }
    } catch (e) {
      if (e instanceof RelpFrameError) this.failed = e;
      throw e;
    }
    return out;
  }

  private bad(what: string): never {
    throw new RelpFrameError(this.offset, what);
  }

  private step(c: number, out: RelpFrame[]): void {
    const digit = c >= 0x30 && c <= 0x39;
    switch (this.state) {
      case 'txnr':
        if (digit) {
          if (this.digits === 9) this.bad('transaction number longer than 9 digits');
          this.txnr = this.txnr * 10 + (c - 0x30);
          this.digits++;
        } else if (c === 0x20 && this.digits > 0) {
          this.state = 'command';
        } else this.bad(this.digits ? `expected a space after the transaction number, got ${show(c)}` : `expected a transaction number, got ${show(c)}`);
        return;
      case 'command':
        if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) {
          if (this.command.length === MAX_COMMAND) this.bad(`command longer than ${MAX_COMMAND} letters`);
          this.command += String.fromCharCode(c);
        } else if (c === 0x20 && this.command) {
          this.state = 'len';
          this.digits = 0;
          this.len = 0;
        } else this.bad(this.command ? `expected a space after the command, got ${show(c)}` : `expected a command, got ${show(c)}`);
        return;
      case 'len':
        if (digit) {
          if (this.digits === 9) this.bad('data length longer than 9 digits');
          this.len = this.len * 10 + (c - 0x30);
          this.digits++;
          if (this.len > this.maxData) this.bad(`data length ${this.len} exceeds the limit of ${this.maxData}`);
        } else if (this.digits === 0) this.bad(`expected a data length, got ${show(c)}`);
        else if (c === 0x20 && this.len > 0) {
          this.data = Buffer.allocUnsafe(this.len);
          this.filled = 0;
          this.state = 'data';
        } else if (c === 0x0a && this.len === 0) {
          this.emit(out, Buffer.alloc(0));
        } else if (this.len === 0) this.bad(`expected the end of frame after data length 0, got ${show(c)}`);
        else this.bad(`expected a space after the data length, got ${show(c)}`);
        return;
      case 'trailer':
        if (c !== 0x0a) this.bad(`expected the end of frame (LF) after ${this.len} bytes of data, got ${show(c)}`);
        this.emit(out, this.data!);
        return;
      default:
        return;
    }
  }

  private emit(out: RelpFrame[], data: Buffer): void {
    out.push({ txnr: this.txnr, command: this.command, data });
    this.state = 'txnr';
    this.txnr = 0;
    this.digits = 0;
    this.command = '';
    this.len = 0;
    this.data = null;
  }
}

function show(c: number): string {
  return c >= 0x21 && c <= 0x7e ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

export interface RelpResponse {
  /** 3-digit status: 200 = OK */
  readonly code: number;
  /** the human-readable text after the code */
  readonly text: string;
  /** what follows the first LF (the offers, in the answer to `open`) */
  readonly payload: string;
}

/** Parses the data of an `rsp` frame: `CODE [SP TEXT] [LF PAYLOAD]`; null if it has no code. */
export function parseRelpResponse(data: Buffer): RelpResponse | null {
  const s = data.toString('utf8');
  const m = /^(\d{3})(?: ([^\n]*))?(?:\n([\s\S]*))?$/.exec(s);
  if (!m) return null;
  return { code: Number(m[1]), text: m[2] ?? '', payload: m[3] ?? '' };
}

/** The offers of an `open` answer (`name=value` lines) as a map. */
export function parseOffers(payload: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of payload.split('\n')) {
    if (!line) continue;
    const eq = line.indexOf('=');
    m.set(eq < 0 ? line : line.slice(0, eq), eq < 0 ? '' : line.slice(eq + 1));
  }
  return m;
}
