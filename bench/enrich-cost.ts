// Enrichment cost per record: the kflowd JSON encoding alone against the same with the process
// table, -v (packages), -c (checksums, cache warm) and containers (cgroup path + API cache),
// plus their kflowd keys. Synthetic decoded records (no root, no kernel): 50 processes, each
// exec'd once, then file records (1 in 10 an executable: /usr/bin/* with its real identity, so
// -c serves digests from the cache after the first pass) and process records; half of the
// processes sit in a docker-style cgroup. One core, batches of 256, best of 7 interleaved passes.
// Usage: node dist/bench/enrich-cost.js [records=100000]
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { ChecksumStage } from '../src/enrich/checksums.js';
import { kernelDev } from '../src/enrich/checksum-worker.js';
import { CgroupIndex, ContainerStage } from '../src/enrich/containers.js';
import { PackageIndex, PackageStage } from '../src/enrich/packages.js';
import { ProcessStage, ProcFs } from '../src/enrich/process-table.js';
import { UNKNOWN_HOST, type KflowdFacts } from '../src/format/context.js';
import { kflowdEncoder } from '../src/pipeline/encoders/kflowd.js';
import type { ProcEventRecord } from '../src/model/process-record.js';
import type { FileRecord, KernelRecord, ProcHeader } from '../src/model/records.js';
import type { Envelope, Stage } from '../src/pipeline/types.js';

const N = Number(process.argv[2] ?? 100_000);
const PROCS = 50;
const exes = readdirSync('/usr/bin').map((n) => `/usr/bin/${n}`).filter((p) => {
  try { const s = lstatSync(p); return s.isFile() && (s.mode & 0o111) !== 0 && s.size < 4 << 20; } catch { return false; } // no symlinks: records name the file
}).slice(0, 40);

const hdr = (pid: number, ts: bigint): ProcHeader => ({
  flags: 0, pid, tid: pid, ppid: 1, uid: 0, gid: 0, tsFirst: ts, ts, procStart: 1_000_000n * BigInt(pid), comm: 'x', exe: 'x', parentExe: 'init',
});
function execRecord(pid: number, exe: string): ProcEventRecord {
  return {
    type: 'proc', event: 'EXEC', hdr: hdr(pid, 1_000_000_000n), truncated: false, incomplete: false, syscall: 59, ret: 0n, parentStart: 0n, cgroupId: 0n,
    euid: 0, egid: 0, args: [], strs: [], exec: { exePath: exe, filename: exe, argv: [exe, '--flag', String(pid)], argc: 3, oldTid: pid },
  };
}
function fileRecord(i: number): FileRecord {
  const pid = 1000 + (i % PROCS);
  const exec = i % 10 === 0;
  const path = exec ? exes[Math.floor(i / 10) % exes.length]! : `/var/lib/app/data/file-${i}.dat`;
  const s = exec ? statSync(path, { bigint: true }) : undefined;
  const slash = path.lastIndexOf('/');
  return {
    type: 'file', hdr: hdr(pid, 2_000_000_000n + BigInt(i)), events: 3, event: [0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
    ino: s ? Number(s.ino) : 5000 + i, dev: s ? kernelDev(s.dev) : 254 << 20, mode: s ? Number(s.mode) : 0o100644, nlink: 1, iuid: 0, igid: 0, openFlags: 0,
    sizeFirst: 0, size: s ? Number(s.size) : 41, bytesRead: 0, bytesWritten: 41,
    atimeNs: s?.atimeNs ?? 1n, mtimeNs: s?.mtimeNs ?? 1n, ctimeNs: s?.ctimeNs ?? 1n, mtimeFirstNs: 1n,
    dir: path.slice(0, slash + 1), name: path.slice(slash + 1), origin: '',
  };
}

const records: KernelRecord[] = [];
for (let i = 0; i < N; i++) records.push(i % 20 === 0 ? { ...execRecord(1000 + (i % PROCS), exes[i % exes.length]!), event: 'CHDIR', exec: undefined, file: { path: '/tmp', fd: -100 } } as ProcEventRecord : fileRecord(i));

const ctx: KflowdFacts = { host: { ...UNKNOWN_HOST, hostName: 'h', hostIP: '127.0.0.1', kernel: '6', version: 'falconet' }, users: { user: 'root', group: 'root' } };
const kind = (r: KernelRecord) => (r.type === 'proc' ? 'process' : r.type === 'file' ? 'file' : 'socket') as Envelope['kind'];

/** each record's enrichment as the four stages left it (captured after the warm-up): the "keys
 * only" configuration encodes records that carry it, with no stage run */
const captured: Array<Record<string, unknown>> = [];

/** One pass; `encode`: through the json-min encoder, which writes the keys the stages attached
 * (file records on the byte writer, others through the generic writer); `prefilled`: the records
 * carry the captured enrichment (no stage). */
async function pass(stages: Stage[], encode = true, prefilled = false): Promise<number> {
  const enc = kflowdEncoder('json-min');
  const t = process.hrtime.bigint();
  let bytes = encode ? 0 : 1;
  for (let i = 0; i < records.length; i += 256) {
    let batch: Envelope[] = prefilled
      ? records.slice(i, i + 256).map((r, j) => ({ kind: kind(r), rec: r, enrich: captured[i + j]! }))
      : records.slice(i, i + 256).map((r) => ({ kind: kind(r), rec: r, enrich: { host: ctx.host, users: ctx.users } })); // as the kflowd enrich stage makes it
    for (const s of stages) batch = await s.process(batch);
    if (encode) for (const env of batch) bytes += enc.encode(env)?.length ?? 0;
  }
  if (bytes === 0) throw new Error('nothing encoded');
  return Number(process.hrtime.bigint() - t) / 1000 / records.length;
}

/** Best of 7 passes per configuration, the configurations interleaved (load on a shared
 * machine hits all of them alike). */
async function best(configs: Array<[Stage[], boolean?, boolean?]>): Promise<number[]> {
  const b = configs.map(() => Infinity);
  for (let k = 0; k < 7; k++) for (let c = 0; c < configs.length; c++) b[c] = Math.min(b[c]!, await pass(...configs[c]!));
  return b;
}

async function main(): Promise<void> {
  // the process table: 50 processes, half in a docker-style cgroup (as seeded from /proc)
  const procs = new ProcessStage({ procfs: new ProcFs('/nonexistent') });
  await procs.start();
  const docker = `0::/system.slice/docker-${'c'.repeat(64)}.scope\n`;
  const seedBatch: Envelope[] = [];
  for (let p = 0; p < PROCS; p++) seedBatch.push({ kind: 'process', rec: execRecord(1000 + p, exes[p % exes.length]!) });
  await procs.process(seedBatch);
  for (let p = 0; p < PROCS; p += 2) {
    const e = procs.table.get(1000 + p)!;
    (procs.table as unknown as { byPid: Map<number, unknown> }).byPid.set(e.pid, { ...e, cgroup: docker });
  }
  const packages = new PackageStage(new PackageIndex({ rpm: null }), { watch: false, readyWaitMs: 60000 });
  await packages.index.start();
  const checksums = new ChecksumStage({ waitMs: 60000 });
  const containers = new ContainerStage({ sockets: [], criSockets: [], cgroupIndex: new CgroupIndex('/nonexistent'), procFallback: false });

  console.log(`enrichment cost, ${N} synthetic records (file 95%, process 5%; 1 in 10 file records an executable), one core\n`);
  await pass([procs, packages, checksums, containers]); // warm-up: computes the digests once
  await checksums.settle();
  const allStages = [procs, packages, checksums, containers];
  // capture what the stages attach, for the keys-only configuration
  for (let i = 0; i < records.length; i += 256) {
    let batch: Envelope[] = records.slice(i, i + 256).map((r) => ({ kind: kind(r), rec: r, enrich: { host: ctx.host, users: ctx.users } }));
    for (const s of allStages) batch = await s.process(batch);
    for (const env of batch) captured.push(env.enrich!);
  }
  const [base, procOnly, all, none, stagesProc, stagesAll, keysOnly] = await best([
    [[]], [[procs]], [allStages], [[], false], [[procs], false], [allStages, false], [[], true, true],
  ]) as [number, number, number, number, number, number, number];
  console.log('| configuration | µs/record |');
  console.log('|---|---|');
  console.log(`| kflowd JSON only | ${base.toFixed(2)} |`);
  console.log(`| + process table | ${procOnly.toFixed(2)} |`);
  console.log(`| + process table, -v, -c, containers (+ their keys) | ${all.toFixed(2)} |`);
  console.log(`| stages only, no encoding: none / process table / all four | ${none.toFixed(2)} / ${stagesProc.toFixed(2)} / ${stagesAll.toFixed(2)} |`);
  console.log(`| the four stages' keys only: records that carry the enrichment the stages attached (captured before), encoded, no stage run | ${keysOnly.toFixed(2)} |`);
  console.log(`\nadded by enrichment: ${(all - base).toFixed(2)} µs/record (${((all / base - 1) * 100).toFixed(0)}% over kflowd JSON only); of it the keys' encoding ${(keysOnly - base).toFixed(2)} µs, the stages ${(all - keysOnly).toFixed(2)} µs`);
  console.log(`checksums: ${checksums.stats.computed} computed, ${checksums.stats.hits} served from cache, ${checksums.stats.pendingOut} left pending`);
  await checksums.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
