// udp: kflowd's -u IP:PORT,... — one datagram per record to every server (up to 8), IPv4 and
// IPv6. UDP has no acknowledgement: a record counts as delivered when the kernel took the
// datagram. A record larger than a datagram can carry is rejected for good (counted).
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import type { HostPort } from './host-port.js';
import { SinkUnavailableError } from './delivery.js';
import { withoutNewline } from './line-data.js';

export const UDP_MAX_SERVERS = 8;
const MAX_DATAGRAM = 65507;

export class UdpSink implements Sink {
  readonly name: string;
  private targets: { sock: Socket; port: number; address: string }[] = [];

  constructor(
    private readonly servers: readonly HostPort[],
    private readonly frame: (item: SinkItem) => Uint8Array = (i) => withoutNewline(i.data),
  ) {
    if (servers.length < 1 || servers.length > UDP_MAX_SERVERS) throw new RangeError(`udp: 1 to ${UDP_MAX_SERVERS} servers, got ${servers.length}`);
    this.name = `udp:${servers.map((s) => `${s.host}:${s.port}`).join(',')}`;
  }

  async open(): Promise<void> {
    if (this.targets.length) return;
    const t: typeof this.targets = [];
    try {
      for (const s of this.servers) {
        const a = s.family ? { address: s.host, family: s.family } : await lookup(s.host);
        const sock = createSocket(a.family === 6 ? 'udp6' : 'udp4');
        sock.on('error', () => {}); // ICMP errors from a closed port must not kill the agent
        sock.unref();
        t.push({ sock, port: s.port, address: a.address });
      }
    } catch (e) {
      for (const x of t) x.sock.close();
      throw new SinkUnavailableError(`udp: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.targets = t;
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    if (!this.targets.length) await this.open();
    const failed: { index: number; retry: boolean; reason: string }[] = [];
    const sends: Promise<void>[] = [];
    batch.forEach((item, index) => {
      const msg = this.frame(item);
      if (msg.length > MAX_DATAGRAM) {
        failed.push({ index, retry: false, reason: `${msg.length} bytes do not fit in one UDP datagram` });
        return;
      }
      for (const t of this.targets) {
        sends.push(new Promise((res, rej) => t.sock.send(msg, t.port, t.address, (err) => (err ? rej(err) : res()))));
      }
    });
    await Promise.all(sends);
    return failed.length ? { failed } : {};
  }

  async close(): Promise<void> {
    for (const t of this.targets) t.sock.close();
    this.targets = [];
  }
}
