// One S3 window as a self-contained SysFlow v5 trace (`object=sf`): an Avro object container
// whose records are the window's `sysflow-msg` items. Each item carries its event or flow with
// every entity the event references (src/fleet/sysflow-message.ts), so the object never needs
// state from outside itself: a file starts with a header, and an entity is written before the
// first record that references it in this object, and again only when it changed (the reader
// joins a record with the most recent entity of its key, so what a record saw on the sender is
// exactly what it sees in the object). A header that differs from the object's current one is
// written in place and resets what has been written (readers reset their tables at a header).
//
// Datums go into the object as the sender encoded them (they decoded as SysFlow v5 here).
// Each batch becomes whole Avro blocks, so the file is a valid trace at every batch boundary.
// Nothing is remembered for a batch until commit(): a batch whose bytes could not be stored is
// retried by the delivery and must write its entities again.
import { inflateRawSync } from 'node:zlib';
import { Cursor, readFramingLong } from '../sysflow/avro-decode.js';
import { oidKey } from '../sysflow/oid.js';
import { SysFlowOcfWriter } from '../sysflow/ocf-writer.js';
import { openSysFlow, planForSchema } from '../sysflow/reader.js';
import { encodeSfObject, SYSFLOW_V5_SCHEMA_JSON } from '../sysflow/schema.js';
import type { SFHeader, SfObject } from '../sysflow/types.js';
import type { SinkItem } from '../pipeline/types.js';
import { recordIdString } from '../pipeline/types.js';

/** One datum of a message: the object and its bytes (compared to tell a changed entity). */
interface Datum { readonly obj: SfObject; readonly bytes: Buffer }

const EVENT_FLOW = new Set(['PE', 'NF', 'FF', 'FE', 'NE', 'PF', 'KE']);

/** A `sysflow-msg` item → its datums, entities first and exactly one event or flow last. Throws naming the object. */
export function splitSysFlowMessage(data: Uint8Array): Datum[] {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const plan = planForSchema(SYSFLOW_V5_SCHEMA_JSON);
  const c = new Cursor(buf);
  const out: Datum[] = [];
  while (c.pos < buf.length) {
    const last = out[out.length - 1];
    if (last && EVENT_FLOW.has(last.obj.type)) throw new Error(`${buf.length - c.pos} bytes after its ${last.obj.type} record (object #${out.length + 1})`);
    const start = c.pos;
    let obj: SfObject;
    try {
      obj = plan.decodeRecord(c);
    } catch (e) {
      throw new Error(`object #${out.length + 1} at byte ${start}: ${(e as Error).message}`);
    }
    if (c.pos > buf.length) throw new Error(`object #${out.length + 1} runs past the end`);
    out.push({ obj, bytes: buf.subarray(start, c.pos) });
  }
  const last = out[out.length - 1];
  if (!last) throw new Error('empty message');
  if (!EVENT_FLOW.has(last.obj.type)) throw new Error(`${out.length} entities and no event or flow (is the exporter's format sysflow-msg?)`);
  return out;
}

/** Key under which a reader's entity table holds this entity (null: not an entity). */
function entityKey(o: SfObject): string | null {
  switch (o.type) {
    case 'P': return `P:${oidKey(o.rec.oid)}`;
    case 'F': return `F:${o.rec.oid}`;
    case 'C': return `C:${o.rec.id}`;
    case 'POD': return `POD:${o.rec.id}`;
    default: return null;
  }
}

export interface SysFlowBatch {
  /** Avro blocks for the batch (after the container's preamble if this is the object's start) */
  readonly bytes: Buffer;
  /** records written (events and flows) */
  readonly records: number;
  readonly failed: { index: number; retry: boolean; reason: string }[];
  /** the bytes are stored: remember what this batch wrote */
  commit(): void;
}

export class SysFlowObjectBuilder {
  private readonly chunks: Buffer[] = [];
  private readonly writer: SysFlowOcfWriter;
  private preamble: Buffer | null;
  /** entity key → the datum last written into this object under that key */
  private readonly written = new Map<string, Buffer>();
  private header: Buffer | null = null;
  records = 0;

  /** `defaultHeader`: written first when the first item brings no header of its own. */
  constructor(private readonly defaultHeader: SFHeader, opts: { blockSize?: number; sync?: Buffer } = {}) {
    this.writer = new SysFlowOcfWriter((b) => this.chunks.push(b), opts);
    this.preamble = this.take();
  }

  private take(): Buffer {
    const b = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    return b;
  }

  encode(batch: readonly SinkItem[]): SysFlowBatch {
    const pending = new Map<string, Buffer>();
    let reset = false;
    let header = this.header;
    const seen = (k: string): Buffer | undefined => pending.get(k) ?? (reset ? undefined : this.written.get(k));
    const failed: SysFlowBatch['failed'] = [];
    let records = 0;
    for (let i = 0; i < batch.length; i++) {
      let datums: Datum[];
      try {
        datums = splitSysFlowMessage(batch[i]!.data);
      } catch (e) {
        failed.push({ index: i, retry: false, reason: `not a sysflow-msg item (record ${recordIdString(batch[i]!.id)}): ${(e as Error).message}` });
        continue;
      }
      const own = datums[0]!.obj.type === 'H' ? datums[0]! : null;
      if (own ? !header?.equals(own.bytes) : header === null) {
        header = own ? own.bytes : encodeSfObject({ type: 'H', rec: this.defaultHeader });
        this.writer.writeDatum(header);
        pending.clear();
        reset = true;
      }
      for (const d of datums) {
        if (d.obj.type === 'H') continue;
        const k = entityKey(d.obj);
        if (k !== null) {
          if (seen(k)?.equals(d.bytes)) continue;
          pending.set(k, Buffer.from(d.bytes)); // a copy: the item's buffer may be a large spool read
        } else records++;
        this.writer.writeDatum(d.bytes);
      }
    }
    this.writer.flush();
    const pre = this.preamble;
    const body = this.take();
    const bytes = body.length === 0 ? body : pre ? Buffer.concat([pre, body]) : body;
    return {
      bytes, records, failed,
      commit: () => {
        if (bytes.length === 0) return;
        this.preamble = null;
        if (reset) this.written.clear();
        for (const [k, v] of pending) this.written.set(k, v);
        this.header = header;
        this.records += records;
      },
    };
  }
}

/**
 * The preamble and whole blocks of a `.sf` window as [start, end) runs of adjacent bytes (the
 * first run starts with the preamble). A block that is not whole (wholeBlockEnd) is stepped over
 * to where its size says the next block starts, else past the next sync marker, so damage in the
 * middle (a bad sector, not a crash: a crash tears only the end) costs only the blocks it hit.
 * Empty when the preamble does not parse or no block is whole. Never throws.
 */
export function wholeSysFlowRuns(file: Buffer): [number, number][] {
  let r;
  try {
    r = openSysFlow(file, 'window');
  } catch {
    return [];
  }
  const { dataOffset, sync, codec } = r.info;
  r.close();
  const blockEnd = (at: number): number => wholeBlockEnd(file, at, sync, codec === 'deflate');
  const runs: [number, number][] = [];
  const keep = (a: number, e: number): void => {
    const last = runs[runs.length - 1];
    if (last && last[1] === a) last[1] = e;
    else runs.push([a, e]);
  };
  let p = dataOffset;
  while (p < file.length) {
    const e = blockEnd(p);
    if (e > 0) {
      if (!runs.length) keep(0, dataOffset);
      keep(p, e);
      p = e;
      continue;
    }
    const said = framing(file, p)?.end ?? -1;
    if (said > 0 && blockEnd(said) > 0) {
      p = said;
      continue;
    }
    const next = file.indexOf(sync, p + 1);
    if (next < 0) break;
    p = next + 16;
  }
  return runs;
}

/** Where the block at `p` has its data and its end (sync marker included) as its framing says;
 * null when the framing does not parse or runs past the file. The marker itself is not checked. */
function framing(file: Buffer, p: number): { data: number; end: number } | null {
  const c = new Cursor(file, p);
  try {
    const count = readFramingLong(c, 'block count');
    const size = readFramingLong(c, 'block size');
    if (count <= 0 || size < 0 || c.pos + size + 16 > file.length) return null;
    return { data: c.pos, end: c.pos + size + 16 };
  } catch {
    return null;
  }
}

/** End of the whole block at `p` (its sync marker included), -1 when it is not whole: framing,
 * marker and, for the deflate codec, data that inflates (Avro blocks carry no checksum, so damage
 * to null-codec data, or deflate data that still inflates, goes unseen). */
function wholeBlockEnd(file: Buffer, p: number, sync: Buffer, deflate: boolean): number {
  const f = framing(file, p);
  if (!f || !file.subarray(f.end - 16, f.end).equals(sync)) return -1;
  if (deflate) {
    try {
      inflateRawSync(file.subarray(f.data, f.end - 16));
    } catch {
      return -1;
    }
  }
  return f.end;
}
