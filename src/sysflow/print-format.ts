// sysprint-compatible formatting of SfRecordViews (sf-apis py3 formatter.py): the flat record
// (keys, order and value formats), and the str (tabulate github), json (nested), flatjson and
// csv renderings. Only events and flows are printed, as sysprint does.
import { opFlagsSysprint, restypeChar } from './flags.js';
import { ipIntToString } from './ip.js';
import { PyTuple, isoFromNs, pyJson, pyJsonString, pyStr, sysprintCell, tabulateGithub } from './pyfmt.js';
import type { PyValue } from './pyfmt.js';
import { ByteSink } from './avro-encode.js';
import type { Process } from './types.js';
import type { SfRecordView } from './view.js';
import type { SfEventFlowType } from './types.js';

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

type Getter = (v: SfRecordView, absent: AbsentFields) => PyValue;
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
const FLAT_GETTERS: ReadonlyMap<string, Getter> = new Map([...FLAT, ...Object.entries(QUERY_ONLY)]);

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
const EMPTY: AbsentFields = new Set();

/** What a key's value depends on: the record, one joined entity, or nothing. */
type Dep = 'const' | 'record' | 'proc' | 'pproc' | 'file' | 'newFile' | 'container' | 'pod' | 'header';

function depOf(k: string): Dep {
  if (k === 'version' || k === 'tags') return 'const';
  if (k === 'proc.tid' || k === 'proc.apid' || k === 'proc.aname') return 'record';
  if (k.startsWith('proc.')) return 'proc';
  if (k.startsWith('pproc.')) return 'pproc';
  if (k === 'file.path' || k === 'file.type' || k === 'file.name' || k === 'file.directory') return 'file';
  if (k === 'file.newpath') return 'newFile';
  if (k.startsWith('container.')) return 'container';
  if (k.startsWith('pod.')) return 'pod';
  if (k === 'node.id' || k === 'node.ip' || k === 'filename' || k === 'schema') return 'header';
  return 'record';
}

const entityOf = (v: SfRecordView, d: Dep): object | null =>
  d === 'proc' ? v.proc : d === 'pproc' ? v.pproc : d === 'file' ? v.file : d === 'newFile' ? v.newFile : d === 'container' ? v.container : d === 'pod' ? v.pod : d === 'header' ? v.header : null;

type Token = { s: string } | { slot: number };
// Constant bytes, or a writer for one record-level value or one cached entity run.
type Piece = Buffer | ((v: SfRecordView, a: AbsentFields, out: ByteSink) => void);

/**
 * Compiled JSON line writer for a fixed key list: nested (sysprint json, dotted keys expanded
 * like dotty_dict) or flat. Runs of consecutive keys that depend on the same entity (e.g. all of
 * proc.* but tid, or pproc.*) are rendered once per entity object and cached: rows share
 * their process's JSON text, which is most of the bytes (env strings can be kilobytes).
 */
export function compileJsonLine(fields: readonly string[] | null, nested: boolean): (v: SfRecordView, absent: AbsentFields) => string {
  const w = compileJsonLineBytes(fields, nested);
  const sink = new ByteSink(4096);
  return (v, a) => {
    sink.reset();
    w(v, a, sink);
    return sink.view().toString('latin1');
  };
}

/**
 * The same, appending the line's bytes to `out`. json.dumps output is pure ASCII (ensure_ascii),
 * so strings are written as latin1 and cached runs are kept as Buffers (memcpy per row).
 */
export function compileJsonLineBytes(
  fields: readonly string[] | null,
  nested: boolean,
): (v: SfRecordView, absent: AbsentFields, out: ByteSink) => void {
  const keys = fields ?? SYSPRINT_FLAT_KEYS;
  const getters = keys.map((k) => FLAT_GETTERS.get(k) ?? (() => ''));
  const tokens: Token[] = [];
  if (!nested) {
    keys.forEach((k, i) => {
      tokens.push({ s: (i === 0 ? '{' : ', ') + pyJsonString(k) + ': ' }, { slot: i });
    });
    tokens.push({ s: keys.length ? '}' : '{}' });
  } else {
    // A tree in first-appearance order; a later key colliding with a leaf/subtree replaces it,
    // as dict assignment would.
    interface Node {
      kids: Map<string, Node | number>;
    }
    const root: Node = { kids: new Map() };
    keys.forEach((k, i) => {
      const parts = k.split('.');
      let n = root;
      for (let j = 0; j < parts.length - 1; j++) {
        const p = parts[j]!;
        let next = n.kids.get(p);
        if (next === undefined || typeof next === 'number') {
          next = { kids: new Map() };
          n.kids.set(p, next);
        }
        n = next;
      }
      n.kids.set(parts[parts.length - 1]!, i);
    });
    const walk = (n: Node): void => {
      tokens.push({ s: '{' });
      let first = true;
      for (const [k, c] of n.kids) {
        tokens.push({ s: (first ? '' : ', ') + pyJsonString(k) + ': ' });
        first = false;
        if (typeof c === 'number') tokens.push({ slot: c });
        else walk(c);
      }
      tokens.push({ s: '}' });
    };
    walk(root);
  }
  // Pieces are compiled per (absent-field set, record type): a record-level key whose value is
  // fixed for that type (e.g. net.* on a FileFlow) is folded into the constant text.
  const compiled = new WeakMap<AbsentFields, Map<SfEventFlowType, RowWriter>>();
  const compileFor = (v: SfRecordView, absent: AbsentFields): RowWriter => {
    const steps: Step[] = [];
    let text = '';
    const depOfTok = (t: Token): Dep | null => {
      if (!('slot' in t)) return null;
      const d = depOf(keys[t.slot]!);
      if (d === 'record') return constantFor(keys[t.slot]!, v.type) ? 'const' : d;
      // Entities a record type never has are constant (null) for it: fold them, which also
      // lets e.g. file.path and file.type of a FileFlow form one cached run.
      if ((d === 'file' && v.type !== 'FF' && v.type !== 'FE') || (d === 'newFile' && v.type !== 'FE')) return 'const';
      if ((d === 'proc' || d === 'pproc') && v.type === 'KE') return 'const';
      return d;
    };
    let i = 0;
    while (i < tokens.length) {
      const t = tokens[i]!;
      const d = depOfTok(t);
      if (d === null || d === 'const') {
        text += 'slot' in t ? pyJson(getters[t.slot]!(v, absent)) : t.s;
        i++;
        continue;
      }
      // The constant text before a record slot is written by the slot's step.
      const prefix = Buffer.from(text, 'latin1');
      text = '';
      if (d === 'record') {
        steps.push({ k: 'rec', slot: (t as { slot: number }).slot, prefix });
        i++;
        continue;
      }
      if (prefix.length) steps.push({ k: 'const', b: prefix });
      // Extend the run over text tokens and slots of the same entity; it must end on a slot.
      let j = i;
      let lastSlot = i;
      while (j < tokens.length) {
        const dj = depOfTok(tokens[j]!);
        if (dj === null || dj === 'const') {
          j++;
          continue;
        }
        if (dj !== d) break;
        lastSlot = j;
        j++;
      }
      steps.push({ k: 'run', piece: entityRun(tokens.slice(i, lastSlot + 1), d) });
      i = lastSlot + 1;
    }
    if (text) steps.push({ k: 'const', b: Buffer.from(text, 'latin1') });
    return generateRowWriter(steps, v.type, keys, getters);
  };
  // Entity runs are cached per entity object (and absent set), shared by all record types.
  const runCache = new Map<string, Piece>();
  const entityRun = (run: Token[], d: Dep): Piece => {
    const id = d + ':' + run.map((t) => ('slot' in t ? `#${t.slot}` : t.s)).join('\u0000');
    const hit = runCache.get(id);
    if (hit) return hit;
    const renderRun = (v: SfRecordView, a: AbsentFields): Buffer => {
      let s = '';
      for (const r of run) s += 'slot' in r ? pyJson(getters[r.slot]!(v, a)) : r.s;
      return Buffer.from(s, 'latin1');
    };
    const caches = new WeakMap<AbsentFields, WeakMap<object, Buffer>>();
    const nullCache = new WeakMap<AbsentFields, Buffer>();
    let lastE: object | null = null;
    let lastA: AbsentFields | null = null;
    let lastB: Buffer | null = null;
    const piece: Piece = (v, a, out) => {
      const e = entityOf(v, d);
      // Consecutive rows usually share their process/file: check the last one first.
      if (e === lastE && a === lastA && lastB !== null) {
        out.raw(lastB);
        return;
      }
      let b: Buffer | undefined;
      if (e === null) {
        b = nullCache.get(a);
        if (b === undefined) nullCache.set(a, (b = renderRun(v, a)));
      } else {
        let m = caches.get(a);
        if (!m) caches.set(a, (m = new WeakMap()));
        b = m.get(e);
        if (b === undefined) m.set(e, (b = renderRun(v, a)));
      }
      lastE = e;
      lastA = a;
      lastB = b;
      out.raw(b);
    };
    runCache.set(id, piece);
    return piece;
  };
  return (v, a, out) => {
    let byType = compiled.get(a);
    if (!byType) compiled.set(a, (byType = new Map()));
    let w = byType.get(v.type);
    if (!w) byType.set(v.type, (w = compileFor(v, a)));
    w(v, a, out);
  };
}

type RowWriter = (v: SfRecordView, a: AbsentFields, out: ByteSink) => void;
/** One step of a row: constant bytes, a record-level value (after its prefix), an entity run. */
type Step = { k: 'const'; b: Buffer } | { k: 'rec'; slot: number; prefix: Buffer } | { k: 'run'; piece: Piece };

/**
 * Direct JSON expressions for hot record-level keys, per record type, over `r` (the record) —
 * no PyValue boxing, no type dispatch, no escaping for values that are ASCII-safe by
 * construction. Keys not listed use the generic getter + json.dumps emulation.
 */
const DIRECT: Readonly<Record<string, string>> = {
  ts: `out.byte(34); H.iso(out, r.ts); out.byte(34);`,
  ts_uts: `H.big(out, r.ts);`,
  endts: `out.byte(34); H.iso(out, r.endTs); out.byte(34);`,
  endts_uts: `H.big(out, r.endTs);`,
  opflags: `out.raw(H.opf(r.opFlags));`,
  opflags_bitmap: `out.int10(r.opFlags);`,
  ret: `out.int10(r.ret);`,
  'proc.tid': `H.big(out, r.tid);`,
  'file.openflags': `out.int10(r.openFlags);`,
  'flow.rbytes': `H.big(out, r.numRRecvBytes);`,
  'flow.rops': `H.big(out, r.numRRecvOps);`,
  'flow.wbytes': `H.big(out, r.numWSendBytes);`,
  'flow.wops': `H.big(out, r.numWSendOps);`,
  'pf.nthreads': `H.big(out, r.numThreadsCloned);`,
  'pf.nexits': `H.big(out, r.numThreadsExited);`,
  'pf.nerrors': `H.big(out, r.numCloneErrors);`,
  'net.proto': `out.int10(r.proto);`,
  'net.sport': `out.int10(r.sport);`,
  'net.dport': `out.int10(r.dport);`,
  'net.sip': `out.byte(34); out.ascii(H.ip(r.sip)); out.byte(34);`,
  'net.dip': `out.byte(34); out.ascii(H.ip(r.dip)); out.byte(34);`,
};
/** `file.fd` is direct for FileFlow only (a P8 NetworkFlow has none: generic path). */
const directFor = (key: string, t: SfEventFlowType): string | undefined => (key === 'file.fd' ? (t === 'FF' ? `out.int10(r.fd);` : undefined) : DIRECT[key]);

const opfCache = new Map<number, Buffer>();
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const E9 = 1_000_000_000n;
// Consecutive timestamps share their seconds: the ISO date part is cached per second.
let isoSec = NaN;
let isoBuf = Buffer.alloc(0);

const HELPERS = {
  /** bigint decimal digits: safe values without a string; larger ones via BigInt#toString
   * (measured faster here than splitting off a cached seconds prefix). */
  big(out: ByteSink, x: bigint): void {
    if (x <= SAFE && x >= -SAFE) out.int10(Number(x));
    else out.ascii(x.toString());
  },
  /** isoFromNs written straight into the buffer (same arithmetic as pyfmt.isoFromNs). */
  iso(out: ByteSink, ns: bigint): void {
    const d = Number(ns) / 1e9;
    if (!(d >= 0)) return out.ascii(isoFromNs(ns)); // before 1970: the general path
    let intpart = Math.trunc(d);
    // Python's half-even rounding of the fraction to microseconds (x >= 0 here).
    const x = (d - intpart) * 1e6;
    let us = Math.round(x);
    if (us - x === 0.5 && us % 2 === 1) us -= 1;
    if (us >= 1e6) {
      us -= 1e6;
      intpart += 1;
    } else if (us < 0) {
      us += 1e6;
      intpart -= 1;
    }
    if (intpart !== isoSec) {
      const full = isoFromNs(BigInt(intpart) * E9);
      if (full.length !== 19) return out.ascii(isoFromNs(ns)); // out-of-range years: generic
      isoSec = intpart;
      isoBuf = Buffer.from(full, 'latin1');
    }
    out.raw(isoBuf);
    if (us !== 0) {
      out.byte(0x2e);
      out.int10pad(us, 6);
    }
  },
  ip: ipIntToString,
  opf(f: number): Buffer {
    let b = opfCache.get(f);
    if (b === undefined) opfCache.set(f, (b = Buffer.from(pyJsonString(opFlagsSysprint(f)), 'latin1')));
    return b;
  },
};


/**
 * Generate straight-line code for one record type: each call site is monomorphic (one record
 * shape, one getter), which V8 inlines; constants are copied, entity runs come from their cache.
 * The generated source only contains indices and the fixed expressions above, never data.
 */
function generateRowWriter(
  steps: readonly Step[],
  type: SfEventFlowType,
  keys: readonly string[],
  getters: readonly Getter[],
): RowWriter {
  const C: Buffer[] = [];
  const R: Piece[] = [];
  const G: ((v: SfRecordView, a: AbsentFields) => string)[] = [];
  const lines: string[] = ['const r = v.obj.rec;'];
  // Short constants become inline byte stores (no call, no loop); long ones a copy.
  const emitConst = (b: Buffer): void => {
    if (b.length === 0) return;
    if (b.length > 64) {
      lines.push(`out.raw(C[${C.length}]);`);
      C.push(b);
      return;
    }
    const stores = Array.from(b, (x, i) => `b[p + ${i}] = ${x};`).join(' ');
    lines.push(`out.ensure(${b.length}); { const b = out.buf; const p = out.len; ${stores} out.len = p + ${b.length}; }`);
  };
  for (const st of steps) {
    if (st.k === 'const') {
      emitConst(st.b);
    } else if (st.k === 'run') {
      lines.push(`R[${R.length}](v, a, out);`);
      R.push(st.piece);
    } else {
      emitConst(st.prefix);
      const stmt = directFor(keys[st.slot]!, type);
      if (stmt !== undefined) lines.push(stmt);
      else {
        // Generic: getter, then json.dumps with a memo of the previous row's value.
        const g = getters[st.slot]!;
        let lastV: PyValue | undefined;
        let lastJ = '';
        G.push((row, a) => {
          const x = g(row, a);
          if (x !== lastV || typeof x === 'object') {
            lastV = x;
            lastJ = pyJson(x);
          }
          return lastJ;
        });
        lines.push(`out.ascii(G[${G.length - 1}](v, a));`);
      }
    }
  }
  const body = `return function row(v, a, out) {\n${lines.join('\n')}\n};`;
  return new Function('C', 'R', 'G', 'H', body)(C, R, G, HELPERS) as RowWriter;
}

/** Record types for which a record-level key varies; for all other types it is a constant. */
const VARYING: Readonly<Record<string, readonly SfEventFlowType[]>> = {
  type: [],
  opflags: ['PE', 'NF', 'FF', 'FE', 'NE', 'PF'],
  opflags_bitmap: ['PE', 'NF', 'FF', 'FE', 'NE', 'PF'],
  ret: ['PE', 'FE', 'NE'],
  endts: ['FF', 'NF', 'PF'],
  endts_uts: ['FF', 'NF', 'PF'],
  'proc.tid': ['PE', 'NF', 'FF', 'FE', 'NE'],
  'file.fd': ['FF', 'NF'],
  'file.openflags': ['FF'],
  'file.is_open_write': ['FF'],
  'file.is_open_read': ['FF'],
  'net.proto': ['NF'],
  'net.sport': ['NF'],
  'net.dport': ['NF'],
  'net.sip': ['NF'],
  'net.dip': ['NF'],
  'net.port': ['NF'],
  'net.ip': ['NF'],
  res: ['FF', 'FE', 'NF'],
  'flow.rbytes': ['FF', 'NF'],
  'flow.rops': ['FF', 'NF'],
  'flow.wbytes': ['FF', 'NF'],
  'flow.wops': ['FF', 'NF'],
  'pf.nthreads': ['PF'],
  'pf.nexits': ['PF'],
  'pf.nerrors': ['PF'],
  'k8s.action': ['KE'],
  'k8s.kind': ['KE'],
  'k8s.msg': ['KE'],
};

function constantFor(key: string, t: SfEventFlowType): boolean {
  const v = VARYING[key];
  return v !== undefined && !v.includes(t);
}

/** One CSV field as Python's csv module writes it (QUOTE_MINIMAL, "\r\n" line terminator). */
export function csvField(v: PyValue): string {
  const s = pyStr(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export type OutputMode = 'str' | 'json' | 'flatjson' | 'csv';

export interface SysprintPrinterOptions {
  output: OutputMode;
  /** `-c` keys; null = sysprint defaults (str: default columns; others: every flat key). */
  fields: readonly string[] | null;
  /** Terminal width used for str column sizing (sysprint falls back to 80 when not a tty). */
  termColumns: number;
  /**
   * Columns whose base widths set the str width factor; default `fields`. sysprint sizes by its
   * default columns when `-A` prints all of them (it computes the factor before that switch).
   */
  sizeFields?: readonly string[] | null;
  /** Output sink; a Buffer chunk is only valid during the call (copy it to keep it). */
  write: (chunk: string | Buffer) => void;
}

/**
 * Streams views of one or more files. As sysprint runs its formatter per file, `beginFile`
 * restarts the record numbering and the table header; the CSV header is written once.
 */
export class SysprintPrinter {
  private absent: AbsentFields = EMPTY;
  private idx = 0;
  private firstChunk = true;
  private pending: string[][] = [];
  private csvHeaderDone = false;
  private readonly jsonLine: ((v: SfRecordView, a: AbsentFields, out: ByteSink) => void) | null;
  private readonly bytes = new ByteSink(320 * 1024);
  private readonly strFields: readonly string[];
  private readonly strWidths: number[];
  private readonly out: string[] = [];

  constructor(private readonly opts: SysprintPrinterOptions) {
    this.jsonLine =
      opts.output === 'json' ? compileJsonLineBytes(opts.fields, true) : opts.output === 'flatjson' ? compileJsonLineBytes(opts.fields, false) : null;
    this.strFields = opts.fields ?? SYSPRINT_DEFAULT_FIELDS;
    // Width factor: wf = min((cols - (n*6+10)) / sum(base widths), 1.25); int(wf*base) if > 8.
    const base = (k: string): number => SYSPRINT_FIELDS[k]?.[1] ?? 20;
    const sel = [...new Set(opts.sizeFields ?? this.strFields)].filter((k) => k in SYSPRINT_FIELDS && !SYSPRINT_FIELDS[k]![3]);
    const tw = sel.reduce((s, k) => s + base(k), 0);
    const pw = sel.length * 6 + 10;
    const wf = tw > 0 ? Math.min((opts.termColumns - pw) / tw, 1.25) : 1;
    const width = (k: string): number => {
      const sw = Math.trunc(wf * base(k));
      return sw > 8 ? sw : base(k);
    };
    this.strWidths = ['idx', ...this.strFields].map(width);
  }

  beginFile(absent: AbsentFields = EMPTY): void {
    this.absent = absent;
    this.idx = 0;
    this.firstChunk = true;
    this.pending = [];
  }

  add(v: SfRecordView): void {
    switch (this.opts.output) {
      case 'json':
      case 'flatjson':
        this.jsonLine!(v, this.absent, this.bytes);
        this.bytes.byte(0x0a);
        if (this.bytes.len >= 256 * 1024) this.flushBytes();
        return;
      case 'csv': {
        const rec = flatten(v, this.opts.fields, this.absent);
        if (!this.csvHeaderDone) {
          this.csvHeaderDone = true;
          this.out.push(rec.map(([k]) => csvField(k)).join(','));
        }
        this.out.push(rec.map(([, x]) => csvField(x)).join(','));
        if (this.out.length >= 512) this.flushOut(true);
        return;
      }
      case 'str': {
        const rec = flatten(v, this.strFields, this.absent);
        const row: string[] = new Array(rec.length + 1);
        row[0] = sysprintCell(String(this.idx), this.strWidths[0]!);
        for (let i = 0; i < rec.length; i++) row[i + 1] = sysprintCell(strCellValue(rec[i]![1]), this.strWidths[i + 1]!);
        this.pending.push(row);
        // sysprint flushes after appending record idx when idx > 0 and idx % 1000 == 0.
        if (this.idx > 0 && this.idx % 1000 === 0) this.flushTable();
        this.idx++;
        return;
      }
    }
  }

  endFile(): void {
    if (this.opts.output === 'str' && this.pending.length) this.flushTable();
    this.flushOut(this.opts.output === 'csv');
    this.flushBytes();
  }

  private flushBytes(): void {
    if (this.bytes.len === 0) return;
    this.opts.write(this.bytes.view());
    this.bytes.reset();
  }

  private flushTable(): void {
    const headers = this.firstChunk ? ['idx', ...this.strFields].map((k) => SYSPRINT_FIELDS[k]?.[0] ?? k) : null;
    this.opts.write(tabulateGithub(this.pending, headers) + '\n');
    this.firstChunk = false;
    this.pending = [];
  }

  private flushOut(crlf = false): void {
    if (!this.out.length) return;
    const eol = crlf ? '\r\n' : '\n';
    this.opts.write(this.out.join(eol) + eol);
    this.out.length = 0;
  }
}

/** Table cell text before padding: str/int as is, None as "", others json.dumps; bool as int. */
function strCellValue(x: PyValue): string {
  if (x === null) return '';
  if (typeof x === 'string') return x;
  if (typeof x === 'number' || typeof x === 'bigint') return String(x);
  // bool is an int in Python: '{0: <w}'.format(True) gives '1'.
  if (typeof x === 'boolean') return x ? '1' : '0';
  return pyJson(x);
}
