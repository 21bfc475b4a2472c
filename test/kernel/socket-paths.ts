// The socket monitor's two TCP export paths, for kernel tests that run once per path: the
// socket storage iterator (where the kernel takes it) and the map walk (forced with
// --no-sk-iter here; what kernels that refuse the iterator get).
import { spawn } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import { noSkIterFromEnv } from '../../src/sensor/source.js';
import { REPO, bpfSkipReason, captureRecords, type Capture, type JsonRecord } from './harness.js';

export type TcpExportPath = 'iterator' | 'map-walk';

export interface ExportPath {
  name: TcpExportPath;
  /** agent flags that select it */
  args: string[];
}

export const EXPORT_PATHS: readonly ExportPath[] = [
  { name: 'iterator', args: [] },
  { name: 'map-walk', args: ['--no-sk-iter'] },
];

/** The path an agent's startup output names ("falconet: tcp_export: map-walk (iterator refused:
 * EPERM)"), and its reason; undefined when there is no such line. */
export function tcpExportOf(stderr: string): { path: TcpExportPath; why?: string } | undefined {
  const m = /^falconet: tcp_export: (iterator|map-walk)(?: \((.*)\))?$/m.exec(stderr);
  if (!m) return undefined;
  return m[2] === undefined ? { path: m[1] as TcpExportPath } : { path: m[1] as TcpExportPath, why: m[2] };
}

/** Why a run on path p cannot happen on this kernel (it refused the iterator), from the agent's
 * startup output; undefined when it can. */
export function refusalOf(p: ExportPath, stderr: string): string | undefined {
  const got = tcpExportOf(stderr);
  if (p.name !== 'iterator' || got?.path !== 'map-walk' || !got.why?.startsWith('iterator refused')) return undefined;
  return `this kernel refuses the TCP export iterator (sensor: "tcp_export: map-walk (${got.why})"); the map-walk run covers it`;
}

/** Starts the agent once on the iterator path and reads its startup output: the skip reason of
 * the iterator runs, or false. */
async function probeIterator(): Promise<string | false> {
  const child = spawn(process.execPath, [path.join(REPO, 'bin/falconet'), '-m', 'socket', '-o', 'json-min', '--duration', '0.2'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  if (code !== 0) throw new Error(`agent probe exited with ${code}: ${stderr}`);
  if (!tcpExportOf(stderr)) throw new Error(`the agent's startup output names no tcp_export path: ${stderr}`);
  return refusalOf(EXPORT_PATHS[0]!, stderr) ?? false;
}

/** test() skip value per path: BPF unavailable, or (iterator) the kernel refuses the iterator.
 * Prints "# SKIP <reason>" for CI logs, like skipUnlessBpf. */
export async function pathSkips(): Promise<Map<TcpExportPath, string | false>> {
  const bpf = bpfSkipReason();
  const forced = noSkIterFromEnv() ? 'FALCONET_NO_SK_ITER is set: every agent of this run uses the map-walk path' : false;
  const refused = bpf || forced ? false : await probeIterator();
  const m = new Map<TcpExportPath, string | false>();
  for (const p of EXPORT_PATHS) {
    const why = bpf ?? (p.name === 'iterator' ? forced || refused : false);
    if (why) process.stdout.write(`# SKIP ${p.name} path: ${why}\n`);
    m.set(p.name, why || false);
  }
  return m;
}

/** captureRecords on path p, checking that the agent said it used p, at startup and in its
 * stats. */
export async function captureOn(p: ExportPath, workload: (live: () => JsonRecord[]) => Promise<void>, args: string[]): Promise<Capture> {
  const cap = await captureRecords(workload, [...args, ...p.args]);
  assert.equal(tcpExportOf(cap.stderr)?.path, p.name, `startup output names the ${p.name} path: ${cap.stderr}`);
  assert.equal((cap.stats as { tcpExport?: string } | undefined)?.tcpExport, p.name, '--stats names the path');
  return cap;
}
