// stdout: one line per record; send resolves once the stream has taken the bytes.
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { joinLines } from './line-data.js';

export class StdoutSink implements Sink {
  readonly name = 'stdout';
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}
  async open(): Promise<void> {}
  send(batch: readonly SinkItem[]): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      this.out.write(joinLines(batch), (err) => (err ? reject(err) : resolve({})));
    });
  }
  async close(): Promise<void> {}
}
