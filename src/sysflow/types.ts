// SysFlow object model (schema v5, sf-apis 0.6.x), one TS type per Avro record.
//
// Conventions (stable; the policy engine and the agent depend on them):
// - Avro `long` (int64) fields are `bigint`, exact. Timestamps are epoch nanoseconds (> 2^53).
// - Avro `int` (int32) fields are `number`.
// - OID is `{ createTS, hpid }` (both bigint); use `oidKey()` (oid.ts) for map keys.
// - FOID (fixed(20), SHA-1 of path + container id) is a 40-char lowercase hex string.
// - Avro enums are their symbol strings ("REUP", "CT_DOCKER", ...).
// - Optional unions (`["null", X]`) are `X | null`.
// - Older writer schemas are normalised to these v5 shapes by the reader (missing fields get
//   the defaults documented in docs/sysflow-mapping.md), so consumers only see v5 objects.
//
// A decoded record is an `SfObject`: `{ type, rec }` where `type` is the short type string that
// sysprint/sf-processor use (H, C, P, F, PE, NF, FF, FE, NE, PF, POD, KE) and `rec` the record.
// Readers (reader.ts): `readSysFlowFile(path)` is a synchronous generator of SfObject;
// `readSysFlowBuffer(buf)` likewise for an in-memory file.

/** Process object id: unique among live processes of one exporter at one moment. */
export interface OID {
  createTS: bigint;
  hpid: bigint;
}

/** File object id: SHA-1(path + containerId) as 40 lowercase hex chars. */
export type FOID = string;

export type SFObjectState = 'CREATED' | 'MODIFIED' | 'REUP';

export const CONTAINER_TYPES = [
  'CT_DOCKER',
  'CT_LXC',
  'CT_LIBVIRT_LXC',
  'CT_MESOS',
  'CT_RKT',
  'CT_CUSTOM',
  'CT_CRI',
  'CT_CONTAINERD',
  'CT_CRIO',
  'CT_BPM',
] as const;
export type ContainerType = (typeof CONTAINER_TYPES)[number];

export const K8S_ACTIONS = [
  'K8S_COMPONENT_ADDED',
  'K8S_COMPONENT_MODIFIED',
  'K8S_COMPONENT_DELETED',
  'K8S_COMPONENT_ERROR',
  'K8S_COMPONENT_NONEXISTENT',
  'K8S_COMPONENT_UNKNOWN',
] as const;
export type K8sAction = (typeof K8S_ACTIONS)[number];

export const K8S_COMPONENTS = [
  'K8S_NODES',
  'K8S_NAMESPACES',
  'K8S_PODS',
  'K8S_REPLICATIONCONTROLLERS',
  'K8S_SERVICES',
  'K8S_EVENTS',
  'K8S_REPLICASETS',
  'K8S_DAEMONSETS',
  'K8S_DEPLOYMENTS',
  'K8S_UNKNOWN',
] as const;
export type K8sComponent = (typeof K8S_COMPONENTS)[number];

/** sysflow.entity.SFHeader: always the first record of a file (and of a socket stream). */
export interface SFHeader {
  /** Value written by the exporter; old traces carry 1000/1001, so do not infer the schema from it. */
  version: bigint;
  exporter: string;
  ip: string;
  filename: string;
}

export interface Container {
  id: string;
  name: string;
  image: string;
  imageid: string;
  type: ContainerType;
  privileged: boolean;
  podId: string | null;
}

export interface Process {
  state: SFObjectState;
  oid: OID;
  poid: OID | null;
  ts: bigint;
  exe: string;
  exeArgs: string;
  uid: number;
  userName: string;
  gid: number;
  groupName: string;
  tty: boolean;
  containerId: string | null;
  entry: boolean;
  cwd: string;
  env: string[];
}

export interface File {
  state: SFObjectState;
  oid: FOID;
  ts: bigint;
  /** ASCII code of the sysdig fd type char ('f' 102, 'd' 100, 'p' 112, 'u' 117, '?' 63, ...). */
  restype: number;
  path: string;
  containerId: string | null;
}

export interface ProcessEvent {
  procOID: OID;
  ts: bigint;
  tid: bigint;
  opFlags: number;
  args: string[];
  ret: number;
}

export interface NetworkFlow {
  procOID: OID;
  ts: bigint;
  tid: bigint;
  opFlags: number;
  endTs: bigint;
  /** IPv4 as int32, first octet in the least significant byte (see ip.ts). */
  sip: number;
  sport: number;
  dip: number;
  dport: number;
  /** IANA protocol number (6 TCP, 17 UDP); -1 occurs in real traces. */
  proto: number;
  fd: number;
  numRRecvOps: bigint;
  numWSendOps: bigint;
  numRRecvBytes: bigint;
  numWSendBytes: bigint;
}

export interface FileFlow {
  procOID: OID;
  ts: bigint;
  tid: bigint;
  opFlags: number;
  /** SysFlow/sysdig PPM open flags (flags.ts), not Linux O_* values. */
  openFlags: number;
  endTs: bigint;
  fileOID: FOID;
  fd: number;
  numRRecvOps: bigint;
  numWSendOps: bigint;
  numRRecvBytes: bigint;
  numWSendBytes: bigint;
}

export interface FileEvent {
  procOID: OID;
  ts: bigint;
  tid: bigint;
  opFlags: number;
  fileOID: FOID;
  ret: number;
  /** Second file for rename/link/symlink. */
  newFileOID: FOID | null;
}

export interface NetworkEvent {
  procOID: OID;
  ts: bigint;
  tid: bigint;
  opFlags: number;
  sip: number;
  sport: number;
  dip: number;
  dport: number;
  proto: number;
  ret: number;
}

export interface ProcessFlow {
  procOID: OID;
  ts: bigint;
  numThreadsCloned: bigint;
  opFlags: number;
  endTs: bigint;
  numThreadsExited: bigint;
  numCloneErrors: bigint;
}

export interface Port {
  port: number;
  targetPort: number;
  nodePort: number;
  proto: string;
}

export interface Service {
  name: string;
  id: string;
  namespace: string;
  portList: Port[];
  /** IPv4 addresses in the same layout as NetworkFlow.sip, widened to long. */
  clusterIP: bigint[];
}

export interface Pod {
  ts: bigint;
  id: string;
  name: string;
  nodeName: string;
  hostIP: bigint[];
  internalIP: bigint[];
  namespace: string;
  restartCount: bigint;
  labels: Record<string, string>;
  selectors: Record<string, string>;
  services: Service[];
}

export interface K8sEvent {
  kind: K8sComponent;
  action: K8sAction;
  ts: bigint;
  /** Raw JSON of the Kubernetes watch event. */
  message: string;
}

/** Short record type strings, as printed by sysprint (`POD` for Pod; Go uses `PD`). */
export interface SfTypeMap {
  H: SFHeader;
  C: Container;
  P: Process;
  F: File;
  PE: ProcessEvent;
  NF: NetworkFlow;
  FF: FileFlow;
  FE: FileEvent;
  NE: NetworkEvent;
  PF: ProcessFlow;
  POD: Pod;
  KE: K8sEvent;
}
export type SfRecordType = keyof SfTypeMap;

/** One decoded SysFlow record, tagged by its short type. */
export type SfObject = { [K in SfRecordType]: { type: K; rec: SfTypeMap[K] } }[SfRecordType];
export type SfObjectOf<K extends SfRecordType> = { type: K; rec: SfTypeMap[K] };

export type SfEntityType = 'H' | 'C' | 'P' | 'F' | 'POD';
/** Event and flow types: the records sysprint prints and the policy engine evaluates. */
export type SfEventFlowType = 'PE' | 'NF' | 'FF' | 'FE' | 'NE' | 'PF' | 'KE';
export type SfEventFlowObject = Extract<SfObject, { type: SfEventFlowType }>;
export type SfEntityObject = Extract<SfObject, { type: SfEntityType }>;

/** v5 union branch order: full Avro name per short type (index = union branch index in v5). */
export const SF_V5_BRANCHES: readonly (readonly [SfRecordType, string])[] = [
  ['H', 'sysflow.entity.SFHeader'],
  ['C', 'sysflow.entity.Container'],
  ['P', 'sysflow.entity.Process'],
  ['F', 'sysflow.entity.File'],
  ['PE', 'sysflow.event.ProcessEvent'],
  ['NF', 'sysflow.flow.NetworkFlow'],
  ['FF', 'sysflow.flow.FileFlow'],
  ['FE', 'sysflow.event.FileEvent'],
  ['NE', 'sysflow.event.NetworkEvent'],
  ['PF', 'sysflow.flow.ProcessFlow'],
  ['POD', 'sysflow.entity.Pod'],
  ['KE', 'sysflow.event.K8sEvent'],
];

export function isEventOrFlow(o: SfObject): o is SfEventFlowObject {
  switch (o.type) {
    case 'PE':
    case 'NF':
    case 'FF':
    case 'FE':
    case 'NE':
    case 'PF':
    case 'KE':
      return true;
    default:
      return false;
  }
}
