// file: one line per record appended to a file, rotated by size and/or age, with retention.
// Rotation renames path → path.1 → path.2 …; files beyond `keep` are deleted. A record is
// delivered once write(2) has returned (the page cache survives a crash of the agent).
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { SendResult, Sink, SinkItem } from '../pipeline/types.js';
import { joinLines } from './line-data.js';

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
    const buf = joinLines(batch);
    if (!this.fh) await this.open();
    const rb = this.o.rotateBytes ?? 0;
    const rt = this.o.rotateMs ?? 0;
    if (this.size > 0 && ((rb > 0 && this.size + buf.length > rb) || (rt > 0 && Date.now() - this.openedAt >= rt))) await this.rotate();
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh!.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.size += buf.length;
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
