// unix: newline-terminated records over a UNIX stream socket (a local collector, e.g. a log
// shipper's socket input). Connects lazily; a broken connection re-sends unconfirmed records.
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { joinLines } from './line-data.js';
import { StreamConn } from './stream-conn.js';

export class UnixSink implements Sink {
  readonly name: string;
  private readonly conn: StreamConn;

  constructor(path: string) {
    this.conn = new StreamConn({ kind: 'unix', path });
    this.name = `unix:${path}`;
  }

  async open(): Promise<void> {}

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    await this.conn.write(joinLines(batch));
    return {};
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}
