// The live sensor and recorded streams (replay) as a Source: kernel records become envelopes with
// a record id (host, boot, sequence). The sequence is kflowd's InfoSequenceNumber: +1 per record
// output; internal notices (pid exits) are not records and are left out here.
import type { KernelRecord, SensorHello } from '../../model/records.js';
import type { RecordSource } from '../../sensor/source.js';
import type { Envelope, RecordKind, Source, SourceEvent } from '../types.js';
import { PayloadJoin, type JoinOptions } from '../../protocols/join.js';

const KIND: Record<KernelRecord['type'], RecordKind> = {
  file: 'file', sock: 'socket', proc: 'process', pid_exit: 'pid_exit', payload: 'payload', payload_stats: 'payload',
};

export interface KernelSource extends Source<KernelRecord> {
  /** hello frames after the first: the sensor was restarted */
  readonly restarts: number;
  /** -p: captured payloads joined to their socket records (App keys, SockRemoteNames) */
  readonly join: PayloadJoin;
}

/** Payload records (-p) are joined here, before sequence numbers are given, because they are
 * parts of socket records rather than records of their own: InfoSequenceNumber stays gap-free.
 * Records the join holds for late payloads (join.ts) leave at a later stats tick or at the end. */
export function kernelSource(name: string, rs: RecordSource, joinOpts: JoinOptions = {}): KernelSource {
  let restarts = 0;
  const join = new PayloadJoin(joinOpts);
  async function* run(): AsyncGenerator<SourceEvent<KernelRecord>> {
    let seq = 0n;
    let host = '';
    let boot = '';
    let hello: SensorHello | undefined;
    const envelopes = (recs: KernelRecord[]): Envelope<KernelRecord>[] => {
      const out: Envelope<KernelRecord>[] = [];
      for (const r of recs) {
        if (r.type === 'pid_exit' || r.type === 'payload_stats') continue;
        seq++;
        out.push({ kind: KIND[r.type], rec: r, id: { host, boot, seq }, enrich: undefined });
      }
      return out;
    };
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
      if (ev.kind === 'stats' || ev.kind === 'end') {
        const due = ev.kind === 'stats' ? join.tick(ev.stats.bootNs) : join.flush();
        if (due.length) yield { kind: 'records', records: envelopes(due) };
      }
      if (ev.kind !== 'records') { yield ev; continue; }
      if (!hello) throw new Error('stream has records before its hello frame');
      const out = envelopes(join.process(ev.records));
      if (out.length) yield { kind: 'records', records: out };
    }
    const rest = join.flush(); // a stream cut short (no end frame)
    if (rest.length) yield { kind: 'records', records: envelopes(rest) };
  }
  return {
    name,
    get restarts() { return restarts; },
    join,
    [Symbol.asyncIterator]: run,
    stop: () => rs.stop(),
  };
}
