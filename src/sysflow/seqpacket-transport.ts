// A real SOCK_SEQPACKET transport for SysFlowSocketOutput: Node cannot open such sockets, so
// each message goes as a [u32 length][bytes] frame to the small C relay
// (sensor/relay/falconet-sfsock), which sends it as exactly one packet to sf-processor's socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { DatagramTransport } from './socket-output.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const RELAY_BIN = process.env.FALCONET_SFSOCK ?? path.resolve(here, '../../../sensor/relay/falconet-sfsock');

export class SeqpacketRelayTransport implements DatagramTransport {
  private readonly child: ChildProcess;
  private stderr = '';
  /** resolves with the relay's exit code once it has delivered everything (or failed) */
  readonly done: Promise<number | null>;

  constructor(socketPath: string, waitSeconds = 10) {
    this.child = spawn(RELAY_BIN, ['--wait', String(waitSeconds), socketPath], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-4096); });
    this.child.stdin!.on('error', () => { /* the relay exited: reported through done */ });
    this.done = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  send(message: Buffer): void {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(message.length, 0);
    this.child.stdin!.write(len);
    this.child.stdin!.write(message);
  }

  close(): void {
    this.child.stdin!.end();
  }

  /** What the relay said on stderr (connection errors). */
  get errors(): string {
    return this.stderr.trim();
  }
}
