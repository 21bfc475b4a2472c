// Process monitor events (one per kernel event) → process.*; events that act on a file or a
// socket also fill file.* or destination/source. event.outcome comes from the return value.
import type { ProcEventRecord, ProcRecord, SockAddr } from '../../model/process-record.js';
import type { PidExitRecord, ProcHeader } from '../../model/records.js';
import type { Envelope } from '../../pipeline/types.js';
import { baseDoc, eventBase, processFields, realClock, isoNs, type EcsContext, type EcsDoc } from './common.js';

type Kind = { category: string; type: string };
const PROCESS_START: Kind = { category: 'process', type: 'start' };
const PROCESS_CHANGE: Kind = { category: 'process', type: 'change' };
const PROCESS_INFO: Kind = { category: 'process', type: 'info' };

function kindOf(event: ProcEventRecord['event']): Kind {
  switch (event) {
    case 'FORK': case 'EXEC': return PROCESS_START;
    case 'EXIT': return { category: 'process', type: 'end' };
    case 'SETUID': case 'SETREUID': case 'SETRESUID': case 'SETGID': case 'SETREGID': case 'SETRESGID':
    case 'SETNS': case 'UNSHARE': case 'PTRACE': case 'MPROTECT': return PROCESS_CHANGE;
    case 'MKDIR': case 'LINK': case 'SYMLINK': return { category: 'file', type: 'creation' };
    case 'RMDIR': case 'UNLINK': return { category: 'file', type: 'deletion' };
    case 'RENAME': case 'CHMOD': case 'CHOWN': case 'TRUNCATE': return { category: 'file', type: 'change' };
    case 'CHDIR': return { category: 'file', type: 'access' };
    case 'CONNECT': case 'ACCEPT': return { category: 'network', type: 'connection' };
    case 'BIND': case 'LISTEN': case 'GETPEERNAME': case 'SOCKETPAIR': return { category: 'network', type: 'info' };
    default: return PROCESS_INFO;
  }
}

function endpoint(a: SockAddr): EcsDoc | undefined {
  if (a.ip !== undefined) return { ip: a.ip, port: a.port ?? 0, address: a.ip };
  if (a.path !== undefined) return { address: a.path };
  return undefined;
}

function eventDoc(env: Envelope<ProcEventRecord>, ctx: EcsContext): EcsDoc {
  const r = env.rec;
  const doc = baseDoc(env, ctx, r.hdr.ts);
  const k = kindOf(r.event);
  const event = eventBase(env, 'process');
  event['category'] = [k.category];
  event['type'] = [k.type];
  event['action'] = r.event.toLowerCase();
  if (r.syscall !== 0 || r.ret !== 0n) event['outcome'] = r.ret < 0n ? 'failure' : 'success';
  doc['event'] = event;
  processFields(doc, env, ctx, r.hdr);
  const proc = doc['process'] as EcsDoc;
  const extra: EcsDoc = { event: r.event, ret: r.ret.toString() };
  if (r.syscallName) extra['syscall'] = r.syscallName;
  if (r.exec) {
    proc['executable'] = r.exec.exePath || r.exec.filename;
    proc['args'] = [...r.exec.argv];
    proc['args_count'] = r.exec.argc;
    proc['command_line'] = r.exec.argv.join(' ');
    proc['name'] = (r.exec.exePath || r.exec.filename).split('/').pop() ?? proc['name']!;
  }
  if (r.exit) {
    proc['exit_code'] = r.exit.code;
    proc['end'] = isoNs(r.hdr.ts + realClock(env, ctx));
    if (r.exit.signal) extra['signal'] = r.exit.signal;
  }
  if (r.fork && !r.fork.failed) extra['child_pid'] = r.fork.childPid;
  if (r.kill) { extra['target_pid'] = r.kill.target; extra['signal'] = r.kill.signal; }
  if (r.ptrace) extra['target_pid'] = r.ptrace.target;
  if (r.cred) {
    const id = String(r.cred.new.effective);
    const target = r.cred.kind === 'uid' ? 'user' : 'group';
    if (target === 'user') doc['user'] = { ...(doc['user'] as EcsDoc), effective: { id } };
    else doc['group'] = { ...(doc['group'] as EcsDoc) };
    extra['cred_new_effective'] = id;
  }
  if (r.file?.path !== undefined) {
    const path = r.file.path;
    const file: EcsDoc = { path, name: path.slice(path.lastIndexOf('/') + 1), directory: path.slice(0, Math.max(1, path.lastIndexOf('/'))) };
    if (r.file.target !== undefined) file['target_path'] = r.file.target;
    if (r.file.mode !== undefined) file['mode'] = (r.file.mode & 0o7777).toString(8).padStart(4, '0');
    if (r.file.uid !== undefined && r.file.uid >= 0) file['uid'] = String(r.file.uid);
    if (r.file.gid !== undefined && r.file.gid >= 0) file['gid'] = String(r.file.gid);
    doc['file'] = file;
    if (r.file.newPath !== undefined) extra['new_path'] = r.file.newPath;
  }
  if (r.net) {
    const remote = r.net.remote ? endpoint(r.net.remote) : undefined;
    const local = r.net.local ? endpoint(r.net.local) : undefined;
    if (r.event === 'ACCEPT') {
      if (remote) doc['source'] = remote;
      if (local) doc['destination'] = local;
    } else {
      if (local) doc['source'] = local;
      if (remote) doc['destination'] = remote;
    }
  }
  doc['falconet'] = { process: extra };
  return doc;
}

/** A process-category document with its event type and action, and the process fields. */
function processEventDoc(env: Envelope, ctx: EcsContext, hdr: ProcHeader, type: string, action: string): EcsDoc {
  const doc = baseDoc(env, ctx, hdr.ts);
  const event = eventBase(env, 'process');
  event['category'] = ['process'];
  event['type'] = [type];
  event['action'] = action;
  doc['event'] = event;
  processFields(doc, env, ctx, hdr);
  return doc;
}

function throttleDoc(env: Envelope<ProcRecord>, ctx: EcsContext): EcsDoc {
  const r = env.rec;
  if (r.event !== 'THROTTLED') throw new Error('internal: not a throttle record');
  const doc = processEventDoc(env, ctx, r.hdr, 'info', 'throttled');
  doc['falconet'] = { process: { event: 'THROTTLED', suppressed: r.suppressedTotal, lost: r.lostTotal } };
  return doc;
}

export function processDoc(env: Envelope<ProcRecord>, ctx: EcsContext): EcsDoc {
  return env.rec.event === 'THROTTLED' ? throttleDoc(env, ctx) : eventDoc(env as Envelope<ProcEventRecord>, ctx);
}

export function pidExitDoc(env: Envelope<PidExitRecord>, ctx: EcsContext): EcsDoc {
  const r = env.rec;
  const doc = processEventDoc(env, ctx, r.hdr, 'end', 'exit');
  const proc = doc['process'] as EcsDoc;
  proc['exit_code'] = r.exitCode;
  proc['end'] = isoNs(r.hdr.ts + realClock(env, ctx));
  return doc;
}

