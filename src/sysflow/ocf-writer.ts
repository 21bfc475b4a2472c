// Avro object container writer for SysFlow v5 (or a prototype layout, option `layout`): magic,
// metadata {avro.schema, avro.codec}, 16-byte sync marker, then blocks of about `blockSize`
// uncompressed bytes (the collector uses 80,000), deflate by default. Output goes to a byte sink
// (a file descriptor or a callback), so the same writer serves files and tests. Synchronous by
// design: the trace sink must order rotation, header and REUP re-emission exactly, and block
// writes are few and large.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { ByteSink } from './avro-encode.js';
import { layoutCodec } from './schema.js';
import type { LayoutCodec, SysFlowLayout } from './schema.js';
import type { SfObject } from './types.js';

export interface OcfWriterOptions {
  codec?: 'deflate' | 'null';
  /** Flush a block once this many uncompressed bytes are buffered. Default 80,000. */
  blockSize?: number;
  /** zlib level for deflate (default 6, zlib's default). */
  level?: number;
  /** Fixed sync marker (tests); random otherwise. */
  sync?: Buffer;
  /** Writer schema: v5 (default) or a prototype layout (P4, P7, P8; see schema-prototypes.ts). */
  layout?: SysFlowLayout;
}

export type ByteOutput = (chunk: Buffer) => void;

export class SysFlowOcfWriter {
  private readonly block = new ByteSink(96 * 1024);
  private blockCount = 0;
  private readonly sync: Buffer;
  private readonly codec: 'deflate' | 'null';
  private readonly blockSize: number;
  private readonly level: number;
  private readonly layout: LayoutCodec;
  private closed = false;
  /** Records written (buffered or flushed). */
  records = 0;
  /** Bytes handed to the output so far. */
  bytes = 0;

  constructor(
    private readonly out: ByteOutput,
    opts: OcfWriterOptions = {},
  ) {
    this.codec = opts.codec ?? 'deflate';
    this.blockSize = opts.blockSize ?? 80_000;
    this.level = opts.level ?? 6;
    this.sync = opts.sync ?? randomBytes(16);
    if (this.sync.length !== 16) throw new Error('sync marker must be 16 bytes');
    this.layout = layoutCodec(opts.layout ?? 'v5');
    const h = new ByteSink(8192);
    h.raw(Buffer.from([0x4f, 0x62, 0x6a, 0x01]));
    h.varuint(2 * 2); // one map block with 2 entries
    h.string('avro.schema');
    h.bytes(Buffer.from(this.layout.schemaJson, 'utf8'));
    h.string('avro.codec');
    h.bytes(Buffer.from(this.codec, 'utf8'));
    h.varuint(0);
    h.raw(this.sync);
    this.emit(h.take());
  }

  private emit(b: Buffer): void {
    this.out(b);
    this.bytes += b.length;
  }

  /** Append one record; a full block is compressed and written. Invalid objects throw. */
  write(obj: SfObject): void {
    if (this.closed) throw new Error('SysFlow writer is closed');
    this.layout.encodeInto(this.block, obj);
    this.blockCount++;
    this.records++;
    if (this.block.len >= this.blockSize) this.flush();
  }

  /**
   * Append one datum already encoded in the writer's layout (bytes a reader decoded, passed on
   * unchanged); the caller vouches for it. A full block is compressed and written.
   */
  writeDatum(datum: Buffer): void {
    if (this.closed) throw new Error('SysFlow writer is closed');
    this.block.raw(datum);
    this.blockCount++;
    this.records++;
    if (this.block.len >= this.blockSize) this.flush();
  }

  /** Write the buffered records as one block (no-op when empty). */
  flush(): void {
    if (this.blockCount === 0) return;
    const data = this.codec === 'deflate' ? deflateRawSync(this.block.view(), { level: this.level }) : this.block.take();
    const h = new ByteSink(32);
    h.long(BigInt(this.blockCount));
    h.long(BigInt(data.length));
    this.emit(Buffer.concat([h.view(), data, this.sync]));
    this.block.reset();
    this.blockCount = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }
}

/** A writer bound to a new file (created exclusively: never clobbers an existing trace). */
export class SysFlowFileWriter extends SysFlowOcfWriter {
  private readonly fd: number;
  private fdClosed = false;
  constructor(
    readonly path: string,
    opts: OcfWriterOptions & { overwrite?: boolean } = {},
  ) {
    const fd = openSync(path, opts.overwrite ? 'w' : 'wx', 0o640);
    super((chunk) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off);
    }, opts);
    this.fd = fd;
  }
  override close(): void {
    if (this.fdClosed) return;
    try {
      super.close();
      fsyncSync(this.fd);
    } finally {
      this.fdClosed = true;
      closeSync(this.fd);
    }
  }
}

/** Convenience: write `objects` to `path` as one v5 trace. */
export function writeSysFlowFile(path: string, objects: Iterable<SfObject>, opts: OcfWriterOptions & { overwrite?: boolean } = {}): number {
  const w = new SysFlowFileWriter(path, opts);
  try {
    for (const o of objects) w.write(o);
  } finally {
    w.close();
  }
  return w.records;
}

/** Encode `objects` as an in-memory v5 trace. */
export function encodeSysFlowTrace(objects: Iterable<SfObject>, opts: OcfWriterOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const w = new SysFlowOcfWriter((b) => parts.push(b), opts);
  for (const o of objects) w.write(o);
  w.close();
  return Buffer.concat(parts);
}
