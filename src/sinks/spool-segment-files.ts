// The spool's segment files as files: a new segment is created with its header and fsync'ed
// together with its directory (a crash cannot leave a segment that recovery would not find);
// a deleted one is unlinked off the event loop; temporary files a crash left behind go at start.
import { closeSync, fsyncSync, openSync, readdirSync, unlink, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordId } from '../pipeline/types.js';
import { encodeSegHeader, segName } from './spool-format.js';
import type { Segment } from './spool-recovery.js';

/**
 * Creates segment `seg` of `dir`, its header naming `prev` (the last record before it), durably;
 * returns it open for writing, and its description (nothing written after the header yet).
 */
export async function createSegmentFile(dir: string, seg: number, prev: RecordId | undefined): Promise<{ fh: FileHandle; segment: Segment }> {
  const path = join(dir, segName(seg));
  const header = encodeSegHeader(seg, prev);
  const fh = await open(path, 'w+');
  await fh.write(header, 0, header.length, 0);
  await fh.sync();
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return { fh, segment: { seg, headerLen: header.length, size: header.length, durable: header.length } };
}

/** Opens an existing segment of `dir` to append to it (after recovery cut its torn tail). */
export function openSegmentFile(dir: string, seg: number): Promise<FileHandle> {
  return open(join(dir, segName(seg)), 'r+');
}

/** Removes the temporary files of `dir` (a write-then-rename a crash cut short). */
export function removeTempFiles(dir: string): void {
  for (const f of readdirSync(dir)) if (f.endsWith('.tmp')) unlinkSync(join(dir, f));
}

/** Deletes segment files without blocking, and says when none is being deleted (close waits). */
export class SegmentDeleter {
  private unlinking = 0;
  private unlinked: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Unlinks segment `seg`. Unlinking a full segment takes tens of ms on ext4: off the event loop.
   * Should the process die first, recovery finds a segment before every cursor, and the next
   * release deletes it.
   */
  delete(seg: number): void {
    const path = join(this.dir, segName(seg));
    this.unlinking++;
    unlink(path, (e) => {
      this.unlinking--;
      if (e && e.code !== 'ENOENT') this.log(`spool ${this.dir}: cannot delete ${segName(seg)}: ${e.message}`);
      if (this.unlinking === 0) for (const r of this.unlinked.splice(0)) r();
    });
  }

  /** Resolves once no deletion is under way; null when none is. */
  idle(): Promise<void> | null {
    return this.unlinking > 0 ? new Promise<void>((r) => this.unlinked.push(r)) : null;
  }
}
