// What enrichment adds to a warm start: CPU per pipeline start (a 256-record replay of one of
// bench/lib/enrich-streams.ts's streams into a file sink: `unknown`, pipeline-throughput's own,
// or `known`, whose processes and executables get versions and digests) with and without
// --process-table -v -c --containers, the state directory filled first (the index and digests kept, as an agent
// restarted on an unchanged package database finds them). Each measurement is a process of its
// own: 5 starts to warm up, then `starts` measured; main thread (the record path) and all threads.
// Given another build's dist directory, its runs alternate with this build's (an A/B of a start
// change). No root.
// Usage: node dist/bench/micro/enrich-start.js [other-dist|-] [rounds=4] [starts=40] [unknown|known]
//   other build: git worktree add /tmp/old REV && ln -s "$PWD/node_modules" /tmp/old/ && (cd /tmp/old && npx tsc -p .)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { writeEnrichStream } from '../lib/enrich-streams.js';
import { median } from '../lib/proc.js';

const self = fileURLToPath(import.meta.url);
const thisDist = path.resolve(path.dirname(self), '../..');

/** One measurement (child mode): prints "main all" ms per start. */
async function child(dist: string, mode: string, starts: number, state: string, f: string): Promise<void> {
  const { runPipeline } = await import(path.join(dist, 'src/pipeline/agent.js')) as typeof import('../../src/pipeline/agent.js');
  const { replaySource } = await import(path.join(dist, 'src/sensor/source.js')) as typeof import('../../src/sensor/source.js');
  const { threadCpuMs } = await import(path.join(dist, 'src/enrich/thread-cpu.js')) as typeof import('../../src/enrich/thread-cpu.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-enrich-start-'));
  try {
    const out = path.join(dir, 'o.jsonl');
    const enrichment = mode === 'enriched' ? { enrichment: { processTable: true, versions: true, checksums: true, containers: true, stateDir: state } } : {};
    const run = () => runPipeline(replaySource(f), { output: 'json-min', hostFromStream: true, log: () => {}, sinks: [`file://${out}?policy=block`], ...enrichment },
      new Writable({ write(_c, _e, cb) { cb(); } }));
    for (let r = 0; r < 5; r++) await run();
    const m0 = threadCpuMs();
    const c = process.cpuUsage();
    for (let r = 0; r < starts; r++) await run();
    const u = process.cpuUsage(c);
    const m1 = threadCpuMs();
    if (m0 === undefined || m1 === undefined) throw new Error('no /proc/thread-self/schedstat');
    console.log(`${((m1 - m0) / starts).toFixed(2)} ${((u.user + u.system) / 1e3 / starts).toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), process.argv[6]!, process.argv[7]!);
  const other = process.argv[2] && process.argv[2] !== '-' ? path.resolve(process.argv[2]) : undefined;
  const rounds = Number(process.argv[3] ?? 4);
  const starts = Number(process.argv[4] ?? 40);
  const which = process.argv[5] ?? 'unknown';
  if (which !== 'unknown' && which !== 'known') throw new Error(`stream: unknown or known, not ${which}`);
  // one file of records for every build and run; `known`'s pids are this process's and its
  // parent's, alive while the children run, so their /proc seed knows them
  const streamDir = mkdtempSync(path.join(tmpdir(), 'fn-enrich-start-stream-'));
  const stream = writeEnrichStream(path.join(streamDir, 's.bin'), 256, which === 'known');
  const builds = other ? [['this', thisDist], ['other', other]] as const : [['this', thisDist]] as const;
  // a state directory per build: builds of two formats would rebuild each other's index
  const states = new Map<string, string>(builds.map(([, dist]) => [dist, mkdtempSync(path.join(tmpdir(), 'fn-enrich-start-state-'))]));
  const got = new Map<string, { main: number[]; all: number[] }>();
  const measure = (dist: string, mode: string): [number, number] => {
    const o = execFileSync(process.execPath, [self, '--child', dist, mode, String(starts), states.get(dist)!, stream], { encoding: 'utf8' }).trim().split(' ').map(Number);
    return [o[0]!, o[1]!];
  };
  try {
    for (const [, dist] of builds) measure(dist, 'enriched'); // fills each state directory (builds the index once)
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...builds].reverse() : builds;
      for (const [name, dist] of order) {
        for (const mode of ['plain', 'enriched']) {
          const [m, a] = measure(dist, mode);
          const k = `${name} ${mode}`;
          const g = got.get(k) ?? { main: [], all: [] };
          g.main.push(m);
          g.all.push(a);
          got.set(k, g);
        }
      }
    }
  } finally {
    for (const st of states.values()) rmSync(st, { recursive: true, force: true });
    rmSync(streamDir, { recursive: true, force: true });
  }
  console.log(`CPU ms per warm pipeline start (256 records of the ${which} stream, state kept), ${rounds} rounds of ${starts} starts each, medians [per round]`);
  console.log('| build | pipeline | main thread | all threads |');
  console.log('|---|---|---|---|');
  for (const [k, g] of got) {
    const [build, mode] = k.split(' ');
    console.log(`| ${build === 'this' ? thisDist : other} | ${mode === 'plain' ? 'host enrichment only' : '+ --process-table -v -c --containers'} | ${median(g.main).toFixed(1)} [${g.main.join(', ')}] | ${median(g.all).toFixed(1)} [${g.all.join(', ')}] |`);
  }
  for (const [name] of builds) {
    const p = got.get(`${name} plain`)!, e = got.get(`${name} enriched`)!;
    console.log(`${name === 'this' ? thisDist : other}: enrichment adds ${(median(e.main) - median(p.main)).toFixed(1)} ms (main) and ${(median(e.all) - median(p.all)).toFixed(1)} ms (all threads) to a start`);
  }
}

await main();
