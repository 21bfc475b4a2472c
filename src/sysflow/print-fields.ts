// sysprint's flat record (sf-apis py3 formatter.py): every key `-c` accepts, its column title,
// width and description, and the getter that reads its value from an SfRecordView in sysprint's
// value format. The renderings (str, json, flatjson, csv) are in print-format.ts and
// print-json.ts.
import { opFlagsSysprint, restypeChar } from './flags.js';
import { ipIntToString } from './ip.js';
import { PyTuple, isoFromNs } from './pyfmt.js';
import type { PyValue } from './pyfmt.js';
import type { Process } from './types.js';
import type { SfRecordView } from './view.js';

export const SYSPRINT_JSON_VERSION = '4';

/**
 * sysprint's `_fields`, in its order: key → [column header, base width, description, query-only].
 * `-l` lists it as is; the table takes headers and base widths from it.
 */
export const SYSPRINT_FIELDS: Readonly<Record<string, readonly [string, number, string, boolean]>> = {
  idx: ['Rec #', 6, 'Record number', false],
  type: ['T', 2, 'Record type', false],
  state: ['State', 12, 'Entity state', false],
  opflags: ['Op Flags', 14, 'Operation flags', false],
  opflags_bitmap: ['Op Flags', 5, 'Operation flags bitmap', false],
  ret: ['Ret', 4, 'Return code', false],
  ts: ['Start Time', 26, 'Record start time', false],
  ts_uts: ['Start Time', 21, 'Records start timestamp', false],
  endts: ['End Time', 26, 'Record end time', false],
  endts_uts: ['End Time', 21, 'Record end timestamp', false],
  'proc.pid': ['PID', 8, 'Process PID', false],
  'proc.tid': ['TID', 8, 'Thread PID', false],
  'proc.uid': ['UID', 5, 'Process user ID', false],
  'proc.user': ['User', 8, 'Process user name', false],
  'proc.gid': ['GID', 5, 'Process group ID', false],
  'proc.group': ['Group', 8, 'Process group name', false],
  'proc.apid': ['A. PIDs', 20, 'Process ancestors PIDs (query only)', true],
  'proc.aname': ['A. Proc. Names', 20, 'Process ancestors names (query only)', true],
  'proc.cwd': ['Cwd', 20, 'Current working directory ', false],
  'proc.exe': ['Cmd', 20, 'Process command/filename', false],
  'proc.args': ['Args', 20, 'Process command arguments', false],
  'proc.name': ['Proc. Name', 20, 'Process name (query only)', true],
  'proc.cmdline': ['Cmd Line', 20, 'Process command line (query only)', true],
  'proc.tty': ['TTY', 5, 'Process TTY status', false],
  'proc.env': ['Env', 30, 'Process environment variables', false],
  'proc.entry': ['Entry', 5, 'Process container entrypoint', false],
  'proc.createts': ['Proc. Creation Time', 21, 'Process creation timestamp', false],
  'pproc.pid': ['PPID', 8, 'Parent process ID', false],
  'pproc.gid': ['PGID', 5, 'Parent process group ID', false],
  'pproc.uid': ['PUID', 5, 'Parent process user ID', false],
  'pproc.group': ['PGroup', 8, 'Parent process group name', false],
  'pproc.tty': ['PTTY', 5, 'Parent process TTY status', false],
  'pproc.env': ['PEnv', 30, 'Parent process environment variables', false],
  'pproc.entry': ['PEntry', 5, 'Parent process container entry', false],
  'pproc.user': ['PUser', 8, 'Parent process user name', false],
  'pproc.cwd': ['PCwd', 20, 'Parent current working directory ', false],
  'pproc.exe': ['PCmd', 20, 'Parent process command/filename', false],
  'pproc.args': ['PArgs', 20, 'Parent process command arguments', false],
  'pproc.name': ['PProc. Name', 20, 'Parent process name (query only)', true],
  'pproc.cmdline': ['PProc. Cmd Line', 20, 'Parent process command line (query only)', true],
  'pproc.createts': ['PProc. Creation Time', 21, 'Parent process creation timestamp', false],
  'file.fd': ['FD', 5, 'File descriptor number', false],
  'file.path': ['Path', 30, 'File path', false],
  'file.newpath': ['New Path', 30, 'New file path', false],
  'file.name': ['File Name', 30, 'File name (query only)', true],
  'file.directory': ['Dir', 30, 'File directory (query only)', true],
  'file.type': ['File Type', 8, 'File type', false],
  'file.is_open_write': ['W', 5, 'File open with write flag (query only)', true],
  'file.is_open_read': ['R', 5, 'File open with read flag (query only)', true],
  'file.openflags': ['Open Flags', 5, 'File open flags', false],
  'net.proto': ['Proto', 5, 'Network protocol', false],
  'net.sport': ['SPort', 5, 'Source port', false],
  'net.dport': ['DPort', 5, 'Destination port', false],
  'net.port': ['Port', 5, 'Source or destination port (query only)', true],
  'net.sip': ['SIP', 16, 'Source IP', false],
  'net.dip': ['DIP', 16, 'Destination IP', false],
  'net.ip': ['IP', 5, 'Source or destination IP (query only)', true],
  res: ['Resource', 45, 'File or network resource', false],
  'flow.rbytes': ['NoBRead', 8, 'Flow bytes read/received', false],
  'flow.rops': ['NoOpsRead', 8, 'Flow operations read/received', false],
  'flow.wbytes': ['NoBWrite', 8, 'Flow bytes written/sent', false],
  'flow.wops': ['NoOpsWrite', 8, 'Flow bytes written/sent', false],
  'container.id': ['Cont ID', 12, 'Container ID', false],
  'container.name': ['Cont Name', 12, 'Container name', false],
  'container.imageid': ['Image ID', 12, 'Container image ID', false],
  'container.image': ['Image Name', 12, 'Container image name', false],
  'container.type': ['Cont Type', 8, 'Container type', false],
  'container.privileged': ['Privileged', 5, 'Container privilege status', false],
  'pf.nthreads': ['NoThreads', 8, 'Threads created', false],
  'pf.nexits': ['NoThrExits', 8, 'Threads exited', false],
  'pf.nerrors': ['NoThrErrs', 8, 'Clone errors', false],
  'pod.id': ['Pod Id', 12, 'Pod Identifier', false],
  'pod.name': ['Pod Name', 30, 'Pod Name', false],
  'pod.nname': ['Pod Node Name', 12, 'Pod Node Name', false],
  'pod.hostip': ['Pod Host IP', 16, 'Pod Host IP', false],
  'pod.internalip': ['Pod Intern IP', 16, 'Pod Internal IP', false],
  'pod.ns': ['Pod Namespace', 12, 'Pod Namespace', false],
  'pod.rstrtcnt': ['Rstrt Cnt', 9, 'Pod Restart Count', false],
  'pod.services': ['Pod Services', 100, 'Pod Services', false],
  'k8s.action': ['K8s EV Action', 25, 'K8s Event Action', false],
  'k8s.kind': ['K8s EV Comp Type', 26, 'K8s Event Component Type', false],
  'k8s.msg': ['K8s EV Msg', 100, 'K8s Event Message', false],
  'node.id': ['Node ID', 12, 'Node identifier', false],
  'node.ip': ['Node IP', 16, 'Node IP address', false],
  tags: ['Tags', 10, 'Enrichment tags', false],
  schema: ['SF Schema', 8, 'SysFlow schema version', false],
  version: ['API version', 8, 'SysFlow JSON schema version', false],
  filename: ['File name', 15, 'SysFlow trace file name', false],
};

export const SYSPRINT_DEFAULT_FIELDS: readonly string[] = [
  'ts_uts',
  'type',
  'proc.exe',
  'proc.args',
  'pproc.pid',
  'proc.pid',
  'proc.tid',
  'opflags',
  'res',
  'flow.rbytes',
  'flow.wbytes',
  'container.id',
];
export const SYSPRINT_K8S_FIELDS: readonly string[] = [...SYSPRINT_DEFAULT_FIELDS, 'pod.name'];
export const SYSPRINT_K8S_EVENT_FIELDS: readonly string[] = ['ts_uts', 'type', 'k8s.action', 'k8s.kind', 'k8s.msg'];

/**
 * Writer-schema fields a trace lacks ("P.entry", "P.cwd", "P.env", "H.ip", "H.filename",
 * "NF.fd"): sysprint prints "" for them (`hasattr` checks) where our normalised objects hold
 * defaults. Computed by `absentFieldsOf` from the writer schema.
 */
export type AbsentFields = ReadonlySet<string>;

/** Absent-field set for a trace, from its writer schema's field lists. */
export function absentFieldsOf(writerFields: Readonly<Partial<Record<string, readonly string[]>>>): AbsentFields {
  const out = new Set<string>();
  const check = (t: string, f: string): void => {
    const fs = writerFields[t];
    if (fs && !fs.includes(f)) out.add(`${t}.${f}`);
  };
  check('P', 'entry');
  check('P', 'cwd');
  check('P', 'env');
  check('H', 'ip');
  check('H', 'filename');
  check('NF', 'fd');
  // Interned: equal sets are the same object, so compiled row writers and cached entity JSON
  // (keyed by this set) are shared by every file of the same schema variant.
  const key = [...out].join(',');
  let shared = INTERNED.get(key);
  if (!shared) INTERNED.set(key, (shared = out));
  return shared;
}
const INTERNED = new Map<string, AbsentFields>();

export type Getter = (v: SfRecordView, absent: AbsentFields) => PyValue;
const NO_TAGS = new PyTuple([]);

const envStr = (env: readonly string[]): string => env.filter((e) => e !== '' && e !== '=').join(';');
const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const dirName = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '') : p.slice(0, i);
};
const tsOf = (v: SfRecordView): bigint => v.obj.rec.ts;
const opFlagsOf = (v: SfRecordView): number | null => (v.obj.type === 'KE' ? null : v.obj.rec.opFlags);
const procField =
  <T extends PyValue>(f: (p: Process) => T, dflt: PyValue): Getter =>
  (v) =>
    v.proc ? f(v.proc) : dflt;
const pprocField =
  <T extends PyValue>(f: (p: Process) => T, dflt: PyValue): Getter =>
  (v) =>
    v.pproc ? f(v.pproc) : dflt;
const flowCounter = (k: 'numRRecvBytes' | 'numRRecvOps' | 'numWSendBytes' | 'numWSendOps'): Getter => (v) =>
  v.obj.type === 'FF' || v.obj.type === 'NF' ? v.obj.rec[k] : null;
const pfCounter = (k: 'numThreadsCloned' | 'numThreadsExited' | 'numCloneErrors'): Getter => (v) =>
  v.obj.type === 'PF' ? v.obj.rec[k] : null;
const nf = <T extends PyValue>(f: (r: { sip: number; dip: number; sport: number; dport: number; proto: number }) => T, dflt: PyValue): Getter => (v) =>
  v.obj.type === 'NF' ? f(v.obj.rec) : dflt;

/** Getters for every key of sysprint's flat map, in its order. */
const FLAT: readonly (readonly [string, Getter])[] = [
  ['version', () => SYSPRINT_JSON_VERSION],
  ['type', (v) => v.type],
  ['state', (v) => (v.proc ? v.proc.state : v.file ? v.file.state : '')],
  ['opflags', (v) => {
    const f = opFlagsOf(v);
    return f === null ? '' : opFlagsSysprint(f);
  }],
  ['opflags_bitmap', (v) => opFlagsOf(v) ?? ''],
  ['ret', (v) => (v.obj.type === 'PE' || v.obj.type === 'FE' || v.obj.type === 'NE' ? v.obj.rec.ret : null)],
  ['ts', (v) => isoFromNs(tsOf(v))],
  ['ts_uts', (v) => tsOf(v)],
  ['endts', (v) => (v.obj.type === 'FF' || v.obj.type === 'NF' || v.obj.type === 'PF' ? isoFromNs(v.obj.rec.endTs) : '')],
  ['endts_uts', (v) => (v.obj.type === 'FF' || v.obj.type === 'NF' || v.obj.type === 'PF' ? v.obj.rec.endTs : null)],
  ['proc.pid', procField((p) => p.oid.hpid, null)],
  ['proc.tid', (v) => (v.obj.type === 'KE' || v.obj.type === 'PF' ? null : v.obj.rec.tid)],
  ['proc.uid', procField((p) => p.uid, null)],
  ['proc.user', procField((p) => p.userName, '')],
  ['proc.gid', procField((p) => p.gid, null)],
  ['proc.group', procField((p) => p.groupName, '')],
  ['proc.cwd', (v, a) => (v.proc && !a.has('P.cwd') ? v.proc.cwd : '')],
  ['proc.exe', procField((p) => p.exe, '')],
  ['proc.args', procField((p) => p.exeArgs, '')],
  ['proc.tty', procField((p) => p.tty, '')],
  ['proc.entry', (v, a) => (v.proc && !a.has('P.entry') ? v.proc.entry : '')],
  ['proc.env', (v, a) => (v.proc && !a.has('P.env') ? envStr(v.proc.env) : '')],
  ['proc.createts', procField((p) => p.oid.createTS, null)],
  ['pproc.pid', pprocField((p) => p.oid.hpid, null)],
  ['pproc.gid', pprocField((p) => p.gid, null)],
  ['pproc.uid', pprocField((p) => p.uid, null)],
  ['pproc.group', pprocField((p) => p.groupName, '')],
  ['pproc.tty', pprocField((p) => p.tty, '')],
  ['pproc.entry', (v, a) => (v.pproc && !a.has('P.entry') ? v.pproc.entry : '')],
  ['pproc.env', (v, a) => (v.pproc && !a.has('P.env') ? envStr(v.pproc.env) : '')],
  ['pproc.user', pprocField((p) => p.userName, '')],
  ['pproc.cwd', (v, a) => (v.pproc && !a.has('P.cwd') ? v.pproc.cwd : '')],
  ['pproc.exe', pprocField((p) => p.exe, '')],
  ['pproc.args', pprocField((p) => p.exeArgs, '')],
  ['pproc.createts', pprocField((p) => p.oid.createTS, '')],
  ['file.fd', (v, a) => (v.obj.type === 'FF' ? v.obj.rec.fd : v.obj.type === 'NF' && !a.has('NF.fd') ? v.obj.rec.fd : '')],
  ['file.path', (v) => (v.file ? v.file.path : '')],
  ['file.newpath', (v) => (v.newFile ? v.newFile.path : '')],
  ['file.type', (v) => (v.file ? restypeChar(v.file.restype) : '')],
  ['file.openflags', (v) => (v.obj.type === 'FF' ? v.obj.rec.openFlags : '')],
  ['net.proto', nf((r) => r.proto, '')],
  ['net.sport', nf((r) => r.sport, null)],
  ['net.dport', nf((r) => r.dport, null)],
  ['net.sip', nf((r) => ipIntToString(r.sip), '')],
  ['net.dip', nf((r) => ipIntToString(r.dip), '')],
  ['res', (v) => {
    if (v.type === 'FF' || v.type === 'FE') return (v.file ? v.file.path : '') + (v.newFile ? ', ' + v.newFile.path : '');
    if (v.obj.type === 'NF') {
      const r = v.obj.rec;
      return `${ipIntToString(r.sip)}:${r.sport}-${ipIntToString(r.dip)}:${r.dport}`;
    }
    return '';
  }],
  ['flow.rbytes', flowCounter('numRRecvBytes')],
  ['flow.rops', flowCounter('numRRecvOps')],
  ['flow.wbytes', flowCounter('numWSendBytes')],
  ['flow.wops', flowCounter('numWSendOps')],
  ['pf.nthreads', pfCounter('numThreadsCloned')],
  ['pf.nexits', pfCounter('numThreadsExited')],
  ['pf.nerrors', pfCounter('numCloneErrors')],
  ['container.id', (v) => (v.container ? v.container.id : '')],
  ['container.name', (v) => (v.container ? v.container.name : '')],
  ['container.imageid', (v) => (v.container ? v.container.imageid : '')],
  ['container.image', (v) => (v.container ? v.container.image : '')],
  ['container.type', (v) => (v.container ? v.container.type : '')],
  ['container.privileged', (v) => (v.container ? v.container.privileged : '')],
  ['pod.id', (v) => (v.pod ? v.pod.id : '')],
  ['pod.name', (v) => (v.pod ? v.pod.name : '')],
  ['pod.nname', (v) => (v.pod ? v.pod.nodeName : '')],
  ['pod.hostip', (v) => (v.pod ? v.pod.hostIP.map(ipIntToString) : '')],
  ['pod.internalip', (v) => (v.pod ? v.pod.internalIP.map(ipIntToString) : '')],
  ['pod.ns', (v) => (v.pod ? v.pod.namespace : '')],
  ['pod.rstrtcnt', (v) => (v.pod ? v.pod.restartCount : null)],
  ['pod.services', (v) =>
    v.pod
      ? v.pod.services.map((s) => ({
          name: s.name,
          id: s.id,
          namespace: s.namespace,
          portList: s.portList.map((p) => ({ port: p.port, targetPort: p.targetPort, nodePort: p.nodePort, proto: p.proto })),
          clusterIP: s.clusterIP.map(ipIntToString),
        }))
      : ''],
  ['node.id', (v) => (v.header ? v.header.exporter : '')],
  ['node.ip', (v, a) => (v.header && !a.has('H.ip') ? v.header.ip : '')],
  ['filename', (v, a) => (v.header && !a.has('H.filename') ? v.header.filename : '')],
  ['schema', (v) => (v.header ? v.header.version : '')],
  // sysprint: `tags if tags else ()`, and it never has tags: [] in JSON, () in CSV.
  ['tags', () => NO_TAGS],
  ['k8s.action', (v) => (v.obj.type === 'KE' ? v.obj.rec.action : '')],
  ['k8s.kind', (v) => (v.obj.type === 'KE' ? v.obj.rec.kind : '')],
  ['k8s.msg', (v) => (v.obj.type === 'KE' ? v.obj.rec.message : '')],
];

/**
 * Query-only keys sysprint lists but leaves "" in output; we compute their values (the
 * sf-processor meanings), a documented superset of sysprint.
 */
const QUERY_ONLY: Readonly<Record<string, Getter>> = {
  'proc.name': procField((p) => baseName(p.exe), ''),
  'proc.cmdline': procField((p) => (p.exeArgs ? `${p.exe} ${p.exeArgs}` : p.exe), ''),
  'proc.apid': (v) => (v.proc ? [v.proc, ...v.ancestors()].map((p) => p.oid.hpid) : ''),
  'proc.aname': (v) => (v.proc ? [v.proc, ...v.ancestors()].map((p) => baseName(p.exe)) : ''),
  'pproc.name': pprocField((p) => baseName(p.exe), ''),
  'pproc.cmdline': pprocField((p) => (p.exeArgs ? `${p.exe} ${p.exeArgs}` : p.exe), ''),
  'file.name': (v) => (v.file ? baseName(v.file.path) : ''),
  'file.directory': (v) => (v.file ? dirName(v.file.path) : ''),
  'file.is_open_write': (v) => (v.obj.type === 'FF' ? (v.obj.rec.openFlags & 3) >= 2 : ''),
  'file.is_open_read': (v) => (v.obj.type === 'FF' ? (v.obj.rec.openFlags & 3) === 1 || (v.obj.rec.openFlags & 3) === 3 : ''),
  'net.port': nf((r) => [r.sport, r.dport], ''),
  'net.ip': nf((r) => [ipIntToString(r.sip), ipIntToString(r.dip)], ''),
};

export const SYSPRINT_FLAT_KEYS: readonly string[] = FLAT.map(([k]) => k);
export const FLAT_GETTERS: ReadonlyMap<string, Getter> = new Map([...FLAT, ...Object.entries(QUERY_ONLY)]);

/** Every key accepted by `-c`, with its description (sysprint -l order, plus extras). */
export function listFields(): [string, string][] {
  return Object.entries(SYSPRINT_FIELDS).map(([k, v]) => [k, v[2]]);
}

export function isKnownField(k: string): boolean {
  return FLAT_GETTERS.has(k);
}

/** Flat record for the given keys (all flat keys when `fields` is null), in order. */
export function flatten(v: SfRecordView, fields: readonly string[] | null, absent: AbsentFields = EMPTY): [string, PyValue][] {
  const keys = fields ?? SYSPRINT_FLAT_KEYS;
  const out: [string, PyValue][] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const g = FLAT_GETTERS.get(k);
    out[i] = [k, g ? g(v, absent) : ''];
  }
  return out;
}
/** No field is absent (a trace whose writer wrote them all). */
export const EMPTY: AbsentFields = new Set();

