// Worker thread that builds the package index (src/enrich/package-db.ts) and hands it to the
// main thread packed into transferable buffers (src/enrich/packed-path-index.ts), then ends.
// The whole build — list files, lstat of every listed directory, the Map, the packing — runs
// here, so the main thread (the record path) spends no CPU on it.
import { parentPort, workerData } from 'node:worker_threads';
import { readPackageDb, type PackageDbOptions } from './package-db.js';
import { PackedPathIndexBuilder, type PackedPathIndexData } from './packed-path-index.js';
import { threadCpuMs } from './thread-cpu.js';

export type PackageIndexReply =
  | { ok: true; data: PackedPathIndexData; packages: number; paths: number; rpmNote: string; warnings: string[]; cpuMs: number | undefined }
  | { ok: false; error: string };

if (parentPort) {
  const port = parentPort;
  try {
    const table = new PackedPathIndexBuilder();
    const db = readPackageDb(workerData as PackageDbOptions, table);
    const { data, transfer } = table.finish();
    // the thread's CPU since it was created: its start (isolate, modules) included
    const cpuMs = threadCpuMs();
    const reply: PackageIndexReply = {
      ok: true, data, packages: db.packages, paths: table.size, rpmNote: db.rpmNote, warnings: db.warnings,
      cpuMs,
    };
    port.postMessage(reply, transfer);
  } catch (e) {
    port.postMessage({ ok: false, error: (e as Error).message } satisfies PackageIndexReply);
  }
}
