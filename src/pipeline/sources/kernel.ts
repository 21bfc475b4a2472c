// The live sensor and recorded streams (replay) as a Source: kernel records become envelopes with
// a record id (host, boot, sequence). The sequence is kflowd's InfoSequenceNumber: +1 per record
// output; internal notices (pid exits) are not records and are left out here.
import type { KernelRecord, SensorHello } from '../../model/records.js';
import type { RecordSource } from '../../sensor/source.js';
import type { Envelope, RecordKind, Source, SourceEvent } from '../types.js';

const KIND: Record<KernelRecord['type'], RecordKind> = { file: 'file', sock: 'socket', proc: 'process', pid_exit: 'pid_exit' };

export interface KernelSource extends Source<KernelRecord> {
  /** hello frames after the first: the sensor was restarted */
  readonly restarts: number;
}

export function kernelSource(name: string, rs: RecordSource): KernelSource {
  let restarts = 0;
  async function* run(): AsyncGenerator<SourceEvent<KernelRecord>> {
    let seq = 0n;
    let host = '';
    let boot = '';
    let hello: SensorHello | undefined;
    for await (const ev of rs) {
      if (ev.kind === 'hello') {
        if (hello) restarts++;
        hello = ev.hello;
        host = ev.hello.hostname;
        // boot time (ms since the epoch) and the start of monitoring: unique per agent run
        boot = `${ev.hello.bootToRealNs / 1_000_000n}.${ev.hello.startBootNs}`;
        yield ev;
        continue;
      }
      if (ev.kind !== 'records') { yield ev; continue; }
      if (!hello) throw new Error('stream has records before its hello frame');
      const out: Envelope<KernelRecord>[] = [];
      for (const r of ev.records) {
        if (r.type === 'pid_exit') continue;
        seq++;
        out.push({ kind: KIND[r.type], rec: r, id: { host, boot, seq }, enrich: undefined });
      }
      if (out.length) yield { kind: 'records', records: out };
    }
  }
  return {
    name,
    get restarts() { return restarts; },
    [Symbol.asyncIterator]: run,
    stop: () => rs.stop(),
  };
}
