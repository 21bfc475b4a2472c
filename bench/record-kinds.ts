// Userspace cost per record, by kind (file, process, socket): replay → enrich → json-min → file
// sink, CPU µs per record (all threads: V8's compiler and GC threads included). Two figures:
//   cold: the first N records of a fresh process, as a freshly started agent meets them (V8
//     interprets the decoder and encoders, then compiles each as it gets hot; a storm bench
//     that starts its agent per round sees this figure);
//   warm: N records of the same kind once that process has replayed `passes` such streams (a
//     long-running agent; the least of the last three passes). Each pass has events of its own
//     (children's pids, inodes, paths, ports) and keeps the long-lived processes (the storm's
//     parent, the flood's writers, the client and server): a replay of the very same records
//     would find every per-process cache filled, which a storm's new children never do.
// Cold runs each in a child process of their own (this file with `cold`), which times only its
// replay, not its start. Streams are synthetic and shaped like the storms' records: a process
// storm (FORK in the parent, EXEC, MMAP of libc and EXIT in the child), a connection storm (TCP
// CLIENT and SERVER records) and pipeline-throughput's file records.
// Usage: node dist/bench/record-kinds.js [records=8000] [rounds=5] [passes=8]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runPipeline } from '../src/pipeline/agent.js';
import { replaySource } from '../src/sensor/source.js';
import { KINDS, writeKindStream as stream } from './lib/kind-streams.js';
import { median } from './lib/proc.js';

/** CPU ms (all threads) of one replay of `file` into a json-min file sink; throws unless every
 * record reached the file. */
async function replayCpuMs(file: string, out: string, n: number): Promise<number> {
  const c = process.cpuUsage();
  await runPipeline(replaySource(file), { output: 'json-min', hostFromStream: true, log: () => {}, sinks: [`file://${out}?policy=block`] },
    new Writable({ write(_c, _e, cb) { cb(); } }));
  const u = process.cpuUsage(c);
  const lines = readFileSync(out, 'latin1').split('\n').length - 1;
  rmSync(out, { force: true });
  if (lines !== n) throw new Error(`${file}: ${lines} lines written for ${n} records`);
  return (u.user + u.system) / 1e3;
}


async function main(): Promise<void> {
  if (process.argv[2] === 'cold') {
    // a child: one replay in a fresh process, its CPU on stdout
    console.log(String(await replayCpuMs(process.argv[3]!, process.argv[4]!, Number(process.argv[5]))));
    return;
  }
  const n = Number(process.argv[2] ?? 8000), rounds = Number(process.argv[3] ?? 5), passes = Number(process.argv[4] ?? 8);
  if (!(n > 0 && rounds > 0 && passes >= 3)) throw new Error('usage: record-kinds.js [records>0] [rounds>0] [passes>=3]');
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-kinds-'));
  const self = fileURLToPath(import.meta.url);
  console.log(`userspace CPU per record by kind: replay → json-min → file sink, ${n} synthetic records per kind, in batches of 64 (a storm's sensor batches)`);
  console.log(`cold: median of ${rounds} fresh processes (the replay only, not the process's start); warm: least of the last 3 of ${passes} passes in one process, each with new children, inodes, paths and ports; both less a replay without records\n`);
  console.log('| records | cold µs/record | warm µs/record | cold / warm |');
  console.log('|---|---|---|---|');
  // a replay's own fixed cost (the pipeline's set-up, the sink's open and close), cold and warm,
  // from a stream without records: taken off both figures
  const empty = path.join(dir, 'empty.bin');
  stream('file', 0, empty);
  const coldRun = (file: string, records: number): number =>
    Number(execFileSync(process.execPath, [self, 'cold', file, path.join(dir, 'cold.jsonl'), String(records)], { encoding: 'utf8' }).trim());
  const cold0 = median(Array.from({ length: rounds }, () => coldRun(empty, 0)));
  for (const kind of KINDS) {
    const file = path.join(dir, `${kind}.bin`);
    stream(kind, n, file);
    const cold = Array.from({ length: rounds }, () => coldRun(file, n));
    const warm: number[] = [];
    for (let p = 1; p <= passes; p++) {
      const pf = path.join(dir, `${kind}-${p}.bin`);
      stream(kind, n, pf, p);
      warm.push(await replayCpuMs(pf, path.join(dir, 'warm.jsonl'), n));
      rmSync(pf);
    }
    const warm0: number[] = [];
    for (let p = 0; p < 3; p++) warm0.push(await replayCpuMs(empty, path.join(dir, 'warm.jsonl'), 0));
    const c = (median(cold) - cold0) * 1e3 / n, w = (Math.min(...warm.slice(-3)) - Math.min(...warm0)) * 1e3 / n;
    console.log(`| ${kind} (${kind === 'process' ? 'FORK, EXEC, MMAP, EXIT' : kind === 'socket' ? 'TCP CLIENT, SERVER' : 'pipeline-throughput\'s'}) | ${c.toFixed(1)} | ${w.toFixed(1)} | ${(c / w).toFixed(1)} |`);
  }
  console.log(`\na replay without records (taken off the figures above): ${cold0.toFixed(0)} ms cold`);
  rmSync(dir, { recursive: true, force: true });
}

await main();
