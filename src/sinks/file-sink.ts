// file: one line per record appended to a file, rotated by size and/or age, with retention.
// Rotation renames path → path.1 → path.2 …; files beyond `keep` are deleted. A record is
// delivered once write(2) has returned (the page cache survives a crash of the agent).
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { lineChunks } from './line-data.js';

export interface FileSinkOptions {
  path: string;
  /** rotate when the file would grow past this many bytes (0 = never) */
  rotateBytes?: number;
  /** rotate when the file is older than this (0 = never) */
  rotateMs?: number;
  /** rotated files kept (default 5) */
  keep?: number;
}

export class FileSink implements Sink {
  readonly name: string;
  /** the data is written (write(2) returned) before send resolves; nothing of it is kept */
  readonly releasesData = true;
  private fh: FileHandle | null = null;
  private size = 0;
  private openedAt = 0;

  constructor(private readonly o: FileSinkOptions) {
    this.name = `file:${o.path}`;
  }

  async open(): Promise<void> {
    if (this.fh) return;
    this.fh = await open(this.o.path, 'a');
    this.size = (await this.fh.stat()).size;
    this.openedAt = Date.now();
  }

  async send(batch: readonly SinkItem[]): Promise<SendResult> {
    // runs of records laid out as lines (the queue keeps them so) go out as they lie, gathered
    const chunks = lineChunks(batch);
    let total = 0;
    for (const c of chunks) total += c.length;
    if (!this.fh) await this.open();
    const rb = this.o.rotateBytes ?? 0;
    const rt = this.o.rotateMs ?? 0;
    if (this.size > 0 && ((rb > 0 && this.size + total > rb) || (rt > 0 && Date.now() - this.openedAt >= rt))) await this.rotate();
    let off = chunks.length === 1 ? 0 : (await this.fh!.writev(chunks)).bytesWritten;
    if (off < total) {
      // a short gathered write (or a single buffer): the rest one write at a time
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      while (off < total) {
        const { bytesWritten } = await this.fh!.write(buf, off, total - off);
        off += bytesWritten;
      }
    }
    this.size += total;
    return {};
  }

  private async rotate(): Promise<void> {
    await this.fh!.close();
    this.fh = null;
    const keep = this.o.keep ?? 5;
    const p = this.o.path;
    await rm(`${p}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      if (await exists(`${p}.${i}`)) await rename(`${p}.${i}`, `${p}.${i + 1}`);
    }
    if (keep > 0) await rename(p, `${p}.1`);
    else await rm(p, { force: true });
    await this.open();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
