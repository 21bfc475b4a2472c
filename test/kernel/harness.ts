// Kernel e2e harness: runs the real agent (root + BPF), waits until its sensor is attached,
// runs a workload, stops the agent gracefully (flushing open records) and returns the records.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeFrame } from '../../src/sensor/decode.js';
import { FrameSplitter } from '../../src/sensor/frames.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(REPO, 'bin/falconet');

/** Why a test needing these commands cannot run, or false. */
export function missingCommands(need: string[]): string | false {
  const m = need.filter((c) => { try { execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }); return false; } catch { return true; } });
  return m.length ? `missing ${m.join(', ')} (scripts/setup.sh installs them)` : false;
}

/** Why kernel tests cannot run here, or undefined when they can. */
export function bpfSkipReason(): string | undefined {
  if (process.geteuid?.() !== 0) return 'kernel tests need root (BPF)';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'kernel has no BTF (/sys/kernel/btf/vmlinux)';
  if (!existsSync(path.join(REPO, 'sensor/falconet-sensor'))) return 'sensor not built (npm run setup)';
  return undefined;
}

/** Prints the skip reason so CI logs say why, and returns the value for test({ skip }). */
export function skipUnlessBpf(): string | false {
  const why = bpfSkipReason();
  if (why) process.stdout.write(`# SKIP kernel tests: ${why}\n`);
  return why ?? false;
}

export type JsonRecord = Record<string, unknown>;

/** kflowd JSON file records grouped by file name: how many records, and their FileEvents summed. */
export function eventsPerFile(records: JsonRecord[]): Map<string, { records: number; events: Record<string, number> }> {
  const out = new Map<string, { records: number; events: Record<string, number> }>();
  for (const r of records) {
    const f = out.get(String(r.File)) ?? { records: 0, events: {} };
    f.records++;
    for (const [k, v] of Object.entries(r.FileEvents as Record<string, number>)) f.events[k] = (f.events[k] ?? 0) + v;
    out.set(String(r.File), f);
  }
  return out;
}

export interface Capture {
  records: JsonRecord[];
  stats: { counters: Record<string, number>; recordsOut: number; fileMapEntries: number } | undefined;
  stderr: string;
}

function parseLines(out: string): JsonRecord[] {
  const lines = out.split('\n');
  lines.pop(); // the last line is complete only once a newline follows it
  return lines.filter((l) => l.length > 0).map((l) => JSON.parse(l) as JsonRecord);
}

/** Runs the agent around workload. Startup can take seconds: attaching waits while another
 * sensor detaches (the kernel serializes tracepoint (un)registration behind RCU grace periods). */
export async function captureRecords(workload: (live: () => JsonRecord[]) => Promise<void>, args: string[] = [], timeoutMs = 240000,
  /** a command the agent runs under (e.g. one that drops capabilities or sets limits) */
  prefix: string[] = []): Promise<Capture> {
  const cmd = [...prefix, process.execPath, BIN, '-o', 'json-min', '--stats', ...args];
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => { readyResolve = r; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.includes('sensor ready')) readyResolve();
  });
  const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    await Promise.race([ready, exited.then((c) => { throw new Error(`agent exited (${c}) before ready: ${stderr}`); })]);
    // live: the records the agent has written so far, while it still runs
    await workload(() => parseLines(stdout));
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`agent exited with ${code}: ${stderr}`);
  } finally {
    clearTimeout(timer);
  }
  const records = parseLines(stdout);
  const statLines = stderr.split('\n').filter((l) => l.startsWith('falconet-stats '));
  const last = statLines.at(-1);
  return { records, stats: last ? JSON.parse(last.slice('falconet-stats '.length)) : undefined, stderr };
}

/** The status lines of the hello frame of the sensor binary started directly (args, env); then
 * asks it to quit. */
export async function sensorHello(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const child = spawn(path.join(REPO, 'sensor/falconet-sensor'), args,
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const splitter = new FrameSplitter();
  let status: string[] | undefined;
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    for (const f of splitter.push(chunk)) {
      const ev = decodeFrame(f);
      if (ev.kind === 'hello' && !status) {
        status = ev.hello.programStatus;
        child.stdin.write('quit\n');
      }
    }
  }
  await closed;
  return status ?? [];
}
