// Normalise records decoded with any writer schema (v1 prototypes .. v5) to the v5 object model.
// Branches are matched by record *name* (never by union index, which differs across versions);
// fields missing in older schemas get the defaults documented in docs/sysflow-mapping.md, fields
// that v5 dropped (e.g. Container.imagerepo in v2dev) are ignored.
import { OP } from './flags.js';
import type { OID, SfObject, SfRecordType } from './types.js';

type Raw = Record<string, unknown>;
export type Normalizer = (raw: Raw) => SfObject;

/** Short type for a writer record name (namespace ignored; prototypes used other namespaces). */
export function shortTypeForName(fullName: string): SfRecordType | null {
  const base = fullName.slice(fullName.lastIndexOf('.') + 1);
  switch (base) {
    case 'SFHeader':
      return 'H';
    case 'Container':
      return 'C';
    case 'Process':
      return 'P';
    case 'File':
      return 'F';
    case 'ProcessEvent':
      return 'PE';
    case 'NetworkFlow':
      return 'NF';
    case 'FileFlow':
      return 'FF';
    case 'FileEvent':
      return 'FE';
    case 'NetworkEvent':
    case 'NetEvent':
      return 'NE';
    case 'ProcessFlow':
      return 'PF';
    case 'Pod':
      return 'POD';
    case 'K8sEvent':
      return 'KE';
    default:
      return null;
  }
}

const big = (v: unknown, d = 0n): bigint => (typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : d);
const num = (v: unknown, d = 0): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : d);
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const bool = (v: unknown, d = false): boolean => (typeof v === 'boolean' ? v : d);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strArr = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => String(x)) : []);
const bigArr = (v: unknown): bigint[] => (Array.isArray(v) ? v.map((x) => big(x)) : []);
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '__proto__') Object.defineProperty(out, k, { value: String(x), enumerable: true, writable: true, configurable: true });
      else out[k] = String(x);
    }
  }
  return out;
};
function oid(v: unknown): OID {
  const o = (v ?? {}) as Raw;
  return { createTS: big(o.createTS), hpid: big(o.hpid) };
}
function oidOrNull(v: unknown): OID | null {
  return v === null || v === undefined ? null : oid(v);
}
function foid(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('hex') : typeof v === 'string' ? v : '';
}
function foidOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : foid(v);
}
function state(v: unknown): 'CREATED' | 'MODIFIED' | 'REUP' {
  return v === 'MODIFIED' || v === 'REUP' ? v : 'CREATED';
}

/**
 * The P4 prototype's ProcessFlow (a ProcessEvent layout) has no opFlags but an EventType
 * `type`; each symbol is exactly one later op flag.
 */
export const EVENT_TYPE_OPFLAG: Readonly<Record<'CLONE' | 'EXEC' | 'EXIT', number>> = { CLONE: OP.CLONE, EXEC: OP.EXEC, EXIT: OP.EXIT };
function peOpFlags(r: Raw): number {
  if (r.opFlags !== undefined) return num(r.opFlags);
  const t = r.type;
  return t === 'CLONE' || t === 'EXEC' || t === 'EXIT' ? EVENT_TYPE_OPFLAG[t] : 0;
}

const normalizers: { [K in SfRecordType]: Normalizer } = {
  H: (r) => ({
    type: 'H',
    rec: { version: big(r.version), exporter: str(r.exporter), ip: str(r.ip, 'NA'), filename: str(r.filename) },
  }),
  C: (r) => ({
    type: 'C',
    rec: {
      id: str(r.id),
      name: str(r.name),
      image: str(r.image),
      imageid: str(r.imageid),
      type: (typeof r.type === 'string' ? r.type : 'CT_DOCKER') as 'CT_DOCKER',
      privileged: bool(r.privileged),
      podId: strOrNull(r.podId),
    },
  }),
  P: (r) => ({
    type: 'P',
    rec: {
      // P4 prototypes call the state `type` (enum ActionType, the same symbols).
      state: state(r.state !== undefined ? r.state : r.type),
      oid: oid(r.oid),
      poid: oidOrNull(r.poid),
      ts: big(r.ts),
      exe: str(r.exe),
      exeArgs: str(r.exeArgs),
      uid: num(r.uid, -1),
      userName: str(r.userName),
      gid: num(r.gid, -1),
      groupName: str(r.groupName),
      tty: bool(r.tty),
      containerId: strOrNull(r.containerId),
      entry: bool(r.entry),
      cwd: str(r.cwd),
      env: strArr(r.env),
    },
  }),
  F: (r) => ({
    type: 'F',
    rec: {
      state: state(r.state),
      oid: foid(r.oid),
      ts: big(r.ts),
      restype: num(r.restype, 63),
      path: str(r.path),
      containerId: strOrNull(r.containerId),
    },
  }),
  PE: (r) => ({
    type: 'PE',
    rec: {
      procOID: oid(r.procOID),
      ts: big(r.ts),
      tid: big(r.tid),
      opFlags: peOpFlags(r),
      args: strArr(r.args),
      ret: num(r.ret),
    },
  }),
  NF: (r) => ({
    type: 'NF',
    rec: {
      procOID: oid(r.procOID),
      ts: big(r.ts),
      tid: big(r.tid),
      opFlags: num(r.opFlags),
      endTs: big(r.endTs),
      sip: num(r.sip),
      sport: num(r.sport),
      dip: num(r.dip),
      dport: num(r.dport),
      proto: num(r.proto),
      // Prototype (P7/P8) schemas have no fd: -1 = unknown, as the collector uses for no fd.
      fd: num(r.fd, -1),
      numRRecvOps: big(r.numRRecvOps),
      numWSendOps: big(r.numWSendOps),
      numRRecvBytes: big(r.numRRecvBytes),
      numWSendBytes: big(r.numWSendBytes),
    },
  }),
  FF: (r) => ({
    type: 'FF',
    rec: {
      procOID: oid(r.procOID),
      ts: big(r.ts),
      tid: big(r.tid),
      opFlags: num(r.opFlags),
      openFlags: num(r.openFlags),
      endTs: big(r.endTs),
      fileOID: foid(r.fileOID),
      fd: num(r.fd, -1),
      numRRecvOps: big(r.numRRecvOps),
      numWSendOps: big(r.numWSendOps),
      numRRecvBytes: big(r.numRRecvBytes),
      numWSendBytes: big(r.numWSendBytes),
    },
  }),
  FE: (r) => ({
    type: 'FE',
    rec: {
      procOID: oid(r.procOID),
      ts: big(r.ts),
      tid: big(r.tid),
      opFlags: num(r.opFlags),
      fileOID: foid(r.fileOID),
      ret: num(r.ret),
      newFileOID: foidOrNull(r.newFileOID),
    },
  }),
  NE: (r) => ({
    type: 'NE',
    rec: {
      procOID: oid(r.procOID),
      ts: big(r.ts),
      tid: big(r.tid),
      opFlags: num(r.opFlags),
      sip: num(r.sip),
      sport: num(r.sport),
      dip: num(r.dip),
      dport: num(r.dport),
      proto: num(r.proto),
      ret: num(r.ret),
    },
  }),
  PF: (r) => ({
    type: 'PF',
    rec: {
      procOID: oid(r.procOID),
      ts: big(r.ts),
      numThreadsCloned: big(r.numThreadsCloned),
      opFlags: num(r.opFlags),
      endTs: big(r.endTs),
      numThreadsExited: big(r.numThreadsExited),
      numCloneErrors: big(r.numCloneErrors),
    },
  }),
  POD: (r) => ({
    type: 'POD',
    rec: {
      ts: big(r.ts),
      id: str(r.id),
      name: str(r.name),
      nodeName: str(r.nodeName),
      hostIP: bigArr(r.hostIP),
      internalIP: bigArr(r.internalIP),
      namespace: str(r.namespace),
      restartCount: big(r.restartCount),
      labels: strMap(r.labels),
      selectors: strMap(r.selectors),
      services: (Array.isArray(r.services) ? (r.services as Raw[]) : []).map((s) => ({
        name: str(s.name),
        id: str(s.id),
        namespace: str(s.namespace),
        portList: (Array.isArray(s.portList) ? (s.portList as Raw[]) : []).map((p) => ({
          port: num(p.port),
          targetPort: num(p.targetPort),
          nodePort: num(p.nodePort),
          proto: str(p.proto),
        })),
        clusterIP: bigArr(s.clusterIP),
      })),
    },
  }),
  KE: (r) => ({
    type: 'KE',
    rec: {
      kind: (typeof r.kind === 'string' ? r.kind : 'K8S_UNKNOWN') as 'K8S_UNKNOWN',
      action: (typeof r.action === 'string' ? r.action : 'K8S_COMPONENT_UNKNOWN') as 'K8S_COMPONENT_UNKNOWN',
      ts: big(r.ts),
      message: str(r.message),
    },
  }),
};

/**
 * Normaliser for a writer branch. `fieldNames` are the writer's fields: the P4 and P7 prototypes
 * named a record "ProcessFlow" that has ProcessEvent's layout (args, ret), so it is read as a PE.
 */
export function normalizerFor(type: SfRecordType, fieldNames: readonly string[]): Normalizer {
  if (type === 'PF' && fieldNames.includes('args') && !fieldNames.includes('numThreadsCloned')) {
    return normalizers.PE;
  }
  return normalizers[type];
}
