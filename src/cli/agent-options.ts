// Parsing and validation of kflowd's flags, shared by the agent, record and replay commands.
import { InvalidArgumentError } from 'commander';
import { MON_FILE, MON_PROCESS, MON_SOCKET } from '../sensor/layout.js';
import type { OutputFormat } from '../pipeline/agent.js';
import { parseSocketBuffer, SOCKET_BUFFER_EXPECTED } from '../pipeline/stages/sysflow.js';

const MONITORS: { name: string; bit: number; available: boolean }[] = [
  { name: 'file', bit: MON_FILE, available: true },
  { name: 'socket', bit: MON_SOCKET, available: true },
  { name: 'process', bit: MON_PROCESS, available: true },
  { name: 'event', bit: MON_PROCESS, available: true }, // alias of process
];

/** All monitors this build can run: the default of -m. */
export const DEFAULT_MONITORS = MONITORS.filter((m) => m.available).reduce((a, m) => a | m.bit, 0);

/** -m file,socket: tokens match by prefix, like kflowd's. */
export function parseMonitors(value: string): number {
  let mask = 0;
  for (const raw of value.split(',')) {
    const tok = raw.trim().toLowerCase();
    const m = tok ? MONITORS.find((x) => x.name.startsWith(tok)) : undefined;
    if (!m) throw new InvalidArgumentError(`unknown monitor '${raw}' (expected a comma-separated list of: ${MONITORS.map((x) => x.name).join(', ')})`);
    if (!m.available) throw new InvalidArgumentError(`the ${m.name} monitor is not available in this version yet; use -m file`);
    mask |= m.bit;
  }
  return mask;
}

export function parseEvents(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 2 ** 30) {
    throw new InvalidArgumentError(`expected a positive integer number of events, got '${value}'`);
  }
  return Number(value);
}

/** -o json|json-min|table, prefix-matched like kflowd's. */
export function parseOutput(value: string): OutputFormat {
  const v = value.toLowerCase();
  const all: OutputFormat[] = ['json', 'json-min', 'table'];
  if (all.includes(v as OutputFormat)) return v as OutputFormat;
  const hits = all.filter((f) => v.length > 0 && f.startsWith(v));
  if (hits.length === 1) return hits[0]!;
  throw new InvalidArgumentError(`expected json, json-min or table, got '${value}'`);
}

export function parseToken(value: string): string {
  if (value.length > 63) throw new InvalidArgumentError(`the token is ${value.length} characters; at most 63 are allowed`);
  return value;
}

export function parseDuration(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || !(n > 0)) throw new InvalidArgumentError(`expected a positive number of seconds, got '${value}'`);
  return n;
}

export function parsePositiveInt(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return Number(value);
}

/** --sf-socket-buffer SIZE: bytes (`16MiB`, `512k`) that may wait for a slow SysFlow processor. */
export function parseRelayBuffer(value: string): number {
  const n = parseSocketBuffer(value);
  if (n === null) throw new InvalidArgumentError(`expected ${SOCKET_BUFFER_EXPECTED}, got '${value}'`);
  return n;
}

/** --no-sk-iter (commander: flags.skIter === false): the socket monitor exports TCP records by
 * walking a cookie-keyed map, as on kernels that refuse the socket storage iterator. */
export const NO_SK_ITER_FLAG = '--no-sk-iter';
export const NO_SK_ITER_HELP = 'socket monitor: export TCP records by a map walk instead of the socket storage iterator (also FALCONET_NO_SK_ITER=1; used anyway where the kernel refuses the iterator)';

/** -t IDLE[,ACTIVE]: socket idle and active timeouts in seconds (kflowd: digits only, nonzero). */
export function parseTimeouts(value: string): { idle: number; active?: number } {
  const m = /^([0-9]+)(?:,([0-9]+))?$/.exec(value);
  const idle = m ? Number(m[1]) : 0;
  const active = m?.[2] !== undefined ? Number(m[2]) : undefined;
  if (!m || idle < 1 || (active !== undefined && active < 1)) {
    throw new InvalidArgumentError(`expected IDLE[,ACTIVE] in whole seconds, both nonzero (e.g. 15,1800), got '${value}'`);
  }
  return { idle, active };
}
