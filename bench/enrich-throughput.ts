// The pipeline-throughput figure (replay → enrich → json-min → file sink, records/s per core of
// CPU time, bench/pipeline-throughput.ts's stream of synthetic file records) without and with
// the enrichment of issue #15 (--process-table, -v, -c, --containers), in alternating runs,
// best of REPS each. Goal: with enrichment the figure falls by at most 10 %. The enrichment
// stages have a one-time start (a /proc seed, the dpkg index, a cgroup walk) that a short replay
// pays in full: each configuration also runs a 256-record stream, and the steady figure is
// records per CPU second after that start (N / (cpu(N) - cpu(256))).
// A second stream has what the first lacks for -v and -c: half of its records come from this
// bench's own process and its parent (known from the /proc seed: ProcVersion looked up for
// node's and the shell's exe) and 1 in 10 file records is a real executable of /usr/bin with its
// real identity (FileVersion looked up, digests computed once in the worker, then cached).
// Usage: node dist/bench/enrich-throughput.js [records=200000] [reps=3]
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runPipeline, type PipelineOptions } from '../src/pipeline/agent.js';
import { replaySource } from '../src/sensor/source.js';
import { kernelDev } from '../src/enrich/checksum-worker.js';
import { end, fileRecord, hello, records } from '../test/unit/stream-builder.js';

const N = Number(process.argv[2] ?? 200_000);
const REPS = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(path.join(tmpdir(), 'fn-enrich-tput-'));
const exes = readdirSync('/usr/bin').map((n) => `/usr/bin/${n}`).filter((p) => {
  try { const s = statSync(p); return s.isFile() && (s.mode & 0o111) !== 0 && s.size < 1 << 20; } catch { return false; }
}).slice(0, 20).map((p) => ({ p, s: statSync(p, { bigint: true }) }));

function stream(n: number, name: string, known = false): string {
  const f = path.join(dir, name);
  const frames: Buffer[] = [hello()];
  const batch: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const ts = 2_000_000_000n + BigInt(i) * 1000n;
    const pid = known && i % 2 === 0 ? (i % 4 === 0 ? process.pid : process.ppid) : 1000 + (i % 50);
    const x = known && i % 10 === 1 ? exes[(i / 10 | 0) % exes.length] : undefined;
    batch.push(x
      ? fileRecord({ pid, ino: Number(x.s.ino), dev: kernelDev(x.s.dev), mode: Number(x.s.mode), size: Number(x.s.size), sizeFirst: Number(x.s.size),
        mtime: x.s.mtimeNs, ctime: x.s.ctimeNs, atime: x.s.atimeNs, path: x.p, ts })
      : fileRecord({ pid, ino: 5000 + i, path: `/var/lib/app/data/file-${i}.dat`, ts }));
    if (batch.length === 256) frames.push(records(batch.splice(0)));
  }
  if (batch.length) frames.push(records(batch));
  frames.push(end());
  writeFileSync(f, Buffer.concat(frames));
  return f;
}
const file = stream(N, 'stream.bin');
const small = stream(256, 'small.bin');
const knownFile = stream(N, 'known.bin', true);
const knownSmall = stream(256, 'known-small.bin', true);

const nullOut = () => new Writable({ write(_c, _e, cb) { cb(); } });

/** CPU seconds of one replay of `src`. */
async function cpu(opts: Partial<PipelineOptions>, src: string): Promise<number> {
  const out = path.join(dir, 'out.jsonl');
  const c = process.cpuUsage();
  await runPipeline(replaySource(src), {
    output: 'json-min', hostFromStream: true, log: () => {}, sinks: [`file://${out}?policy=block`], ...opts,
  }, nullOut());
  const u = process.cpuUsage(c);
  rmSync(out, { force: true });
  return (u.user + u.system) / 1e6;
}

/** [records/s per core, steady records/s per core (start excluded)] */
async function rate(opts: Partial<PipelineOptions>, known = false): Promise<[number, number]> {
  const start = await cpu(opts, known ? knownSmall : small);
  const all = await cpu(opts, known ? knownFile : file);
  return [N / all, N / Math.max(1e-6, all - start)];
}

async function main(): Promise<void> {
  const ENRICH = { processTable: true, versions: true, checksums: true, containers: true };
  await rate({}); // warm-up
  await rate({ enrichment: ENRICH }, true); // and the digests of the second stream's executables
  const runs = { plain: [] as [number, number][], enriched: [] as [number, number][], knownPlain: [] as [number, number][], knownEnriched: [] as [number, number][] };
  for (let i = 0; i < REPS; i++) {
    runs.plain.push(await rate({}));
    runs.enriched.push(await rate({ enrichment: ENRICH }));
    runs.knownPlain.push(await rate({}, true));
    runs.knownEnriched.push(await rate({ enrichment: ENRICH }, true));
  }
  const best = (xs: [number, number][], k: 0 | 1) => Math.max(...xs.map((x) => x[k]));
  console.log(`pipeline throughput (replay → enrich → json-min → file sink), ${N} synthetic file records, best of ${REPS}, records/s per core`);
  console.log('');
  console.log('| stream | pipeline | records/s per core (start included) | steady records/s per core (start excluded) |');
  console.log('|---|---|---|---|');
  for (const [what, plain, enriched] of [['unknown pids', runs.plain, runs.enriched], ['known processes + executables', runs.knownPlain, runs.knownEnriched]] as const) {
    console.log(`| ${what} | host enrichment only (the default) | ${Math.round(best(plain, 0))} | ${Math.round(best(plain, 1))} |`);
    console.log(`| ${what} | + --process-table -v -c --containers | ${Math.round(best(enriched, 0))} | ${Math.round(best(enriched, 1))} |`);
  }
  for (const [what, plain, enriched] of [['unknown pids', runs.plain, runs.enriched], ['known processes + executables', runs.knownPlain, runs.knownEnriched]] as const) {
    for (const [k, fig] of [[1, 'steady'], [0, 'start included']] as const) {
      const fall = (1 - best(enriched, k) / best(plain, k)) * 100;
      console.log(`${what}: with enrichment the ${fig} figure falls by ${fall.toFixed(1)} % (goal ≤ 10 %: ${fall <= 10 ? 'met' : 'NOT met'})`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });
