// Stream output for sf-processor's socket driver (sf-processor driver/sysflow/streamingdriver.go,
// collector src/libs/sfsockwriter.cpp): AF_UNIX SOCK_SEQPACKET, one SysFlow v5 datum per
// message (union index varint + record, no OCF header, no schema, no length prefix). The
// processor reads into a 16,384-byte buffer, so a larger message would arrive truncated.
//
// Node's `net` module only offers SOCK_STREAM for AF_UNIX, so the packets themselves are sent by
// a small C relay (seqpacket-transport.ts). This module does everything above the socket: the
// per-message encoding, the size limit, header-first and entity-before-reference ordering (done
// by the trace sink), behind the `DatagramTransport` seam (one send() call = one packet).
import { encodeSfObject } from './schema.js';
import type { SfObject } from './types.js';

/** sf-processor's receive buffer size for one message. */
export const SF_PROCESSOR_MAX_MESSAGE = 16_384;

/** One call = one datagram/packet. */
export interface DatagramTransport {
  send(message: Buffer): void;
  close(): void;
}

export interface SocketOutputStats {
  messages: number;
  bytes: number;
  /** Process records whose env/args were shortened to fit the message limit. */
  trimmed: number;
  /** Records that still did not fit and were dropped. */
  droppedOversize: number;
}

/**
 * Encodes SfObjects one per message onto a transport. Oversized Process records are shrunk
 * (env dropped, then exeArgs cut) rather than sent truncated; anything else too large is
 * dropped and counted, because a truncated datagram would desynchronise the processor's decoder.
 */
export class SysFlowSocketOutput {
  readonly stats: SocketOutputStats = { messages: 0, bytes: 0, trimmed: 0, droppedOversize: 0 };
  constructor(
    private readonly transport: DatagramTransport,
    private readonly maxMessage = SF_PROCESSOR_MAX_MESSAGE,
  ) {}

  /** Encode one record as a message (or null if it cannot be made to fit). */
  encode(obj: SfObject): Buffer | null {
    let msg = encodeSfObject(obj);
    if (msg.length <= this.maxMessage) return msg;
    if (obj.type === 'P') {
      const noEnv = { ...obj.rec, env: [] as string[] };
      msg = encodeSfObject({ type: 'P', rec: noEnv });
      if (msg.length > this.maxMessage) {
        const over = msg.length - this.maxMessage;
        const args = Buffer.from(noEnv.exeArgs, 'utf8');
        // Cut on a byte budget, then drop any split UTF-8 sequence.
        const cut = args.subarray(0, Math.max(0, args.length - over - 16)).toString('utf8').replace(/\uFFFD+$/, '');
        msg = encodeSfObject({ type: 'P', rec: { ...noEnv, exeArgs: cut } });
      }
      if (msg.length <= this.maxMessage) {
        this.stats.trimmed++;
        return msg;
      }
    }
    this.stats.droppedOversize++;
    return null;
  }

  write(obj: SfObject): void {
    const msg = this.encode(obj);
    if (msg === null) return;
    this.transport.send(msg);
    this.stats.messages++;
    this.stats.bytes += msg.length;
  }

  close(): void {
    this.transport.close();
  }
}

/** In-memory transport (tests, and a template for a real SEQPACKET transport). */
export class MemoryTransport implements DatagramTransport {
  readonly messages: Buffer[] = [];
  closed = false;
  send(message: Buffer): void {
    if (this.closed) throw new Error('transport closed');
    this.messages.push(Buffer.from(message));
  }
  close(): void {
    this.closed = true;
  }
}
