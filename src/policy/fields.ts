// Field catalogue: every `sf.*` attribute of the SysFlow policy documentation, the attributes
// sf-processor implements beyond it, and the Falco names the documentation lists as equivalents,
// each resolved against an SfRecordView. Getters never allocate on the common path: derived
// strings (proc.name, cmdline, ancestry lists, file name/directory) are memoised per entity
// object, which mirrors sf-processor's per-OID process-tree cache.
//
// Missing data (a PE has no file, a host process has no container) yields the zero value
// ('' / 0 / false / []), as in sf-processor, so `exists` is false and `!=` is true.
import type { SfRecordView } from '../sysflow/view.js';
import type { File, Process } from '../sysflow/types.js';
import { ipIntToString } from '../sysflow/ip.js';
import { processOidHex } from './xxhash.js';
import { EVT_TYPE_NAMES, FALCO_EVT_UNAVAILABLE, OP_FLAG_NAMES, OPEN_FLAGS, OPEN_FLAG_NAMES, PROTO_SYMBOLS, RECORD_TYPES, errnoName, evtTypeBitTest, evtTypeNames, openflagNames, opflagBitTest, opflagNames } from './flag-names.js';

export type FieldType = 'string' | 'int' | 'int64' | 'bool' | 'strings' | 'ints';

export interface FieldValueMap {
  string: string;
  int: number;
  int64: bigint;
  bool: boolean;
  strings: readonly string[];
  ints: readonly number[];
}

export interface FieldDef<T extends FieldType = FieldType> {
  readonly name: string;
  readonly type: T;
  readonly get: (v: SfRecordView) => FieldValueMap[T];
  /** Symbolic names accepted as literals for int fields (e.g. proto `tcp` → 6). */
  readonly symbols?: ReadonlyMap<string, number>;
  /** For list fields and value checks: the closed set of valid values (opflags, types). */
  readonly domain?: ReadonlySet<string>;
  /** `[N]` index argument supported (ancestry lists) or a JSON path (`sf.ke.message[a.b]`). */
  readonly arg?: 'index' | 'jsonpath';
  /**
   * Flag-set fields (opflags, openflags): the raw integer and a name → test mapping, so
   * `sf.opflags = EXEC` compiles to a bit test instead of a list scan.
   */
  readonly bits?: { readonly raw: (v: SfRecordView) => number; readonly test: (name: string) => ((x: number) => boolean) | undefined };
  /** Values that are valid for the Falco field but never occur in SysFlow (warned, not errors). */
  readonly unavailable?: ReadonlySet<string>;
  readonly desc: string;
  /**
   * `proc`: the value depends only on the record's Process entity (and what hangs off it:
   * parent, ancestry, user, container), so results can be cached per process. `record`: varies
   * per event/flow.
   */
  readonly scope: 'proc' | 'file' | 'record';
}

// ---- memoised derivations -----------------------------------------------------------------

interface ProcDerived {
  exe: string;
  args: string;
  name: string;
  cmdline: string;
  aname: readonly string[] | null;
  aexe: readonly string[] | null;
  acmdline: readonly string[] | null;
  apid: readonly number[] | null;
  chain: readonly Process[] | null;
  oid: string | null;
  poid: string | null;
}
const procMemo = new WeakMap<Process, ProcDerived>();

export function basename(p: string): string {
  const t = p.trim();
  const i = t.lastIndexOf('/');
  return i < 0 ? t : t.slice(i + 1);
}
export function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  if (i < 0) return '';
  if (i === 0) return '/';
  return p.slice(0, i);
}

function procDerived(p: Process): ProcDerived {
  let d = procMemo.get(p);
  if (d === undefined) {
    const exe = p.exe.trim();
    const args = p.exeArgs.trim();
    // sf-processor: cmdline = exe + " " + args (we drop the trailing blank when args is empty).
    d = { exe, args, name: basename(exe), cmdline: args ? `${exe} ${args}` : exe, aname: null, aexe: null, acmdline: null, apid: null, chain: null, oid: null, poid: null };
    procMemo.set(p, d);
  }
  return d;
}

/** Ancestry lists start with the process itself (as sf-processor's sf.proc.a* do). Each list
 * is built on first use only: most rule sets need aname but not aexe/acmdline/apid. */
function chainOf(v: SfRecordView, d: ProcDerived, p: Process): readonly Process[] {
  return (d.chain ??= Object.freeze([p, ...v.ancestors()]));
}
function anames(v: SfRecordView): readonly string[] {
  const p = v.proc;
  if (p === null) return EMPTY_S;
  const d = procDerived(p);
  return (d.aname ??= Object.freeze(chainOf(v, d, p).map((x) => procDerived(x).name)));
}
function aexes(v: SfRecordView): readonly string[] {
  const p = v.proc;
  if (p === null) return EMPTY_S;
  const d = procDerived(p);
  return (d.aexe ??= Object.freeze(chainOf(v, d, p).map((x) => procDerived(x).exe)));
}
function acmdlines(v: SfRecordView): readonly string[] {
  const p = v.proc;
  if (p === null) return EMPTY_S;
  const d = procDerived(p);
  return (d.acmdline ??= Object.freeze(chainOf(v, d, p).map((x) => procDerived(x).cmdline)));
}
function apids(v: SfRecordView): readonly number[] {
  const p = v.proc;
  if (p === null) return EMPTY_I;
  const d = procDerived(p);
  return (d.apid ??= Object.freeze(chainOf(v, d, p).map((x) => Number(x.oid.hpid))));
}

interface FileDerived {
  path: string;
  name: string;
  directory: string;
  typechar: string;
}
// Memoised on the entity under a symbol (with its owner, so a spread copy of the entity does not
// inherit it): live records bring a new File each, and a WeakMap entry per file cost more than
// the derivation. Frozen entities use the WeakMap.
const fileMemo = new WeakMap<File, FileDerived>();
const FILE_DERIVED = Symbol('file derived');
function fileDerived(f: File): FileDerived {
  const holder = f as File & { [FILE_DERIVED]?: { owner: File; d: FileDerived } };
  const extensible = Object.isExtensible(f);
  const h = extensible ? holder[FILE_DERIVED] : undefined;
  let d = h !== undefined && h.owner === f ? h.d : extensible ? undefined : fileMemo.get(f);
  if (d === undefined) {
    const path = f.path.trim();
    d = { path, name: basename(path), directory: dirname(path), typechar: f.restype > 0 ? String.fromCharCode(f.restype) : '' };
    if (extensible) holder[FILE_DERIVED] = { owner: f, d };
    else fileMemo.set(f, d);
  }
  return d;
}

const FD_TYPE_NAMES: Record<string, string> = {
  f: 'file', d: 'directory', '4': 'ipv4', '6': 'ipv6', u: 'unix', p: 'pipe', e: 'event', s: 'signalfd',
  l: 'eventpoll', i: 'inotify', o: 'unknown', '?': 'unknown',
};

const EMPTY_S: readonly string[] = Object.freeze([]);
const EMPTY_I: readonly number[] = Object.freeze([]);

// ---- record-level accessors -----------------------------------------------------------------

function opFlags(v: SfRecordView): number {
  const o = v.obj;
  return o.type === 'KE' ? 0 : o.rec.opFlags;
}
function ts(v: SfRecordView): bigint {
  return v.obj.rec.ts;
}
function endTs(v: SfRecordView): bigint {
  const o = v.obj;
  if (o.type === 'FF' || o.type === 'NF' || o.type === 'PF') return o.rec.endTs;
  if (o.type === 'KE') return o.rec.ts;
  return 0n;
}
function ret(v: SfRecordView): number {
  const o = v.obj;
  return o.type === 'PE' || o.type === 'FE' || o.type === 'NE' ? o.rec.ret : 0;
}
function tid(v: SfRecordView): number {
  const o = v.obj;
  return o.type === 'KE' || o.type === 'PF' ? (v.proc ? Number(v.proc.oid.hpid) : 0) : Number(o.rec.tid);
}
function net(v: SfRecordView): { sip: number; dip: number; sport: number; dport: number; proto: number } | null {
  const o = v.obj;
  return o.type === 'NF' || o.type === 'NE' ? o.rec : null;
}
function flowCounter(v: SfRecordView, k: 'numRRecvBytes' | 'numRRecvOps' | 'numWSendBytes' | 'numWSendOps'): bigint {
  const o = v.obj;
  return o.type === 'FF' || o.type === 'NF' ? o.rec[k] : 0n;
}
function openFlags(v: SfRecordView): number {
  const o = v.obj;
  return o.type === 'FF' ? o.rec.openFlags : 0;
}
function fd(v: SfRecordView): number {
  const o = v.obj;
  return o.type === 'FF' || o.type === 'NF' ? o.rec.fd : 0;
}

// IP strings are memoised by integer value (few distinct addresses per trace).
const ipMemo = new Map<number, string>();
function ipStr(n: number): string {
  let s = ipMemo.get(n);
  if (s === undefined) {
    s = ipIntToString(n);
    if (ipMemo.size > 65536) ipMemo.clear();
    ipMemo.set(n, s);
  }
  return s;
}
const pairMemo = new Map<string, readonly string[]>();
function ipPair(a: string, b: string): readonly string[] {
  const k = `${a}|${b}`;
  let r = pairMemo.get(k);
  if (r === undefined) {
    r = Object.freeze([a, b]);
    if (pairMemo.size > 65536) pairMemo.clear();
    pairMemo.set(k, r);
  }
  return r;
}
const portMemo = new Map<number, readonly number[]>();
function portPair(a: number, b: number): readonly number[] {
  const k = a * 65536 + b;
  let r = portMemo.get(k);
  if (r === undefined) {
    r = Object.freeze([a, b]);
    if (portMemo.size > 65536) portMemo.clear();
    portMemo.set(k, r);
  }
  return r;
}
const resMemo = new Map<string, string>();
function netResource(n: { sip: number; dip: number; sport: number; dport: number }): string {
  const k = `${n.sip}|${n.sport}|${n.dip}|${n.dport}`;
  let r = resMemo.get(k);
  if (r === undefined) {
    r = `${ipStr(n.sip)}:${n.sport}->${ipStr(n.dip)}:${n.dport}`;
    if (resMemo.size > 65536) resMemo.clear();
    resMemo.set(k, r);
  }
  return r;
}

// ---- catalogue -----------------------------------------------------------------------------

const defs = new Map<string, FieldDef>();
const RECORD_SCOPED = new Set(['sf.proc.tid', 'thread.tid']);
// Values that depend only on v.file when there is one (cached per File; records without a file
// are evaluated directly).
const FILE_SCOPED = new Set(['sf.file.path', 'sf.file.name', 'sf.file.directory', 'fd.filename', 'fd.directory', 'sf.file.oid', 'sf.file.type', 'fd.typechar', 'fd.type', 'sf.res', 'fd.name']);
function scopeOf(name: string): 'proc' | 'file' | 'record' {
  if (RECORD_SCOPED.has(name)) return 'record';
  if (FILE_SCOPED.has(name)) return 'file';
  return /^(sf\.proc\.|sf\.pproc\.|proc\.|user\.|group\.|sf\.container\.|container\.|sf\.pod\.|k8s\.pod\.|k8s\.ns\.|sf\.node\.|sf\.meta\.|sf\.schema\.|sf\.version$)/.test(name) ? 'proc' : 'record';
}
function def<T extends FieldType>(names: string | readonly string[], type: T, get: (v: SfRecordView) => FieldValueMap[T], desc: string, extra: Partial<Pick<FieldDef<T>, 'symbols' | 'domain' | 'arg' | 'unavailable' | 'bits'>> = {}): void {
  for (const name of typeof names === 'string' ? [names] : names) {
    defs.set(name, { name, type, get, desc, scope: scopeOf(name), ...extra } as unknown as FieldDef);
  }
}

const procStr = (f: (p: Process) => string) => (v: SfRecordView): string => (v.proc ? f(v.proc) : '');
const pprocStr = (f: (p: Process) => string) => (v: SfRecordView): string => (v.pproc ? f(v.pproc) : '');
const userName = (p: Process): string => p.userName;

// Record
def('sf.type', 'string', (v) => v.type, 'Record type (PE, PF, NF, FF, FE, KE)', { domain: RECORD_TYPES });
def('sf.opflags', 'strings', (v) => opflagNames(opFlags(v), v.type === 'NF' || v.type === 'NE'), 'Operation flags (names without OP_)', { domain: OP_FLAG_NAMES, bits: { raw: opFlags, test: opflagBitTest } });
def('evt.type', 'strings', (v) => evtTypeNames(opFlags(v), v.type === 'NF' || v.type === 'NE'), 'Operation flags plus the Falco syscall names they stand for (execve, open, ...)', { domain: EVT_TYPE_NAMES, unavailable: FALCO_EVT_UNAVAILABLE, bits: { raw: opFlags, test: evtTypeBitTest } });
def(['sf.ret', 'evt.rawres'], 'int', ret, 'Return code (PE, FE)');
def('evt.res', 'string', (v) => errnoName(ret(v)), 'Falco evt.res: SUCCESS, or the errno name of a negative return');
def(['sf.ts', 'evt.time', 'evt.rawtime'], 'int64', ts, 'Start timestamp (ns)');
def('sf.endts', 'int64', endTs, 'End timestamp (ns) of flows');
def('evt.dir', 'strings', () => EVT_DIR, 'Constant "<" and ">": SysFlow records cover completed calls');
const EVT_DIR: readonly string[] = Object.freeze(['<', '>']);

// Process
def(['sf.proc.pid', 'proc.pid'], 'int', (v) => (v.proc ? Number(v.proc.oid.hpid) : 0), 'Process PID');
def(['sf.proc.tid', 'thread.tid'], 'int', tid, 'Thread ID');
def(['sf.proc.uid', 'user.uid'], 'int', (v) => (v.proc ? v.proc.uid : 0), 'Process user ID');
def(['sf.proc.user', 'user.name'], 'string', procStr(userName), 'Process user name');
def(['sf.proc.gid', 'group.gid'], 'int', (v) => (v.proc ? v.proc.gid : 0), 'Process group ID');
def(['sf.proc.group', 'group.name'], 'string', procStr((p) => p.groupName), 'Process group name');
def(['sf.proc.apid', 'proc.apid'], 'ints', apids, 'PIDs of the process and its ancestors', { arg: 'index' });
def(['sf.proc.aname', 'proc.aname'], 'strings', anames, 'Names of the process and its ancestors', { arg: 'index' });
def(['sf.proc.aexe', 'proc.aexe', 'proc.aexepath'], 'strings', aexes, 'Executables of the process and its ancestors', { arg: 'index' });
def(['sf.proc.acmdline'], 'strings', acmdlines, 'Command lines of the process and its ancestors', { arg: 'index' });
def(['sf.proc.exe', 'proc.exe', 'proc.exepath'], 'string', (v) => (v.proc ? procDerived(v.proc).exe : ''), 'Executable path');
def(['sf.proc.args', 'proc.args'], 'string', (v) => (v.proc ? procDerived(v.proc).args : ''), 'Arguments');
def(['sf.proc.name', 'proc.name'], 'string', (v) => (v.proc ? procDerived(v.proc).name : ''), 'Process name (basename of exe)');
def(['sf.proc.cmdline', 'proc.cmdline'], 'string', (v) => (v.proc ? procDerived(v.proc).cmdline : ''), 'exe + " " + args');
def(['sf.proc.tty', 'proc.tty'], 'bool', (v) => (v.proc ? v.proc.tty : false), 'Process has a TTY');
def(['sf.proc.entry'], 'bool', (v) => (v.proc ? v.proc.entry : false), 'Process is the container entry point (Falco: proc.vpid = 1)');
// SysFlow has no namespace pid; the docs map sf.proc.entry to Falco's `proc.vpid == 1`, so
// proc.vpid is 1 for an entry point and the host pid otherwise (only `= 1` is meaningful).
def(['proc.vpid'], 'int', (v) => (v.proc ? (v.proc.entry ? 1 : Number(v.proc.oid.hpid)) : 0), 'Falco proc.vpid approximation: 1 for a container entry point, else the host pid');
def(['sf.proc.createts', 'proc.createtime'], 'int64', (v) => (v.proc ? v.proc.oid.createTS : 0n), 'Process creation timestamp (ns)');
def('sf.proc.oid', 'string', (v) => {
  const p = v.proc;
  if (p === null) return '';
  const d = procDerived(p);
  return (d.oid ??= processOidHex(p.oid.hpid, p.oid.createTS));
}, 'Process object id (hex XXH64 of hpid and createTS, as sf-processor)');
def('sf.pproc.oid', 'string', (v) => {
  const p = v.proc;
  if (p === null || p.poid === null) return '';
  const d = procDerived(p);
  return (d.poid ??= processOidHex(p.poid.hpid, p.poid.createTS));
}, 'Parent process object id');
def(['sf.proc.cwd', 'proc.cwd'], 'string', procStr((p) => p.cwd), 'Working directory (schema v5)');

// Parent process
def(['sf.pproc.pid', 'proc.ppid'], 'int', (v) => (v.proc?.poid ? Number(v.proc.poid.hpid) : 0), 'Parent PID');
def(['sf.pproc.gid', 'proc.pgid'], 'int', (v) => (v.pproc ? v.pproc.gid : 0), 'Parent group ID');
def(['sf.pproc.uid', 'proc.puid'], 'int', (v) => (v.pproc ? v.pproc.uid : 0), 'Parent user ID');
def(['sf.pproc.group', 'proc.pgroup'], 'string', pprocStr((p) => p.groupName), 'Parent group name');
def(['sf.pproc.tty', 'proc.ptty'], 'bool', (v) => (v.pproc ? v.pproc.tty : false), 'Parent has a TTY');
def(['sf.pproc.entry'], 'bool', (v) => (v.pproc ? v.pproc.entry : false), 'Parent is the container entry point');
def(['sf.pproc.user', 'proc.puser'], 'string', pprocStr(userName), 'Parent user name');
def(['sf.pproc.exe', 'proc.pexe', 'proc.pexepath'], 'string', (v) => (v.pproc ? procDerived(v.pproc).exe : ''), 'Parent executable');
def(['sf.pproc.args', 'proc.pargs'], 'string', (v) => (v.pproc ? procDerived(v.pproc).args : ''), 'Parent arguments');
def(['sf.pproc.name', 'proc.pname'], 'string', (v) => (v.pproc ? procDerived(v.pproc).name : ''), 'Parent name');
def(['sf.pproc.cmdline', 'proc.pcmdline'], 'string', (v) => (v.pproc ? procDerived(v.pproc).cmdline : ''), 'Parent command line');
def(['sf.pproc.createts', 'proc.pcreatetime'], 'int64', (v) => (v.proc?.poid ? v.proc.poid.createTS : 0n), 'Parent creation timestamp (ns)');

// File
def(['sf.file.fd', 'fd.num'], 'int', fd, 'File descriptor number');
def(['sf.file.path'], 'string', (v) => (v.file ? fileDerived(v.file).path : ''), 'File path');
def(['sf.res', 'fd.name'], 'string', (v) => {
  if (v.file) return fileDerived(v.file).path;
  const n = net(v);
  return n ? netResource(n) : '';
}, 'File path, or sip:sport->dip:dport for network records');
def(['sf.file.newpath', 'evt.arg.newpath'], 'string', (v) => (v.newFile ? fileDerived(v.newFile).path : ''), 'New path (rename/link targets)');
def(['sf.file.name', 'fd.filename'], 'string', (v) => (v.file ? fileDerived(v.file).name : ''), 'File name (basename)');
def(['sf.file.directory', 'fd.directory'], 'string', (v) => (v.file ? fileDerived(v.file).directory : ''), 'File directory');
def(['sf.file.newname'], 'string', (v) => (v.newFile ? fileDerived(v.newFile).name : ''), 'New file name');
def(['sf.file.newdirectory'], 'string', (v) => (v.newFile ? fileDerived(v.newFile).directory : ''), 'New file directory');
def(['sf.file.type', 'fd.typechar'], 'string', (v) => {
  if (v.file) return fileDerived(v.file).typechar;
  const n = net(v);
  return n ? '4' : '';
}, "File type char ('f', 'd', 'u', 'p', '4', ...)");
def(['fd.type'], 'string', (v) => {
  const c = v.file ? fileDerived(v.file).typechar : net(v) ? '4' : '';
  return FD_TYPE_NAMES[c] ?? '';
}, 'Falco fd.type name (file, directory, ipv4, unix, pipe, ...)');
def(['sf.file.oid'], 'string', (v) => (v.file ? v.file.oid : ''), 'File object id (hex)');
def(['sf.file.newoid'], 'string', (v) => (v.newFile ? v.newFile.oid : ''), 'New file object id (hex)');
def(['sf.file.is_open_write', 'evt.is_open_write'], 'bool', (v) => (openFlags(v) & 2) !== 0, 'Opened with write access (WRONLY or RDWR)');
def(['sf.file.is_open_read', 'evt.is_open_read'], 'bool', (v) => (openFlags(v) & 1) !== 0, 'Opened with read access (RDONLY or RDWR)');
def(['sf.file.openflags', 'evt.arg.flags'], 'strings', (v) => (v.type === 'FF' ? openflagNames(openFlags(v)) : EMPTY_S), 'Open flags (names; O_ prefix optional)', {
  domain: OPEN_FLAG_NAMES,
  bits: {
    // Non-FF records have no open flags at all (not even NONE).
    raw: (v) => (v.type === 'FF' ? openFlags(v) : -1),
    test: (name) => {
      const n = name.replace(/^O_/, '');
      if (n === 'NONE') return (x) => x === 0;
      if (n === 'RDWR') return (x) => x > 0 && (x & 3) === 3;
      const b = OPEN_FLAGS.find((f) => f[1] === n)?.[0];
      return b === undefined ? undefined : (x) => x > 0 && (x & b) !== 0;
    },
  },
});

// Network
def(['sf.net.proto', 'fd.l4proto', 'fd.proto'], 'int', (v) => net(v)?.proto ?? 0, 'IANA protocol number (tcp/udp/icmp/raw accepted)', { symbols: PROTO_SYMBOLS });
def(['sf.net.sport', 'fd.sport'], 'int', (v) => net(v)?.sport ?? 0, 'Source port');
def(['sf.net.dport', 'fd.dport'], 'int', (v) => net(v)?.dport ?? 0, 'Destination port');
def(['sf.net.port', 'fd.port'], 'ints', (v) => {
  const n = net(v);
  return n ? portPair(n.sport, n.dport) : EMPTY_I;
}, 'Source or destination port');
def(['sf.net.sip', 'fd.sip'], 'string', (v) => {
  const n = net(v);
  return n ? ipStr(n.sip) : '';
}, 'Source IP (dotted)');
def(['sf.net.dip', 'fd.dip'], 'string', (v) => {
  const n = net(v);
  return n ? ipStr(n.dip) : '';
}, 'Destination IP (dotted)');
def(['sf.net.ip', 'fd.ip'], 'strings', (v) => {
  const n = net(v);
  return n ? ipPair(ipStr(n.sip), ipStr(n.dip)) : EMPTY_S;
}, 'Source or destination IP');

// Flow counters (FF, NF)
def('sf.flow.rbytes', 'int64', (v) => flowCounter(v, 'numRRecvBytes'), 'Bytes read/received');
def('sf.flow.rops', 'int64', (v) => flowCounter(v, 'numRRecvOps'), 'Read/receive operations');
def('sf.flow.wbytes', 'int64', (v) => flowCounter(v, 'numWSendBytes'), 'Bytes written/sent');
def('sf.flow.wops', 'int64', (v) => flowCounter(v, 'numWSendOps'), 'Write/send operations');

// Container
def(['sf.container.id', 'container.id'], 'string', (v) => v.container?.id ?? '', 'Container ID');
def(['sf.container.name', 'container.name'], 'string', (v) => v.container?.name ?? '', 'Container name');
def(['sf.container.image.id', 'sf.container.imageid', 'container.image.id'], 'string', (v) => v.container?.imageid ?? '', 'Container image ID');
def(['sf.container.image', 'container.image'], 'string', (v) => v.container?.image ?? '', 'Container image name');
const CT_NAMES = new Map<string, string>();
def(['sf.container.type', 'container.type'], 'string', (v) => {
  const t = v.container?.type;
  if (!t) return '';
  let s = CT_NAMES.get(t);
  if (s === undefined) CT_NAMES.set(t, (s = t.replace(/^CT_/, '')));
  return s;
}, 'Container type without CT_ (DOCKER, CRIO, ...); empty on the host');
def(['sf.container.privileged', 'container.privileged'], 'bool', (v) => v.container?.privileged ?? false, 'Privileged container');

// Node and metadata
def('sf.node.id', 'string', (v) => v.header?.exporter ?? '', 'Node identifier (header exporter)');
def('sf.node.ip', 'string', (v) => v.header?.ip ?? '', 'Node IP address');
def(['sf.schema.version', 'sf.meta.schema'], 'int', (v) => (v.header ? Number(v.header.version) : 0), 'SysFlow schema version (header)');
def('sf.meta.tracename', 'string', (v) => (v.header ? basename(v.header.filename) : ''), 'Trace name (basename of header filename)');
def('sf.version', 'int', () => JSON_SCHEMA_VERSION, 'SysFlow JSON schema version');
export const JSON_SCHEMA_VERSION = 5;

// Pod and K8s events
def('sf.pod.ts', 'int64', (v) => v.pod?.ts ?? 0n, 'Pod timestamp');
def(['sf.pod.id', 'k8s.pod.id'], 'string', (v) => v.pod?.id ?? '', 'Pod ID');
def(['sf.pod.name', 'k8s.pod.name'], 'string', (v) => v.pod?.name ?? '', 'Pod name');
def('sf.pod.nodename', 'string', (v) => v.pod?.nodeName ?? '', 'Pod node name');
def(['sf.pod.namespace', 'k8s.ns.name'], 'string', (v) => v.pod?.namespace ?? '', 'Pod namespace');
def('sf.pod.restartcnt', 'int64', (v) => v.pod?.restartCount ?? 0n, 'Pod restart count');
const podIps = new WeakMap<object, { host: readonly string[]; internal: readonly string[]; services: string }>();
function podDerived(v: SfRecordView): { host: readonly string[]; internal: readonly string[]; services: string } | null {
  const p = v.pod;
  if (!p) return null;
  let d = podIps.get(p);
  if (!d) {
    d = {
      host: Object.freeze(p.hostIP.map((x) => ipIntToString(x))),
      internal: Object.freeze(p.internalIP.map((x) => ipIntToString(x))),
      services: JSON.stringify(p.services.map((s) => ({
        id: s.id, name: s.name, namespace: s.namespace,
        clusterip: s.clusterIP.map((x) => ipIntToString(x)),
        ports: s.portList.map((q) => ({ port: q.port, targetport: q.targetPort, nodeport: q.nodePort, proto: q.proto })),
      }))),
    };
    podIps.set(p, d);
  }
  return d;
}
def('sf.pod.hostip', 'strings', (v) => podDerived(v)?.host ?? EMPTY_S, 'Pod host IPs', { arg: 'index' });
def('sf.pod.internalip', 'strings', (v) => podDerived(v)?.internal ?? EMPTY_S, 'Pod internal IPs', { arg: 'index' });
def('sf.pod.services', 'string', (v) => podDerived(v)?.services ?? '', 'Pod services (JSON)', { arg: 'jsonpath' });
def('sf.ke.action', 'string', (v) => (v.obj.type === 'KE' ? v.obj.rec.action : ''), 'K8s event action');
def('sf.ke.kind', 'string', (v) => (v.obj.type === 'KE' ? v.obj.rec.kind : ''), 'K8s event kind');
def('sf.ke.message', 'string', (v) => (v.obj.type === 'KE' ? v.obj.rec.message : ''), 'K8s event message (JSON)', { arg: 'jsonpath' });

export function lookupField(name: string): FieldDef | undefined {
  return defs.get(name);
}
export function allFields(): readonly FieldDef[] {
  return [...defs.values()];
}

/**
 * Falco fields that SysFlow records do not carry. Rules using them load (with a warning) and
 * the check is never true, which is Falco's behaviour for a field that cannot be extracted.
 */
const FALCO_UNAVAILABLE = new Set([
  'evt.num', 'evt.args', 'evt.buffer', 'evt.is_open_exec', 'evt.category', 'evt.cpu', 'evt.latency',
  'evt.source', 'evt.hostname', 'evt.is_io', 'evt.is_io_read', 'evt.is_io_write', 'evt.count',
  'proc.env', 'proc.duration', 'proc.pvpid', 'proc.sname', 'proc.sid', 'proc.vpgid',
  'proc.loginshellid', 'proc.is_exe_from_memfd', 'proc.is_exe_upper_layer', 'proc.is_exe_writable',
  'proc.exe_ino', 'proc.exe_ino.ctime', 'proc.exe_ino.mtime', 'proc.nthreads', 'proc.fdopencount',
  'proc.stdin.name', 'proc.stdout.name', 'proc.stderr.name', 'proc.pid.ts', 'proc.ppid.ts', 'proc.is_vpgid_leader',
  'user.loginuid', 'user.loginname', 'user.homedir', 'user.shell', 'thread.cap_effective',
  'thread.cap_permitted', 'thread.cap_inheritable', 'thread.vtid', 'thread.ismain',
  'fd.sip.name', 'fd.cip.name', 'fd.rip.name', 'fd.lip.name', 'fd.snet', 'fd.cnet', 'fd.rnet', 'fd.lnet',
  'fd.net', 'fd.connected', 'fd.name_changed', 'fd.nameraw', 'fd.sockfamily', 'fd.rip', 'fd.cip', 'fd.lip',
  'fd.rport', 'fd.lport', 'fd.cport', 'fd.is_server', 'fd.rproto', 'fd.lproto', 'fd.sproto', 'fd.cproto',
  'fd.ino', 'fd.dev', 'fd.uid', 'fd.containername', 'fd.containerdirectory',
  'container.image.repository', 'container.image.tag', 'container.image.digest', 'container.info',
  'container.mounts', 'container.start_ts', 'container.healthcheck', 'container.liveness_probe',
  'container.readiness_probe', 'container.duration', 'container.ip', 'container.cni.json',
  'container.host_pid', 'container.host_network', 'container.host_ipc', 'fs.path.name', 'fs.path.source', 'fs.path.target',
]);
const FALCO_UNAVAILABLE_PREFIXES = ['evt.arg.', 'evt.rawarg.', 'evt.arg', 'k8s.', 'ka.', 'container.mount', 'container.label'];

export function isUnavailableFalcoField(name: string): boolean {
  if (defs.has(name)) return false;
  if (FALCO_UNAVAILABLE.has(name)) return true;
  return FALCO_UNAVAILABLE_PREFIXES.some((p) => name.startsWith(p) && (name.length > p.length || p === 'evt.arg'));
}
