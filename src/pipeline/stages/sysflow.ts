// SysFlow on live records: the flattener (sf-processor's sysflowreader + flattener handler) turns
// kernel records into SysFlow record views; the trace writer (-w, --sf-socket) writes the SysFlow
// objects of kernel records as Avro traces. Both use the runtime's one mapping (kernel-sysflow.ts).
import { hostname } from 'node:os';
import { EntityTable } from '../../sysflow/index.js';
import { createSysFlowTraceSink, type SysFlowTraceSink } from '../../sysflow/trace-sink.js';
import { MIN_RELAY_HIGH_WATER, SeqpacketRelayTransport } from '../../sysflow/seqpacket-transport.js';
import { parseSize } from '../../sinks/units.js';
import type { SysFlowRecord } from '../encoders/sysflow.js';
import type { Control, Envelope, Stage } from '../types.js';
import type { ControlAware } from '../runtime.js';
import { sysflowObjects, type KernelToSysFlow } from './kernel-sysflow.js';
import type { FileRecord, KernelRecord } from '../../model/records.js';
import type { PolicyEngine, Predicate } from '../../policy/index.js';
import { opsNeedOf, pathNeedOf, procGateOf } from '../../policy/compiler.js';
import { PathNeedMatcher } from '../../policy/path-need.js';
import type { SfRecordView } from '../../sysflow/view.js';
import type { Process, SfObject } from '../../sysflow/types.js';
import { ENGINE_RECORD_TYPES } from '../sources/sysflow-files.js';

/** Lazily created once the hello says how to convert clocks (shared by a runtime's stages). */
export interface SysFlowMapping {
  readonly mapper: KernelToSysFlow | undefined;
}

const NONE: readonly never[] = Object.freeze([]);

/** Files a live entity table keeps: twice the live mapper's (65,536), which re-sends a File
 * entity for a file it forgot, so the table never forgets one the mapper still uses. */
export const LIVE_TABLE_FILES = 131_072;

export class FlattenerStage implements Stage {
  readonly name: string;
  private readonly table = new EntityTable(LIVE_TABLE_FILES);
  private readonly node = hostname();
  /** SysFlow records made so far: their ids' sequence (one kernel record can make several); a
   * number (exact far beyond any run's count), made a BigInt only for an id: a BigInt
   * increment allocates, and most records only count */
  private seq = 0;

  constructor(name: string, private readonly mapping: SysFlowMapping) {
    this.name = name;
  }

  /** kernel records dropped unmapped because no alert rule could match them */
  unmapped = 0;
  /** socket records are not mapped (only alert-mode engines follow, none with NetworkFlow rules) */
  private noNetworkAlerts = false;
  /** may an alert rule match this FileFlow view? (set when only alert-mode engines follow) */
  private mayAlert: ((v: SfRecordView, opFlags: number) => boolean) | undefined;
  /** may a rule match a FileFlow of this (previewable) record, judged from its process entity,
   * opflags and path alone? undefined: build the preview and ask mayAlert */
  private mayAlertFast: ((r: FileRecord, mapper: KernelToSysFlow) => boolean | undefined) | undefined;
  /** file records dropped unmapped without a preview (their process rules out every rule that
   * needs no path, and their path or opflags every other rule) */
  gatedOut = 0;

  /**
   * This flattener feeds only these engines, in alert mode, and is the mapping's only user: a
   * file record whose FileFlow no alert rule of theirs matches would leave them with nothing, so
   * it is previewed (its process bookkeeping done for real, its File not made) and dropped
   * unmapped. Matching is decided by the rules themselves on the previewed view, which has the
   * same fields as the view the full mapping makes (only File.state/ts, which no field reads,
   * and view.index can differ), so the alerts are exactly those of the full mapping.
   */
  onlyFeedsAlerts(engines: readonly PolicyEngine[]): void {
    // no alert rule admits NetworkFlows: socket records need only their process bookkeeping
    this.noNetworkAlerts = engines.every((e) => e.rulesFor('NF').every((r) => !r.actions.includes('alert')));
    // a rule restated in another file compiles to the same predicate (policy/compiler.ts): once
    const preds: Predicate[] = [];
    for (const e of engines) for (const r of e.rulesFor('FF')) if (r.actions.includes('alert') && !preds.includes(r.predicate)) preds.push(r.predicate);
    // What each rule needs (policy/compiler.ts): one of some opflags bits, and of the path
    // (path-need.ts). A rule is evaluated only when the record's opflags meet its mask, and a
    // rule needing something of the path only when the path meets the joined need of them all.
    const always = preds.filter((p) => pathNeedOf(p) === null);
    const alwaysOps = always.map((p) => opsNeedOf(p) ?? -1);
    const gated = preds.filter((p) => pathNeedOf(p) !== null);
    const gatedOps = gated.map((p) => opsNeedOf(p) ?? -1);
    const need = new PathNeedMatcher(gated.flatMap((p) => pathNeedOf(p)!));
    // Per process entity: the rules needing no path that its process part does not rule out
    // (policy/compiler.ts procGateOf: a conjunct true whenever the rule is, the same for every
    // record of the entity, as the rule's own per-entity cache has it).
    const gates = always.map(procGateOf);
    const ALL = always.map((_, i) => i);
    const left = new WeakMap<Process, number[]>();
    const survivors = (v: SfRecordView): number[] => {
      const p = v.proc;
      if (p === null) return ALL;
      let l = left.get(p);
      if (l === undefined) {
        l = [];
        for (let i = 0; i < always.length; i++) if (gates[i] === null || gates[i]!(v)) l.push(i);
        left.set(p, l);
      }
      return l;
    };
    // some rule needing the path has its opflags met by ops
    const gatedOpsMet = (ops: number): boolean => {
      for (let i = 0; i < gated.length; i++) if (gatedOps[i] === -1 || (ops & gatedOps[i]!) !== 0) return true;
      return false;
    };
    const gatedMayPass = (ops: number, path: string): boolean => gatedOpsMet(ops) && need.matches(path, null);
    this.mayAlertFast = (r, mapper) => {
      const oid = mapper.previewProcessOid(r);
      if (oid === null) return undefined;
      const p = this.table.processByOid(oid);
      if (p === null) return undefined;
      const l = left.get(p);
      if (l === undefined) return undefined;
      // the view would join this process: of the rules needing no path, only these may match,
      // if the record's opflags meet theirs
      const ops = mapper.previewOps(r);
      for (let k = 0; k < l.length; k++) {
        const m = alwaysOps[l[k]!]!;
        if (m === -1 || (ops & m) !== 0) return undefined;
      }
      return gatedMayPass(ops, r.dir + r.name);
    };
    this.mayAlert = (v, ops) => {
      const l = survivors(v);
      for (let k = 0; k < l.length; k++) {
        const i = l[k]!;
        const m = alwaysOps[i]!;
        if ((m === -1 || (ops & m) !== 0) && always[i]!(v)) return true;
      }
      if (!gatedOpsMet(ops) || !need.matches(v.file === null ? null : v.file.path, v.newFile === null ? null : v.newFile.path)) return false;
      for (let i = 0; i < gated.length; i++) {
        const m = gatedOps[i]!;
        if ((m === -1 || (ops & m) !== 0) && gated[i]!(v)) return true;
      }
      return false;
    };
  }

  process(batch: Envelope[]): Envelope[] {
    const out: Envelope[] = [];
    const mapper = this.mapping.mapper;
    const mayAlert = this.mayAlert;
    for (let i = 0; i < batch.length; i++) {
      const env = batch[i]!;
      if (env.kind === 'sysflow' || env.kind === 'alert') { out.push(env); continue; }
      let objs: SfObject[] | undefined;
      if (mayAlert !== undefined && mapper !== undefined && env.kind === 'file' && env.enrich?.['sysflow'] === undefined) {
        const pv = mapper.previewFileProcess(env.rec as KernelRecord, env.enrich);
        if (pv !== null) {
          for (let j = 0; j < pv.entities.length; j++) this.table.push(pv.entities[j]!);
          if (pv.failed) continue;
          if (this.mayAlertFast!(env.rec as FileRecord, mapper) === false) {
            this.seq++; // the FileFlow's id, as if it had been made
            this.unmapped++;
            this.gatedOut++;
            continue;
          }
          mapper.previewFileFlow(env.rec as FileRecord);
          if (pv.flow !== null && !mayAlert(this.table.view({ type: 'FF', rec: pv.flow }, this.table.index, pv.file!), pv.flow.opFlags)) {
            this.seq++; // the FileFlow's id, as if it had been made
            this.unmapped++;
            continue;
          }
          objs = mapper.record(env.rec as KernelRecord, env.enrich); // the rest: File, FileFlow
        }
      }
      if (this.noNetworkAlerts && mapper !== undefined && env.kind === 'socket' && env.enrich?.['sysflow'] === undefined) {
        const sk = mapper.skipSocket(env.rec as KernelRecord, env.enrich);
        if (sk !== null) {
          for (let j = 0; j < sk.entities.length; j++) this.table.push(sk.entities[j]!);
          if (sk.failed) continue;
          if (sk.flows >= 0) {
            this.seq += sk.flows; // the NetworkFlow's id, as if it had been made
            this.unmapped++;
            continue;
          }
          objs = mapper.record(env.rec as KernelRecord, env.enrich); // the rest: NetworkFlow
        }
      }
      objs ??= sysflowObjects(env, mapper);
      for (let j = 0; j < objs.length; j++) {
        const v = this.table.push(objs[j]!);
        if (v === null || !ENGINE_RECORD_TYPES.has(v.type)) continue;
        const rec: SysFlowRecord = { view: v, alerts: NONE, tags: NONE, node: this.node };
        // each SysFlow record needs its own id (engines de-duplicate by it: Nats-Msg-Id, ES _id);
        // they count in their own space, `<boot>.sf`, beside the kernel records'
        const id = env.id && { host: env.id.host, boot: `${env.id.boot}.sf`, seq: BigInt(++this.seq) };
        out.push({ kind: 'sysflow', rec, id, enrich: env.enrich });
      }
    }
    return out;
  }
}

/** What --sf-socket-buffer and `socket.buffer` take. */
export const SOCKET_BUFFER_EXPECTED = 'a size of at least 64KiB (e.g. 16MiB)';

/** The bytes that may wait for a slow processor (`16MiB`, `512k`), or null when the text is not
 * SOCKET_BUFFER_EXPECTED. */
export function parseSocketBuffer(text: string): number | null {
  const n = parseSize(text);
  return n !== null && n >= MIN_RELAY_HIGH_WATER ? n : null;
}

export interface TraceWriterOptions {
  /** -w: trace file or DIR/ (optional when streaming to a socket) */
  output?: string;
  rotateSeconds?: number;
  exporterId?: string;
  /** --sf-socket: sf-processor's SOCK_SEQPACKET socket path */
  socketPath?: string;
  /** --sf-socket-buffer: bytes that may wait for a slow processor (default 16 MiB) */
  socketBufferBytes?: number;
}

/** Writes the SysFlow objects of kernel records as traces; a terminal stage (returns nothing). */
export class TraceWriterStage implements Stage, ControlAware {
  readonly name: string;
  private sink: SysFlowTraceSink | undefined;
  private relay: SeqpacketRelayTransport | undefined;
  private reported = 0;
  /** trace files written, known once closed */
  paths: string[] = [];

  constructor(name: string, private readonly opts: TraceWriterOptions, private readonly mapping: SysFlowMapping, private readonly log: (t: string) => void) {
    this.name = name;
  }

  onControl(c: Control): void {
    // a restarted sensor sends a new hello: keep writing the same traces
    if (c.kind === 'hello' && !this.sink) {
      // a restarted processor is connected to again, and gets a new segment (header, live entities)
      this.relay = this.opts.socketPath ? new SeqpacketRelayTransport(this.opts.socketPath, 10, {
        reconnect: true, log: this.log, highWaterBytes: this.opts.socketBufferBytes, onConnect: (again) => { if (again) this.sink?.restartSocket(); },
      }) : undefined;
      this.sink = createSysFlowTraceSink({ output: this.opts.output, rotateSeconds: this.opts.rotateSeconds, exporterId: this.opts.exporterId, socket: this.relay });
    } else if (c.kind === 'stats') this.sink?.tick();
  }

  process(batch: Envelope[]): Envelope[] {
    const sink = this.sink;
    if (!sink) return [];
    for (let i = 0; i < batch.length; i++) {
      const objs = sysflowObjects(batch[i]!, this.mapping.mapper);
      for (let j = 0; j < objs.length; j++) sink.write(objs[j]!);
    }
    const m = this.mapping.mapper;
    if (m && m.errors > this.reported) {
      if (this.reported === 0) this.log(`SysFlow mapping failed: ${m.lastError}`);
      this.reported = m.errors;
    }
    return [];
  }

  async close(): Promise<void> {
    if (!this.sink) return;
    this.sink.close();
    if (this.relay) {
      if ((await this.relay.done) !== 0) this.log(`SysFlow socket output failed: ${this.relay.errors || 'relay exited'}`);
      const r = this.relay.stats;
      if (r.droppedWhileDown || r.lostAtDisconnect || r.droppedSlow) this.log(`SysFlow socket: ${r.droppedWhileDown} messages dropped while no processor was connected, ${r.droppedSlow} while it read too slowly, ${r.lostAtDisconnect} lost with a connection; ${r.sentByConnection.length} connections`);
    }
    this.paths = [...this.sink.paths];
    if (this.reported) this.log(`${this.reported} records could not be mapped to SysFlow`);
  }
}
