// syslog over UDP (one datagram per record), TCP (octet counting) and TLS (octet counting, CA
// verification by node:tls). Neither transport acknowledges records; the Delivery's confirm
// window (confirm_ms) re-sends what a peer may have lost when its connection breaks.
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import type { HostPort } from './host-port.js';
import { StreamConn, describeTarget, type StreamTarget } from './stream-conn.js';
import { octetCounted, syslogMessage, type SyslogHeader } from './syslog-format.js';
import { UdpSink } from './udp-sink.js';

export class SyslogStreamSink implements Sink {
  readonly name: string;
  private readonly conn: StreamConn;

  constructor(
    target: StreamTarget,
    private readonly header: SyslogHeader,
  ) {
    this.conn = new StreamConn(target);
    this.name = `syslog+${describeTarget(target)}`;
  }

  async open(): Promise<void> {
    // connect lazily on the first send, so a server that is down does not fail the start
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    const now = new Date();
    await this.conn.write(octetCounted(batch.map((i) => syslogMessage(this.header, i, now))));
    return {};
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

export function syslogUdpSink(server: HostPort, header: SyslogHeader): UdpSink {
  return new UdpSink([server], (i) => syslogMessage(header, i));
}
