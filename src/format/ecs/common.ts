// What every ECS document shares: @timestamp, ecs/agent/host, event.* basics, process.* and
// user.* from the kernel's process header. Everything the encoder does not find in the record
// comes from the envelope's enrichment (see EcsEnrichment) or the encoder's fixed context.
import type { ProcHeader } from '../../model/records.js';
import type { Envelope } from '../../pipeline/types.js';
import { recordIdString } from '../../pipeline/types.js';
import type { HostFacts } from '../context.js';

export const ECS_VERSION = '8.17.0';

export type EcsValue = string | number | boolean | null | EcsValue[] | EcsDoc;
export interface EcsDoc { [key: string]: EcsValue }

/** Host facts: the enrich stage's, without the clocks (format/context.ts). */
export type EcsHost = Omit<HostFacts, 'bootToRealNs' | 'startBootNs'>;

/** Fixed per encoder: who we are and, by default, where we run. */
export interface EcsContext {
  host: EcsHost;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME of the agent that produced the records */
  bootToRealNs: bigint;
  agent: { name: string; version: string; id?: string };
}

/**
 * Enrichment keys the ECS encoder reads — the runtime's enrich stage sets them (format/context.ts
 * KflowdFacts); all are optional. A record relayed from another host carries its own `host`.
 */
export interface EcsEnrichment {
  /** host facts; bootToRealNs = CLOCK_REALTIME - CLOCK_BOOTTIME of the agent that saw the record */
  host?: EcsHost & { bootToRealNs?: bigint };
  /** names of hdr.uid / hdr.gid, and of a file's owner and group */
  users?: { user?: string; group?: string; fileUser?: string; fileGroup?: string };
  /** file records: the absolute directory when the kernel gave a filesystem-relative one */
  mounts?: { dir?: string; device?: string };
  /** the process's full command line when a process table knows it */
  process?: { args?: string[]; parentName?: string };
}

export function enrichment(env: Envelope): EcsEnrichment {
  return (env.enrich ?? {}) as EcsEnrichment;
}

const NS = 1_000_000_000n;

/** Epoch nanoseconds → RFC 3339 with nanoseconds (Elasticsearch date_nanos accepts it). */
export function isoNs(ns: bigint): string {
  let sec = ns / NS;
  let frac = ns % NS;
  if (frac < 0n) { frac += NS; sec -= 1n; }
  const base = new Date(Number(sec) * 1000).toISOString();
  return `${base.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

/** bigint → JSON number when exact, else decimal string (never loses digits). */
export function num(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`ecs: value ${v} does not fit a JSON number`);
  }
  return Number(v);
}

export function realClock(env: Envelope, ctx: EcsContext): bigint {
  return enrichment(env).host?.bootToRealNs ?? ctx.bootToRealNs;
}

export function baseDoc(env: Envelope, ctx: EcsContext, tsBoot: bigint): EcsDoc {
  const e = enrichment(env);
  const h = e.host ?? ctx.host;
  const clock = realClock(env, ctx);
  const doc: EcsDoc = {
    '@timestamp': isoNs(tsBoot + clock),
    ecs: { version: ECS_VERSION },
    agent: { type: 'falconet', name: ctx.agent.name, version: ctx.agent.version, ...(ctx.agent.id ? { id: ctx.agent.id } : {}) },
    host: {
      name: h.hostName, hostname: h.hostName,
      ...(h.hostIP ? { ip: [h.hostIP] } : {}),
      os: { type: 'linux', kernel: h.kernel, family: 'linux', name: h.system },
      ...(h.token ? { id: h.token } : {}),
    },
  };
  return doc;
}

export function eventBase(env: Envelope, dataset: string): EcsDoc {
  const ev: EcsDoc = { kind: 'event', module: 'falconet', dataset: `falconet.${dataset}` };
  if (env.id) {
    ev['id'] = recordIdString(env.id);
    ev['sequence'] = num(env.id.seq);
  }
  return ev;
}

const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** process, user and group fields from the kernel's per-record process header. */
export function processFields(doc: EcsDoc, env: Envelope, ctx: EcsContext, hdr: ProcHeader): void {
  const e = enrichment(env);
  const clock = realClock(env, ctx);
  const proc: EcsDoc = {
    pid: hdr.pid,
    name: hdr.comm || basename(hdr.exe),
    thread: { id: hdr.tid },
  };
  if (hdr.exe) proc['executable'] = hdr.exe;
  if (hdr.procStart > 0n) {
    proc['start'] = isoNs(hdr.procStart + clock);
    if (hdr.ts >= hdr.procStart) proc['uptime'] = num((hdr.ts - hdr.procStart) / NS);
  }
  const parent: EcsDoc = { pid: hdr.ppid };
  if (hdr.parentExe) { parent['executable'] = hdr.parentExe; parent['name'] = basename(hdr.parentExe); }
  if (e.process?.parentName) parent['name'] = e.process.parentName;
  proc['parent'] = parent;
  if (e.process?.args?.length) {
    proc['args'] = [...e.process.args];
    proc['args_count'] = e.process.args.length;
    proc['command_line'] = e.process.args.join(' ');
  }
  const user: EcsDoc = { id: String(hdr.uid) };
  if (e.users?.user) user['name'] = e.users.user;
  const group: EcsDoc = { id: String(hdr.gid) };
  if (e.users?.group) group['name'] = e.users.group;
  proc['user'] = { ...user };
  proc['group'] = { ...group };
  doc['process'] = proc;
  doc['user'] = user;
  doc['group'] = group;
  if (e.users?.user) doc['related'] = { user: [e.users.user] };
}
