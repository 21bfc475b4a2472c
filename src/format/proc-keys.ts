// Info* and Proc* keys shared by every kflowd-style record.
import type { ProcHeader } from '../model/records.js';
import type { HostFacts, UserFacts } from './context.js';
import type { JObject } from './json.js';
import { seconds, wallClock } from './time.js';

/** kflowd's Proc: the exe basename, or "exe/comm" when the task renamed itself. */
export function procName(exe: string, comm: string): string {
  if (!exe) return comm;
  if (!comm || exe.startsWith(comm) || exe === comm) return exe;
  return `${exe}/${comm}`;
}

export function infoKeys(o: JObject, seq: number, monitor: string, tsBoot: bigint, h: HostFacts): void {
  o.set('InfoSequenceNumber', seq);
  o.set('InfoTimestamp', wallClock(tsBoot + h.bootToRealNs));
  o.set('InfoMonitor', monitor);
  o.set('InfoHostName', h.hostName);
  o.set('InfoHostIP', h.hostIP);
  if (h.token !== undefined) o.set('InfoHostToken', h.token);
  o.set('InfoSystem', h.system);
  o.set('InfoKernel', h.kernel);
  o.set('InfoVersion', h.version);
  o.set('InfoUptime', seconds(tsBoot - h.startBootNs));
}

export function procKeys(o: JObject, p: ProcHeader, u: UserFacts | undefined): void {
  o.set('ProcParent', p.parentExe);
  o.set('Proc', procName(p.exe, p.comm));
  o.set('ProcUser', u?.user ?? '');
  o.set('ProcGroup', u?.group ?? '');
  o.set('ProcPPID', p.ppid);
  o.set('ProcPID', p.pid);
  o.set('ProcTID', p.tid);
  o.set('ProcUID', p.uid);
  o.set('ProcGID', p.gid);
  o.set('ProcAge', seconds(p.ts - p.procStart));
}
