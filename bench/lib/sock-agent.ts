// socket-overhead's agents and floor: falconet started and stopped per run, the count-only floor
// on the socket monitor's own hooks (bench/floor), and the BPF run time of either.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../../test/lib/temp-dir.js';
import { REPO } from '../../test/kernel/harness.js';
import { bpfProgStatsById, withBpfStats } from './bpf-stats.js';
import { childrenOf, procCpu, waitFor } from './proc.js';

/** FALCONET_BENCH_AGENT runs another checkout's bin/falconet. */
export const AGENT_BIN = process.env.FALCONET_BENCH_AGENT ?? path.join(REPO, 'bin/falconet');

export interface Agent {
  stop: () => Promise<{ counters: Record<string, number>; recordsOut: number }>;
  out: string;
  /** the agent's "tcp_export: ..." startup line (which TCP export path it uses) */
  tcpExport: string;
  /** CPU seconds used so far by the agent (node) and its sensor */
  cpu: () => number;
  /** the agent's (node's) pid */
  pid: number;
}

/** BPF run time (ns) of the socket monitor's programs while `work` runs under a fresh agent, with
 * kernel.bpf_stats_enabled on: a separate run, since the accounting adds its own cost. */
export async function bpfRunNs(work: () => void): Promise<number> {
  return withBpfStats(async () => {
    const agent = await startAgent();
    const ns0 = sockBpfNs();
    work();
    await new Promise((r) => setTimeout(r, 600));
    const ns = sockBpfNs() - ns0;
    await agent.stop();
    return ns;
  });
}

/** BPF run time (ns) of the floor's programs while `work` runs under it (bpf_stats on): the
 * programs loaded since the floor started, by id (not falconet's: no run holds both). */
export async function floorBpfNs(work: () => void): Promise<number | string> {
  const before = new Set(bpfProgStatsById().keys());
  const sum = () => [...bpfProgStatsById()].filter(([id]) => !before.has(id)).reduce((a, [, p]) => a + p.runNs, 0);
  return withBpfStats(() => underFloor(() => { const n0 = sum(); work(); return sum() - n0; }));
}

/** Sum of run time of the socket monitor's BPF programs (kernel.bpf_stats_enabled). */
function sockBpfNs(): number {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { name?: string; run_time_ns?: number }[];
  return list.filter((p) => p.name?.startsWith('sock_')).reduce((a, p) => a + (p.run_time_ns ?? 0), 0);
}

/** monitors: the agent's -m arguments; [] runs the full default agent (every monitor). */
export async function startAgent(extra: string[] = [], agentBin = AGENT_BIN, monitors = ['-m', 'socket']): Promise<Agent> {
  const out = path.join(scratchDir('fn-sockbench-'), 'records.jsonl');
  const sh = spawn('sh', ['-c', `exec "${process.execPath}" "${agentBin}" ${monitors.join(' ')} -o json-min --stats ${extra.join(' ')} > "${out}"`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const ready = waitFor(sh, 'stderr', 'sensor ready');
  sh.stderr!.on('data', (d: string) => { stderr += d; });
  await ready;
  return {
    out,
    tcpExport: /^falconet: (tcp_export: .*)$/m.exec(stderr)?.[1] ?? 'tcp_export not named (an agent from before the map-walk path: socket storage hooks)',
    cpu: () => procCpu(sh.pid!) + childrenOf(sh.pid!).reduce((a, c) => a + procCpu(c), 0),
    pid: sh.pid!,
    stop: async () => {
      await new Promise((r) => setTimeout(r, 500));
      const closed = new Promise((r) => sh.on('close', r));
      const sensors = childrenOf(sh.pid!);
      sh.kill('SIGTERM');
      await closed;
      // the sensor detaches its programs after the agent is gone: the next baseline waits for it
      for (let i = 0; i < 200 && sensors.some((p) => existsSync(`/proc/${p}`)); i++) await new Promise((r) => setTimeout(r, 100));
      const last = stderr.split('\n').filter((l) => l.startsWith('falconet-stats ')).at(-1)!;
      return JSON.parse(last.slice(15)) as { counters: Record<string, number>; recordsOut: number };
    },
  };
}

/** The count-only floor on the monitor's own hooks (bench/floor): built once, or why not. */
let floorBin: { bin: string; obj: string } | string | undefined;
function buildFloor(): { bin: string; obj: string } | string {
  if (floorBin) return floorBin;
  const dir = scratchDir('fn-floor-');
  const src = path.join(REPO, 'bench/floor');
  try {
    // vmlinux.h as bpf/Makefile finds it: shipped per arch, else generated in bpf/
    const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-mcpu=v3', `-D__TARGET_ARCH_${arch}`,
      '-I', path.join(REPO, 'bpf/vmlinux', arch), '-I', path.join(REPO, 'bpf'), '-c',
      path.join(src, 'sock-floor.bpf.c'), '-o', path.join(dir, 'sock-floor.bpf.o')], { stdio: 'pipe' });
    execFileSync('cc', ['-O2', '-o', path.join(dir, 'sock-floor'), path.join(src, 'sock-floor.c'), '-lbpf'], { stdio: 'pipe' });
    floorBin = { bin: path.join(dir, 'sock-floor'), obj: path.join(dir, 'sock-floor.bpf.o') };
  } catch (e) {
    floorBin = `cannot build bench/floor: ${(e as Error).message.split('\n')[0]}`;
  }
  return floorBin;
}

/** Runs work() under the count-only floor; its result, or why there is no floor. */
export async function underFloor<T>(work: () => T | Promise<T>): Promise<T | string> {
  const fb = buildFloor();
  if (typeof fb === 'string') return fb;
  const fl = spawn(fb.bin, [fb.obj], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  fl.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const closed = new Promise((res) => fl.on('close', res));
  const ready = await new Promise<boolean>((resolve) => {
    let buf = '';
    fl.stdout!.setEncoding('utf8').on('data', (d: string) => { buf += d; if (buf.includes('floor-ready')) resolve(true); });
    fl.on('close', () => resolve(false));
  });
  if (!ready) return `floor did not start: ${err.trim()}`;
  const r = await work();
  fl.kill('SIGINT');
  await closed;
  return r;
}
