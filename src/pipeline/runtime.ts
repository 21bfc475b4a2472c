// The one runtime: a Source feeds a tree of nodes. A node is a Stage (records in → records out)
// or an Output (an Encoder in front of one or more Deliveries). A node with several children
// gives each child the same records (fan-out, sf-processor's channel read by several plugins).
// A stage that throws is reported once with its name and skipped for that batch (its input goes
// on unchanged): one plugin never takes the others down.
import type { SensorHello, SensorStats } from '../model/records.js';
import type { Control, Encoder, Envelope, RecordId, SinkItem, Source, Stage, StageContext } from './types.js';
import type { RuntimeCounters, StageCounters, OutputCounters } from '../metrics/counters.js';
import type { DeliveryPort } from './delivery-port.js';
import { PushWindow } from './push-window.js';

/** A Stage that also wants the control frames (hello, stats, end) of its source. */
export interface ControlAware {
  onControl?(c: Control): void | Promise<void>;
}

export interface StageNode {
  readonly kind: 'stage';
  readonly name: string;
  readonly stage: Stage & ControlAware;
  readonly next: Node[];
}

/** One exporter: one encoder, the deliveries (sinks) its records go to. */
export interface OutputNode {
  readonly kind: 'output';
  readonly name: string;
  readonly encoder: Encoder;
  readonly deliveries: DeliveryPort[];
}

export type Node = StageNode | OutputNode;

export interface RunSummary {
  /** records the source produced (the last InfoSequenceNumber) */
  records: number;
  hello?: SensorHello;
  lastStats?: SensorStats;
  logs: string[];
  cleanEnd: boolean;
}

export interface RuntimeOptions {
  counters: RuntimeCounters;
  /** diagnostics (stderr by default) */
  log(text: string): void;
  onControl?(c: Control): void | Promise<void>;
  /**
   * Let pushes to deliveries that allow it (a disk spool) overlap, up to their push window, so
   * that encoding the next batches overlaps the group commit of the previous ones. Off when
   * something needs a batch's records accepted before the source is read again (the fleet's
   * ack tracker notes `accepted` when the source resumes).
   */
  overlapPushes?: boolean;
  /**
   * A finite source (trace files, a replayed stream): at the end, wait for the sinks as long as
   * they make progress (giving up after 5 s without any), so a slow engine still gets every
   * record; the default gives the sinks 5 s in all, which suits a live agent told to stop.
   */
  drainWhileProgressing?: boolean;
}


function toBytes(d: Uint8Array | string): Uint8Array {
  return typeof d === 'string' ? Buffer.from(d, 'utf8') : d;
}

export class Runtime {
  private readonly stageCounters = new Map<Node, StageCounters>();
  private readonly outputCounters = new Map<Node, OutputCounters>();
  private readonly headerDone = new Set<OutputNode>();
  private readonly failedOnce = new Set<Node>();
  private readonly all: Node[] = [];
  private readonly deliveries = new Set<DeliveryPort>();
  private readonly windows = new Map<DeliveryPort, PushWindow>();

  constructor(private readonly source: Source, private readonly roots: Node[], private readonly opts: RuntimeOptions) {
    const visit = (n: Node): void => {
      if (this.all.includes(n)) return;
      this.all.push(n);
      if (n.kind === 'stage') {
        this.stageCounters.set(n, opts.counters.stage(n.name));
        n.next.forEach(visit);
      } else {
        this.outputCounters.set(n, opts.counters.output(n.name));
        for (const d of n.deliveries) this.deliveries.add(d);
      }
    };
    roots.forEach(visit);
  }

  /** Every stage and output, parents before children. */
  get nodes(): readonly Node[] {
    return this.all;
  }

  async run(): Promise<RunSummary> {
    const summary: RunSummary = { records: 0, logs: [], cleanEnd: false };
    const ctx: StageContext = { log: (t) => this.opts.log(t) };
    for (const d of this.deliveries) await d.open();
    for (const n of this.all) if (n.kind === 'stage') await n.stage.start?.(ctx);
    try {
      for await (const ev of this.source) {
        if (ev.kind === 'records') {
          summary.records += ev.records.length;
          this.opts.counters.sourceRecords += ev.records.length;
          await this.feed(this.roots, ev.records);
          continue;
        }
        if (ev.kind === 'hello') summary.hello = ev.hello;
        else if (ev.kind === 'stats') { summary.lastStats = ev.stats; this.opts.counters.kernel(ev.stats); }
        else if (ev.kind === 'log') summary.logs.push(ev.text);
        else if (ev.kind === 'end') summary.cleanEnd = true;
        await this.control(ev);
      }
      await this.flush();
      for (const w of this.windows.values()) await w.drain();
    } finally {
      // after a failure: let what is outstanding settle before the deliveries close
      for (const w of this.windows.values()) await w.drain().catch(() => undefined);
      for (const n of this.all) if (n.kind === 'stage') {
        try { await n.stage.close?.(); } catch (e) { this.fail(n, e); }
      }
      for (const d of this.deliveries) await d.close({ whileProgressing: this.opts.drainWhileProgressing });
    }
    return summary;
  }

  private async control(c: Control): Promise<void> {
    await this.opts.onControl?.(c);
    for (const n of this.all) {
      if (n.kind !== 'stage' || !n.stage.onControl) continue;
      try { await n.stage.onControl(c); } catch (e) { this.fail(n, e); }
    }
  }

  /** End of stream: each stage releases what it holds, parents first. */
  private async flush(): Promise<void> {
    for (const n of this.all) {
      if (n.kind !== 'stage' || !n.stage.flush) continue;
      let rest: Envelope[] = [];
      try { rest = await n.stage.flush(); } catch (e) { this.fail(n, e); }
      if (rest.length) await this.feed(n.next, rest);
    }
  }

  private fail(n: Node, e: unknown): void {
    const c = this.stageCounters.get(n);
    if (c) c.errors++;
    if (this.failedOnce.has(n)) return;
    this.failedOnce.add(n);
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    this.opts.log(`stage "${n.name}" failed (it is skipped for each batch it fails on; the other stages go on): ${msg}`);
  }

  private async feed(nodes: readonly Node[], batch: Envelope[]): Promise<void> {
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (n.kind === 'output') { await this.output(n, batch); continue; }
      const c = this.stageCounters.get(n)!;
      c.in += batch.length;
      let out: Envelope[];
      try {
        const r = n.stage.process(batch);
        out = Array.isArray(r) ? r : await r;
      } catch (e) {
        this.fail(n, e);
        out = batch;
      }
      c.out += out.length;
      if (out.length && n.next.length) await this.feed(n.next, out);
    }
  }

  private async output(n: OutputNode, batch: Envelope[]): Promise<void> {
    const c = this.outputCounters.get(n)!;
    if (n.deliveries.length === 0) { c.skipped += batch.length; return; }
    const items: SinkItem[] = [];
    if (!this.headerDone.has(n) && n.encoder.header) {
      this.headerDone.add(n);
      const h = n.encoder.header();
      const first = batch[0];
      // the header has an id of its own (engines de-duplicate by id: it must not be the first record's)
      if (h !== null && first?.id) items.push({ id: { ...first.id, boot: `${first.id.boot}.header` }, kind: first.kind, data: toBytes(h) });
    }
    const texts: (string | Uint8Array | null)[] = new Array(batch.length);
    let chars = 0;
    for (let i = 0; i < batch.length; i++) {
      const env = batch[i]!;
      let data: Uint8Array | string | null = null;
      try {
        data = n.encoder.encode(env);
      } catch (e) {
        c.encodeErrors++;
        if (c.encodeErrors === 1) this.opts.log(`${n.name}: ${n.encoder.name} cannot encode a ${env.kind} record: ${(e as Error).message}`);
      }
      texts[i] = data;
      if (typeof data === 'string') chars += data.length + 1;
    }
    // Encoded text goes into one buffer per batch, each record followed by a newline that is not
    // part of its data: line-oriented sinks can write a run of records without copying them.
    let arena = Buffer.allocUnsafe(chars + 256);
    let off = 0;
    let dataBytes = 0;
    for (let i = 0; i < batch.length; i++) {
      const data = texts[i];
      if (data === null || data === undefined) { c.skipped++; continue; }
      const env = batch[i]!;
      let bytes: Uint8Array;
      if (typeof data === 'string') {
        if (off + data.length * 3 + 1 > arena.length) {
          const need = Buffer.byteLength(data) + 1;
          if (off + need > arena.length) { arena = Buffer.allocUnsafe(Math.max(need, (chars - off) * 3 + 256)); off = 0; }
        }
        const len = arena.write(data, off, 'utf8');
        bytes = arena.subarray(off, off + len);
        arena[off + len] = 0x0a;
        off += len + 1;
      } else bytes = data;
      items.push({ id: env.id ?? NO_ID, kind: env.kind, data: bytes });
      dataBytes += bytes.length;
    }
    c.encoded += items.length;
    if (items.length === 0) return;
    let copied = n.encoder.release !== undefined;
    for (const d of n.deliveries) {
      const w = this.window(d);
      if (w) { copied = false; await w.add(d.push(items), dataBytes); }
      else await d.push(items);
      if (d.copiesOnPush !== true) copied = false;
    }
    // every delivery holds its own copy: the encoder may write the next batch over this one
    if (copied) n.encoder.release!();
  }

  private window(d: DeliveryPort): PushWindow | null {
    if (!this.opts.overlapPushes || !d.pushWindow || d.pushWindow.pushes <= 1) return null;
    let w = this.windows.get(d);
    if (!w) this.windows.set(d, (w = new PushWindow(d.pushWindow)));
    return w;
  }
}

const NO_ID: RecordId = { host: '', boot: '', seq: 0n };
