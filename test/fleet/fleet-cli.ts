// Shared by the central-processing tests: agents that forward SysFlow traces into an engine
// (`falconet process --config forward.json TRACE…` with a sink in format=sysflow-msg; no root
// needed), central processors (`falconet process --driver nats|kafka`) writing alerts to a file
// sink, and the ground truth (the same policies over the same traces, `--driver file`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../../bin/falconet', import.meta.url));
const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';
export const TRACES = join(SHARED, 'data/sysflow/traces/sf-processor');
export const POLICIES = join(SHARED, 'data/sysflow/policies/runtimeintegrity');

/** forward.json (trace → sink) and central.json (policies → terminal; --sink redirects it). */
export function writePipelines(dir: string, sinkUrl: string): { forward: string; central: string } {
  const forward = join(dir, 'forward.json');
  const central = join(dir, 'central.json');
  writeFileSync(forward, JSON.stringify({ pipeline: [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'exporter', in: 'flat flattenerchan', export: 'sink', sink: sinkUrl },
  ] }));
  writeFileSync(central, JSON.stringify({ pipeline: [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: POLICIES, mode: 'alert' },
    { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format: 'json' },
  ] }));
  return { forward, central };
}

interface Run { code: number | null; stdout: string; stderr: string }

export function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], // the agent decides on the AWS SDK's Node version notice itself (an S3Sink opened in this
    // process sets the variable)
    env: { ...process.env, FALCONET_SHARED: SHARED, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined } });
    let stdout = ''; let stderr = '';
    p.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.once('error', reject);
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** An agent: forwards the traces (ids host:trace:seq) to forward.json's sink; exit code 0 when all are in. */
export async function runAgent(forward: string, traces: string[]): Promise<void> {
  const r = await runCli(['process', '--config', forward, ...traces.map((t) => join(TRACES, t))]);
  if (r.code !== 0) throw new Error(`agent exited ${r.code}: ${r.stderr.slice(-2000)}`);
}

/** The alerts `--driver file` gives for the traces: the ground truth, one line per alert record. */
export async function groundTruth(central: string, traces: string[]): Promise<string[]> {
  const r = await runCli(['process', '--config', central, ...traces.map((t) => join(TRACES, t))]);
  if (r.code !== 0) throw new Error(`ground truth run exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

export class Processor {
  readonly proc: ChildProcess;
  stderr = '';
  readonly done: Promise<number | null>;
  constructor(readonly name: string, driver: 'nats' | 'kafka', central: string, readonly alerts: string, url: string) {
    this.proc = spawn(process.execPath, [BIN, 'process', '--driver', driver, '--config', central, '--stats', '--sink', `file://${alerts}`, url],
      { stdio: ['ignore', 'ignore', 'pipe'], // the agent decides on the AWS SDK's Node version notice itself (an S3Sink opened in this
    // process sets the variable)
    env: { ...process.env, FALCONET_SHARED: SHARED, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined } });
    this.proc.stderr!.on('data', (b: Buffer) => { this.stderr += b.toString(); });
    this.done = new Promise((r) => this.proc.once('exit', (code) => r(code)));
  }

  /** Alert lines written so far (the file sink appends whole lines). */
  lines(): string[] {
    if (!existsSync(this.alerts)) return [];
    return readFileSync(this.alerts, 'utf8').split('\n').filter((l) => l !== '');
  }

  /** A number from the --stats line (`received`, `redelivered`, `acked`, `committed`). */
  stat(key: string): number {
    const m = new RegExp(`(?:nats|kafka): .*\\b${key} (\\d+)`).exec(this.stderr);
    if (!m) throw new Error(`${this.name}: no '${key}' in its stats:\n${this.stderr.slice(-1500)}`);
    return Number(m[1]);
  }

  /** Its diagnostics without the policy loader's warnings (for failure messages). */
  tail(): string {
    return this.stderr.split('\n').filter((l) => !/warning/.test(l)).slice(-12).join('\n');
  }

  /** Partitions of this member's latest Kafka group assignment. */
  partitions(): number[] | undefined {
    const all = [...this.stderr.matchAll(/kafka: joined group \S+: partitions \[([\d,]*)\]/g)];
    const last = all[all.length - 1];
    return last ? (last[1] ? last[1].split(',').map(Number) : []) : undefined;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.done;
  }
}

/** Multiset difference a − b. */
export function minus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}
