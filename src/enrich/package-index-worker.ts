// Worker thread that builds the package index (src/enrich/package-db.ts) and hands it to the
// main thread packed into transferable buffers (src/enrich/packed-path-index.ts), then ends.
// The whole build — list files, lstat of every listed directory, the Map, the packing — runs
// here, so the main thread (the record path) spends no CPU on it. With a cache file it also
// writes the index there (src/enrich/package-index-cache.ts), unless the database changed while
// it was being read.
import { parentPort, workerData } from 'node:worker_threads';
import { readPackageDb, type PackageDbOptions } from './package-db.js';
import { packageDbSources, writePackageIndexCache } from './package-index-cache.js';
import { PackedPathIndexBuilder, type PackedPathIndexData } from './packed-path-index.js';
import { threadCpuMs } from './thread-cpu.js';

export interface PackageIndexJob {
  db: PackageDbOptions;
  /** where to keep the built index; null: nowhere */
  cacheFile: string | null;
}

export type PackageIndexReply =
  | {
    ok: true; data: PackedPathIndexData; packages: number; paths: number; rpmNote: string; warnings: string[]; cpuMs: number | undefined;
    /** what happened to the cache file ('' when there is none) */
    cacheNote: string;
  }
  | { ok: false; error: string };

if (parentPort) {
  const port = parentPort;
  try {
    const job = workerData as PackageIndexJob;
    // identities before the read: a change during the build leaves them different afterwards,
    // and such a build is not cached
    const before = job.cacheFile !== null ? packageDbSources(job.db) : [];
    const table = new PackedPathIndexBuilder();
    const db = readPackageDb(job.db, table);
    const { data, transfer } = table.finish();
    let cacheNote = '';
    if (job.cacheFile !== null) {
      const after = packageDbSources(job.db);
      if (JSON.stringify(after) !== JSON.stringify(before)) cacheNote = 'not written: the package database changed during the build';
      else {
        try {
          writePackageIndexCache(job.cacheFile, { options: job.db, sources: before, links: db.links, packages: db.packages, rpmNote: db.rpmNote, data });
          cacheNote = 'written';
        } catch (e) {
          cacheNote = `not written: ${(e as Error).message}`;
        }
      }
    }
    // the thread's CPU since it was created: its start (isolate, modules) included
    const cpuMs = threadCpuMs();
    const reply: PackageIndexReply = {
      ok: true, data, packages: db.packages, paths: table.size, rpmNote: db.rpmNote, warnings: db.warnings,
      cpuMs, cacheNote,
    };
    port.postMessage(reply, transfer);
  } catch (e) {
    port.postMessage({ ok: false, error: (e as Error).message } satisfies PackageIndexReply);
  }
}
