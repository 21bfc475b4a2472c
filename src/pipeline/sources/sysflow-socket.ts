// The SysFlow socket as a Source: sf-processor's `socket` driver. It listens on a UNIX
// SOCK_SEQPACKET socket where a collector (sf-collector, or falconet's own `--sf-socket` /
// sysflowwriter `socket`) sends one SysFlow v5 datum per packet: a header, entities before the
// events that reference them. Node has no SEQPACKET sockets, so the small C program
// sensor/relay/falconet-sfsock-listen holds the socket and passes each packet on as a
// [u32 length][datum] frame (a zero-length frame: listening). Records become `sysflow`
// envelopes exactly as from trace files (sysflow-files.ts); every header resets the entity table.
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EntityTable, decodeSfDatum } from '../../sysflow/index.js';
import type { SysFlowRecord } from '../encoders/sysflow.js';
import type { Envelope, Source, SourceEvent } from '../types.js';
import { ENGINE_RECORD_TYPES } from './sysflow-files.js';
import { LIVE_TABLE_FILES } from '../stages/sysflow.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/pipeline/sources → repo root */
export const LISTEN_BIN = process.env.FALCONET_SFSOCK_LISTEN ?? path.resolve(here, '../../../../sensor/relay/falconet-sfsock-listen');

export class SysFlowSocketError extends Error {
  override readonly name = 'SysFlowSocketError';
}

export interface SysFlowSocketSource extends Source<SysFlowRecord> {
  /** resolves once the socket is listening (a collector may connect) */
  readonly listening: Promise<void>;
  /** datagrams that did not decode as a SysFlow v5 datum (each is skipped and counted) */
  readonly badMessages: number;
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Listens on `socketPath` until stop(): then the datums the connection has queued are still
 * read and the source ends. `log` gets the first undecodable datum's error.
 */
export function sysflowSocketSource(socketPath: string, log: (t: string) => void = () => {}): SysFlowSocketSource {
  let child: ChildProcess | undefined;
  let stopped = false;
  let bad = 0;
  let onListening: () => void = () => {};
  let onFailed: (e: Error) => void = () => {};
  const listening = new Promise<void>((resolve, reject) => { onListening = resolve; onFailed = reject; });
  listening.catch(() => { /* reported by the iteration */ });
  const host = hostname();

  async function* run(): AsyncGenerator<SourceEvent<SysFlowRecord>> {
    const c = spawn(LISTEN_BIN, [socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4096); });
    const exited = new Promise<number | null>((resolve) => c.on('close', (code) => resolve(code)));
    const spawnError = new Promise<Error>((resolve) => c.on('error', (e) => resolve(e)));
    if (stopped) c.kill('SIGTERM');
    let table = new EntityTable(LIVE_TABLE_FILES);
    let seq = 0n;
    let pending: Buffer = Buffer.alloc(0);
    let ready = false;
    // the stream's identity: one per listening run (records are ids host:boot:seq)
    const boot = `${socketPath}@${Date.now()}`;
    try {
      for await (const chunk of c.stdout! as AsyncIterable<Buffer>) {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        let pos = 0;
        const batch: Envelope<SysFlowRecord>[] = [];
        while (pending.length - pos >= 4) {
          const len = pending.readUInt32LE(pos);
          if (pending.length - pos - 4 < len) break;
          const msg = pending.subarray(pos + 4, pos + 4 + len);
          pos += 4 + len;
          if (len === 0) {
            if (!ready) { ready = true; onListening(); }
            continue;
          }
          let obj;
          try {
            obj = decodeSfDatum(msg);
          } catch (e) {
            if (bad++ === 0) log(`SysFlow socket ${socketPath}: a message is not a SysFlow v5 datum (skipped; later ones are counted): ${(e as Error).message}`);
            continue;
          }
          if (obj.type === 'H') table = new EntityTable(LIVE_TABLE_FILES);
          const v = table.push(obj);
          if (v === null || !ENGINE_RECORD_TYPES.has(v.type)) continue;
          seq++;
          const node = v.header?.exporter || host;
          batch.push({ kind: 'sysflow', rec: { view: v, alerts: NONE, tags: NONE, node }, id: { host: node, boot, seq } });
        }
        pending = pending.subarray(pos);
        if (batch.length) yield { kind: 'records', records: batch };
      }
    } finally {
      if (c.exitCode === null) c.kill('SIGTERM');
    }
    const code = await Promise.race([exited, spawnError.then((e) => { throw new SysFlowSocketError(`cannot start ${LISTEN_BIN}: ${e.message}`); })]);
    if (!ready) {
      const e = new SysFlowSocketError(`cannot listen on SysFlow socket ${socketPath}: ${stderr.trim() || `listener exited with ${code}`}`);
      onFailed(e);
      throw e;
    }
    if (code !== 0 && !stopped) throw new SysFlowSocketError(`SysFlow socket ${socketPath}: ${stderr.trim() || `listener exited with ${code}`}`);
    yield { kind: 'end' };
  }

  return {
    name: 'sysflow-socket',
    listening,
    get badMessages() { return bad; },
    [Symbol.asyncIterator]: run,
    stop: () => {
      stopped = true;
      child?.kill('SIGTERM');
    },
  };
}
