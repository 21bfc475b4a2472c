// Info* and Proc* keys shared by every kflowd-style record.
import type { ProcHeader } from '../model/records.js';
import type { FormatContext } from './context.js';
import type { JObject } from './json.js';
import { seconds, wallClock } from './time.js';

/** kflowd's Proc: the exe basename, or "exe/comm" when the task renamed itself. */
export function procName(exe: string, comm: string): string {
  if (!exe) return comm;
  if (!comm || exe.startsWith(comm) || exe === comm) return exe;
  return `${exe}/${comm}`;
}

export function infoKeys(o: JObject, seq: number, monitor: string, tsBoot: bigint, ctx: FormatContext): void {
  const h = ctx.host;
  o.set('InfoSequenceNumber', seq);
  o.set('InfoTimestamp', wallClock(tsBoot + ctx.bootToRealNs));
  o.set('InfoMonitor', monitor);
  o.set('InfoHostName', h.hostName);
  o.set('InfoHostIP', h.hostIP);
  if (h.token !== undefined) o.set('InfoHostToken', h.token);
  o.set('InfoSystem', h.system);
  o.set('InfoKernel', h.kernel);
  o.set('InfoVersion', h.version);
  o.set('InfoUptime', seconds(tsBoot - ctx.startBootNs));
}

export function procKeys(o: JObject, p: ProcHeader, ctx: FormatContext): void {
  o.set('ProcParent', p.parentExe);
  o.set('Proc', procName(p.exe, p.comm));
  o.set('ProcUser', ctx.ids.user(p.uid));
  o.set('ProcGroup', ctx.ids.group(p.gid));
  o.set('ProcPPID', p.ppid);
  o.set('ProcPID', p.pid);
  o.set('ProcTID', p.tid);
  o.set('ProcUID', p.uid);
  o.set('ProcGID', p.gid);
  o.set('ProcAge', seconds(p.ts - p.procStart));
}
