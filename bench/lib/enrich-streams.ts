// The two record streams the enrichment benches replay (enrich-throughput, micro/enrich-start):
//   unknown: pipeline-throughput's own stream: file records of 50 pids no /proc seed knows, none
//     of them executable (the process table, -v and containers find nothing to add);
//   known: half the records come from the bench's own process and its parent (known from the
//     /proc seed: ProcVersion looked up for node's and the shell's exe) and 1 in 10 file records
//     is a real executable of /usr/bin with its real identity (FileVersion looked up, digests
//     computed once in the worker, then cached).
import { lstatSync, readdirSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { kernelDev } from '../../src/enrich/checksum-worker.js';
import { end, fileRecord, hello, records } from '../../test/unit/stream-builder.js';

// regular files, not symlinks: a kernel record names the file itself (the worker opens with
// O_NOFOLLOW, so a link's path would give an error, not a digest)
let exes: Array<{ p: string; s: BigIntStats }> | undefined;
function executables(): Array<{ p: string; s: BigIntStats }> {
  exes ??= readdirSync('/usr/bin').map((n) => `/usr/bin/${n}`).filter((p) => {
    try { const s = lstatSync(p); return s.isFile() && (s.mode & 0o111) !== 0 && s.size < 1 << 20; } catch { return false; }
  }).slice(0, 20).map((p) => ({ p, s: statSync(p, { bigint: true }) }));
  return exes;
}

/** Writes `n` records of the stream to `file` (sensor frames of 256 records). */
export function writeEnrichStream(file: string, n: number, known: boolean): string {
  const frames: Buffer[] = [hello()];
  const batch: Buffer[] = [];
  const xs = known ? executables() : [];
  for (let i = 0; i < n; i++) {
    const ts = 2_000_000_000n + BigInt(i) * 1000n;
    const pid = known && i % 2 === 0 ? (i % 4 === 0 ? process.pid : process.ppid) : 1000 + (i % 50);
    const x = known && i % 10 === 1 ? xs[(i / 10 | 0) % xs.length] : undefined;
    batch.push(x
      ? fileRecord({ pid, ino: Number(x.s.ino), dev: kernelDev(x.s.dev), mode: Number(x.s.mode), size: Number(x.s.size), sizeFirst: Number(x.s.size),
        mtime: x.s.mtimeNs, ctime: x.s.ctimeNs, atime: x.s.atimeNs, path: x.p, ts })
      : fileRecord({ pid, ino: 5000 + i, path: `/var/lib/app/data/file-${i}.dat`, ts }));
    if (batch.length === 256) frames.push(records(batch.splice(0)));
  }
  if (batch.length) frames.push(records(batch));
  frames.push(end());
  writeFileSync(file, Buffer.concat(frames));
  return file;
}
