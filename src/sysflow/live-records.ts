// The input of SysFlowMapper (live-mapper.ts): the facts the kernel monitors report, as plain
// data documented per field. This is the contract between the monitors and the SysFlow mapping;
// docs/sysflow-mapping.md explains each mapping and what cannot be filled.

/** Epoch nanoseconds. */
export type Ns = bigint;

/** A process observed (from exec/clone tracepoints or a /proc scan). */
export interface LiveProcessInfo {
  pid: number;
  /** Parent pid; 0 or less when none. The parent's OID is used if the mapper knows it. */
  ppid: number;
  /** Executable path (absolute when known). */
  exe: string;
  /** Arguments after argv[0]; joined with single spaces into Process.exeArgs. */
  args: readonly string[];
  uid: number;
  gid: number;
  /** User/group names; "" when unknown (the collector writes "" or "<NA>"). */
  user?: string;
  group?: string;
  /**
   * Process start time (epoch ns) → OID.createTS. null when the process predates capture: the
   * collector uses 0 for those, and so do we, so OIDs stay stable across a /proc rescan.
   */
  startTimeNs: Ns | null;
  /** Has a controlling terminal. */
  tty: boolean;
  /** Container id (12-char short id as the collector uses), null/"" for the host. */
  containerId?: string | null;
  cwd?: string;
  /** Environment as "K=V" strings; omit to record none (it can be large). */
  env?: readonly string[];
  /** Container/system entrypoint (virtual pid 1). */
  entry?: boolean;
}

/**
 * Where the live mapping takes a process's exe, args, cwd and tty from (the enrichment's process
 * table, src/enrich/process-table.ts) instead of reading /proc/PID/* on the record path.
 * undefined: the pid is unknown.
 */
export type LiveProcessLookup = (pid: number) => { exe: string; args: readonly string[]; cwd?: string; tty: boolean; container?: LiveContainerInfo } | undefined;

/** Container metadata, when the enrichment knows it. */
export interface LiveContainerInfo {
  id: string;
  name?: string;
  image?: string;
  imageId?: string;
  /** Runtime: docker, containerd, cri-o, lxc, ... (unknown → CT_CUSTOM). */
  runtime?: string;
  privileged?: boolean;
  podId?: string | null;
  /** The pod the container belongs to (from CRI labels); gives a Pod entity and podId. */
  pod?: LivePodInfo;
}

/** A Kubernetes pod as the container runtime's labels describe it. */
export interface LivePodInfo {
  /** pod uid (SysFlow Pod.id, Container.podId) */
  id: string;
  name: string;
  namespace: string;
  labels?: Readonly<Record<string, string>>;
  nodeName?: string;
  /** first seen, epoch ns */
  ts?: Ns;
}

/** Process lifecycle events. `ts` is the event time in epoch ns; `ret` the syscall result. */
export type LiveLifecycleEvent =
  /** fork/clone of a new process: `child` is the new process as seen right after clone. */
  | { kind: 'clone'; ts: Ns; parentPid: number; parentTid: number; child: LiveProcessInfo; ret?: number }
  /** new thread in an existing process (aggregated by the caller into processFlow() is cheaper). */
  | { kind: 'thread'; ts: Ns; pid: number; tid: number; newTid: number }
  /** execve: `process` carries the new image (exe, args, ...) of the same pid. */
  | { kind: 'exec'; ts: Ns; pid: number; tid: number; process: LiveProcessInfo; ret?: number }
  /** exit of a thread or, when tid == pid, of the process. `ret` is the exit code. */
  | { kind: 'exit'; ts: Ns; pid: number; tid: number; ret?: number }
  /** setuid/setresuid: new uid (and name if known); `ret` -1 on failure. */
  | { kind: 'setuid'; ts: Ns; pid: number; tid: number; uid: number; user?: string; ret?: number };

/** Thread activity of one process over a period (SysFlow ProcessFlow). */
export interface LiveThreadFlow {
  pid: number;
  firstTs: Ns;
  lastTs: Ns;
  threadsCloned: number;
  threadsExited: number;
  cloneErrors: number;
}

/** A file aggregated over its open..close (or until a flush), per (pid, file). */
export interface LiveFileRecord {
  pid: number;
  tid: number;
  path: string;
  containerId?: string | null;
  /** Descriptor (−1 when unknown). */
  fd?: number;
  /** Resource type as the sysdig fd char ("f" file, "d" dir, "p" pipe, "u" unix socket...). */
  restype?: string;
  firstTs: Ns;
  lastTs: Ns;
  opens?: number;
  reads?: number;
  writes?: number;
  closes?: number;
  mmaps?: number;
  /** setns(2) on this file (a /proc/PID/ns/* handle). */
  setns?: number;
  bytesRead?: bigint | number;
  bytesWritten?: bigint | number;
  /** Linux open(2) flags (O_*); converted to SysFlow's PPM numbering. */
  openFlagsLinux?: number;
  /** Emitted because the agent is stopping while the file is still open (→ TRUNCATE). */
  truncated?: boolean;
}

/** A network conversation aggregated per socket. IPs as dotted IPv4 (or IPv4-mapped IPv6). */
export interface LiveNetworkRecord {
  pid: number;
  tid: number;
  /** "tcp", "udp", or an IANA number. */
  proto: 'tcp' | 'udp' | 'icmp' | 'raw' | number;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  /** Who initiated: "connect" (local → remote) or "accept" (remote → local); default connect. */
  role?: 'connect' | 'accept' | 'unknown';
  fd?: number;
  firstTs: Ns;
  lastTs: Ns;
  bytesSent?: bigint | number;
  bytesReceived?: bigint | number;
  /** Send/receive call counts (SysFlow counts operations, not packets). */
  sendOps?: bigint | number;
  recvOps?: bigint | number;
  closed?: boolean;
  shutdown?: boolean;
  truncated?: boolean;
}

/** One file-system operation that SysFlow models as a FileEvent. */
export interface LiveFileOp {
  op: 'mkdir' | 'rmdir' | 'link' | 'symlink' | 'unlink' | 'rename' | 'chmod' | 'chown' | 'truncate';
  ts: Ns;
  pid: number;
  tid: number;
  path: string;
  /** Second path: link/symlink target name, rename destination. */
  newPath?: string;
  containerId?: string | null;
  /** Syscall return value. */
  ret?: number;
  /** restype of `path` (default "d" for mkdir/rmdir, "f" otherwise). */
  restype?: string;
}
