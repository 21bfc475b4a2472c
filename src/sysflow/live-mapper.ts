// SysFlowMapper: turns generic live facts from the kernel monitors (process seen, process
// lifecycle, aggregated file and network records, single file operations) into SysFlow objects,
// keeping the entity bookkeeping SysFlow requires: a Process entity is created once per OID
// (MODIFIED when exec/setuid/attributes change it), a File entity once per FOID, a Container
// once per id. Every method returns the objects to write, in order (entities before the
// event/flow that references them), ready for `createSysFlowTraceSink().write` or any consumer.
//
// Its input types, the contract with the monitors, are in live-records.ts.
import { OP, RESTYPE, linuxOpenFlagsToSysFlow } from './flags.js';
import { ipStringToInt, toIPv4 } from './ip.js';
import { computeFoid, oidKey } from './oid.js';
import { OldestFirst } from './evict.js';
import type { Container, ContainerType, File, FileFlow, OID, Pod, Process, SfObject } from './types.js';
import { big, fileOps, PreviewFile, PreviewFileFlow } from './live-preview.js';
import type { Ns, LiveProcessInfo, LiveContainerInfo, LivePodInfo, LiveLifecycleEvent, LiveThreadFlow, LiveFileRecord, LiveNetworkRecord, LiveFileOp } from './live-records.js';

export { fileOps } from './live-preview.js';
export type { Ns, LiveProcessInfo, LiveProcessLookup, LiveContainerInfo, LivePodInfo, LiveLifecycleEvent, LiveThreadFlow, LiveFileRecord, LiveNetworkRecord, LiveFileOp } from './live-records.js';

export interface SysFlowMapperStats {
  processesCreated: number;
  processesModified: number;
  /** Events for pids never seen via processSeen: a minimal Process was created for them. */
  placeholderProcesses: number;
  filesCreated: number;
  containersCreated: number;
  podsCreated: number;
  /** Live facts SysFlow has no slot for (chmod/chown/truncate ops, IPv6 flows), dropped. */
  unmappable: number;
}

export interface SysFlowMapperOptions {
  /** Bound on remembered processes and files (LRU). Defaults 100,000 / 65,536. */
  maxProcesses?: number;
  maxFiles?: number;
}

const RUNTIMES: Record<string, ContainerType> = {
  docker: 'CT_DOCKER',
  lxc: 'CT_LXC',
  'libvirt-lxc': 'CT_LIBVIRT_LXC',
  mesos: 'CT_MESOS',
  rkt: 'CT_RKT',
  cri: 'CT_CRI',
  containerd: 'CT_CONTAINERD',
  'cri-o': 'CT_CRIO',
  crio: 'CT_CRIO',
  bpm: 'CT_BPM',
};

const FILE_OPS: Record<LiveFileOp['op'], number | null> = {
  mkdir: OP.MKDIR,
  rmdir: OP.RMDIR,
  link: OP.LINK,
  symlink: OP.SYMLINK,
  unlink: OP.UNLINK,
  rename: OP.RENAME,
  chmod: null,
  chown: null,
  truncate: null,
};

const protoNum = (p: LiveNetworkRecord['proto']): number =>
  typeof p === 'number' ? p : p === 'tcp' ? 6 : p === 'udp' ? 17 : p === 'icmp' ? 1 : 254;

export class SysFlowMapper {
  readonly stats: SysFlowMapperStats = {
    processesCreated: 0,
    processesModified: 0,
    placeholderProcesses: 0,
    filesCreated: 0,
    containersCreated: 0,
    podsCreated: 0,
    unmappable: 0,
  };
  /** Current Process entity by pid (a pid maps to one live process at a time). */
  private readonly byPid = new Map<number, Process>();
  /** pids whose Process is a placeholder made for an event before processSeen. */
  private readonly placeholders = new Set<number>();
  /** File entities by container id + NUL + path (the FOID's input: SHA-1 runs once per file) */
  private readonly files = new Map<string, File>();
  private readonly filesEvict = new OldestFirst(this.files);
  private readonly containers = new Map<string, Container>();
  private readonly pods = new Map<string, Pod>();
  private readonly maxProcesses: number;
  private readonly maxFiles: number;
  private readonly pidsEvict = new OldestFirst(this.byPid);

  constructor(opts: SysFlowMapperOptions = {}) {
    this.maxProcesses = opts.maxProcesses ?? 100_000;
    this.maxFiles = opts.maxFiles ?? 65_536;
  }

  /** Current Process entity of a pid, if known. */
  process(pid: number): Process | null {
    return this.byPid.get(pid) ?? null;
  }

  /** Register a pod (emits a Pod entity the first time, or when its name, namespace or labels change). */
  podSeen(p: LivePodInfo): SfObject[] {
    const old = this.pods.get(p.id);
    const rec: Pod = {
      ts: old?.ts ?? p.ts ?? 0n, id: p.id, name: p.name, nodeName: p.nodeName ?? '', hostIP: [], internalIP: [],
      namespace: p.namespace, restartCount: 0n, labels: { ...(p.labels ?? {}) }, selectors: {}, services: [],
    };
    if (old && old.name === rec.name && old.namespace === rec.namespace && old.nodeName === rec.nodeName &&
      JSON.stringify(old.labels) === JSON.stringify(rec.labels)) return [];
    this.pods.set(p.id, rec);
    if (this.pods.size > 4096) this.pods.delete(this.pods.keys().next().value as string);
    if (!old) this.stats.podsCreated++;
    return [{ type: 'POD', rec }];
  }

  /** Register container metadata (emits a Container entity the first time, or when it changes;
   * its Pod entity first when the container is in one). */
  containerSeen(c: LiveContainerInfo): SfObject[] {
    const pod = c.pod ? this.podSeen(c.pod) : [];
    const rec: Container = {
      id: c.id,
      name: c.name ?? '',
      image: c.image ?? '',
      imageid: c.imageId ?? '',
      type: RUNTIMES[(c.runtime ?? '').toLowerCase()] ?? 'CT_CUSTOM',
      privileged: c.privileged ?? false,
      podId: c.pod?.id ?? c.podId ?? null,
    };
    const old = this.containers.get(c.id);
    if (old && JSON.stringify(old) === JSON.stringify(rec)) return pod;
    this.containers.set(c.id, rec);
    if (!old) this.stats.containersCreated++;
    return [...pod, { type: 'C', rec }];
  }

  private ensureContainer(id: string | null | undefined, out: SfObject[]): string | null {
    if (!id) return null;
    if (!this.containers.has(id)) out.push(...this.containerSeen({ id }));
    return id;
  }

  private toProcess(p: LiveProcessInfo, state: Process['state'], ts: Ns, oid?: OID): Process {
    const parent = p.ppid > 0 ? this.byPid.get(p.ppid) : undefined;
    return {
      state,
      oid: oid ?? { createTS: p.startTimeNs ?? 0n, hpid: BigInt(p.pid) },
      poid: parent ? parent.oid : null,
      ts,
      exe: p.exe,
      exeArgs: p.args.join(' '),
      uid: p.uid,
      userName: p.user ?? '',
      gid: p.gid,
      groupName: p.group ?? '',
      tty: p.tty,
      containerId: p.containerId ? p.containerId : null,
      entry: p.entry ?? false,
      cwd: p.cwd ?? '',
      env: p.env ? [...p.env] : [],
    };
  }

  private remember(p: Process): void {
    this.byPid.delete(Number(p.oid.hpid));
    this.byPid.set(Number(p.oid.hpid), p);
    if (this.byPid.size > this.maxProcesses) this.pidsEvict.evict();
  }

  /**
   * A process observed. First sight → Process CREATED; same pid with another start time → a new
   * process (pid reuse) CREATED; same process with changed attributes → MODIFIED; else nothing.
   */
  processSeen(p: LiveProcessInfo, ts: Ns): SfObject[] {
    const out: SfObject[] = [];
    this.ensureContainer(p.containerId, out);
    const cur = this.byPid.get(p.pid);
    const createTS = p.startTimeNs ?? 0n;
    // A placeholder is upgraded in place: earlier events already reference its OID.
    const upgrade = cur !== undefined && this.placeholders.delete(p.pid);
    if (cur && (upgrade || cur.oid.createTS === createTS)) {
      const next = this.toProcess(p, 'MODIFIED', ts, cur.oid);
      if (sameAttrs(cur, next)) return out;
      this.remember(next);
      this.stats.processesModified++;
      out.push({ type: 'P', rec: next });
      return out;
    }
    const rec = this.toProcess(p, 'CREATED', ts);
    this.remember(rec);
    this.stats.processesCreated++;
    out.push({ type: 'P', rec });
    return out;
  }

  /** Process entity for an event's pid; creates a minimal one when the pid was never seen. */
  private procFor(pid: number, ts: Ns, out: SfObject[]): Process {
    const cur = this.byPid.get(pid);
    if (cur) return cur;
    this.stats.placeholderProcesses++;
    this.placeholders.add(pid);
    const rec: Process = {
      state: 'CREATED',
      oid: { createTS: 0n, hpid: BigInt(pid) },
      poid: null,
      ts,
      exe: '',
      exeArgs: '',
      uid: -1,
      userName: '',
      gid: -1,
      groupName: '',
      tty: false,
      containerId: null,
      entry: false,
      cwd: '',
      env: [],
    };
    this.remember(rec);
    this.stats.processesCreated++;
    out.push({ type: 'P', rec });
    return rec;
  }

  /** Process lifecycle → ProcessEvent(s), with the Process entity changes they imply. */
  lifecycle(ev: LiveLifecycleEvent): SfObject[] {
    const out: SfObject[] = [];
    switch (ev.kind) {
      case 'clone': {
        // As the collector: CLONE on the parent (ret = child pid), the child's entity, then
        // CLONE on the child (ret 0). The child's createTS is its clone time unless given.
        const parent = this.procFor(ev.parentPid, ev.ts, out);
        out.push(pe(parent.oid, ev.ts, ev.parentTid, OP.CLONE, ev.ret ?? ev.child.pid));
        const child = { ...ev.child, ppid: ev.parentPid, startTimeNs: ev.child.startTimeNs ?? ev.ts };
        out.push(...this.processSeen(child, ev.ts));
        const c = this.byPid.get(child.pid)!;
        out.push(pe(c.oid, ev.ts, child.pid, OP.CLONE, 0));
        return out;
      }
      case 'thread': {
        const p = this.procFor(ev.pid, ev.ts, out);
        out.push(pe(p.oid, ev.ts, ev.tid, OP.CLONE, ev.newTid));
        return out;
      }
      case 'exec': {
        const cur = this.procFor(ev.pid, ev.ts, out);
        this.ensureContainer(ev.process.containerId, out);
        // exec keeps the pid and the OID; the image changes → MODIFIED.
        const next = this.toProcess({ ...ev.process, pid: ev.pid }, 'MODIFIED', ev.ts, cur.oid);
        if (next.poid === null) next.poid = cur.poid;
        this.placeholders.delete(ev.pid);
        this.remember(next);
        this.stats.processesModified++;
        out.push({ type: 'P', rec: next });
        out.push(pe(next.oid, ev.ts, ev.tid, OP.EXEC, ev.ret ?? 0));
        return out;
      }
      case 'exit': {
        const p = this.procFor(ev.pid, ev.ts, out);
        out.push(pe(p.oid, ev.ts, ev.tid, OP.EXIT, ev.ret ?? 0));
        if (ev.tid === ev.pid) this.forget(ev.pid);
        return out;
      }
      case 'setuid': {
        const cur = this.procFor(ev.pid, ev.ts, out);
        if ((ev.ret ?? 0) >= 0 && (cur.uid !== ev.uid || (ev.user !== undefined && ev.user !== cur.userName))) {
          const next: Process = { ...cur, state: 'MODIFIED', ts: ev.ts, uid: ev.uid, userName: ev.user ?? cur.userName };
          this.remember(next);
          this.stats.processesModified++;
          out.push({ type: 'P', rec: next });
        }
        out.push(pe(cur.oid, ev.ts, ev.tid, OP.SETUID, ev.ret ?? 0, [String(ev.uid)]));
        return out;
      }
    }
  }

  /** Thread statistics → ProcessFlow. */
  threadFlow(f: LiveThreadFlow): SfObject[] {
    const out: SfObject[] = [];
    const p = this.procFor(f.pid, f.firstTs, out);
    let op = 0;
    if (f.threadsCloned) op |= OP.CLONE;
    if (f.threadsExited) op |= OP.EXIT;
    out.push({
      type: 'PF',
      rec: {
        procOID: p.oid,
        ts: f.firstTs,
        numThreadsCloned: BigInt(f.threadsCloned),
        opFlags: op,
        endTs: f.lastTs,
        numThreadsExited: BigInt(f.threadsExited),
        numCloneErrors: BigInt(f.cloneErrors),
      },
    });
    return out;
  }

  private fileFor(path: string, containerId: string | null | undefined, restype: string | undefined, ts: Ns, out: SfObject[]): File {
    const cid = this.ensureContainer(containerId, out);
    const key = cid ? `${cid}\0${path}` : path;
    const rt = restype ? restype.charCodeAt(0) : RESTYPE.FILE;
    const cur = this.files.get(key);
    if (cur && cur.restype === rt) return cur;
    const oid = cur ? cur.oid : computeFoid(path, cid);
    const rec: File = { state: cur ? 'MODIFIED' : 'CREATED', oid, ts, restype: rt, path, containerId: cid };
    if (cur) this.files.delete(key); // a changed entity becomes the newest
    this.files.set(key, rec);
    if (this.files.size > this.maxFiles) this.filesEvict.evict();
    if (!cur) this.stats.filesCreated++;
    out.push({ type: 'F', rec });
    return rec;
  }

  /** Aggregated file record → File entity (once) + FileFlow. */
  fileRecord(r: LiveFileRecord): SfObject[] {
    const out: SfObject[] = [];
    const p = this.procFor(r.pid, r.firstTs, out);
    const f = this.fileFor(r.path, r.containerId ?? p.containerId, r.restype, r.firstTs, out);
    out.push({
      type: 'FF',
      rec: {
        procOID: p.oid,
        ts: r.firstTs,
        tid: BigInt(r.tid),
        opFlags: fileOps(r),
        openFlags: r.openFlagsLinux === undefined ? 0 : linuxOpenFlagsToSysFlow(r.openFlagsLinux),
        endTs: r.lastTs,
        fileOID: f.oid,
        fd: r.fd ?? -1,
        numRRecvOps: big(r.reads),
        numWSendOps: big(r.writes),
        numRRecvBytes: big(r.bytesRead),
        numWSendBytes: big(r.bytesWritten),
      },
    });
    return out;
  }

  /**
   * What fileRecord(r) would join into its FileFlow view, without changing any table: the
   * FileFlow and its File entity (the known one, or a stand-in whose FOID is computed only if
   * read). null when fileRecord would have to create an entity first (a process or container
   * the mapper has not seen): then the caller maps the record for real.
   */
  previewFileRecord(r: LiveFileRecord): (FileFlow & { readonly file: File }) | null {
    const p = this.byPid.get(r.pid);
    if (p === undefined) return null;
    const cid = (r.containerId ?? p.containerId) || null;
    if (cid !== null && !this.containers.has(cid)) return null;
    const rt = r.restype ? r.restype.charCodeAt(0) : RESTYPE.FILE;
    return new PreviewFileFlow(r, p.oid, new PreviewFile(this.files, r, rt, cid));
  }

  /**
   * The process OID previewFileRecord would give a FileFlow of this pid (and container id, as
   * the record has it), or null when it would return null (fileRecord must create an entity).
   */
  previewProcessOid(pid: number, containerId?: string | null): OID | null {
    const p = this.byPid.get(pid);
    if (p === undefined) return null;
    const cid = (containerId ?? p.containerId) || null;
    if (cid !== null && !this.containers.has(cid)) return null;
    return p.oid;
  }

  /**
   * networkRecord(r) for a consumer that needs no NetworkFlow: the same bookkeeping, no objects.
   * Returns how many NetworkFlows it would have made (0 or 1), or null when it would have to
   * create a Process first (then the caller maps the record for real).
   */
  skipNetworkRecord(r: Pick<LiveNetworkRecord, 'pid' | 'localIp' | 'remoteIp'>): number | null {
    if (toIPv4(r.localIp) === null || toIPv4(r.remoteIp) === null) {
      this.stats.unmappable++;
      return 0;
    }
    return this.byPid.has(r.pid) ? 1 : null;
  }

  /** Aggregated network record → NetworkFlow. IPv6 (non-mapped) cannot be encoded: dropped. */
  networkRecord(r: LiveNetworkRecord): SfObject[] {
    const lip = toIPv4(r.localIp);
    const rip = toIPv4(r.remoteIp);
    if (lip === null || rip === null) {
      this.stats.unmappable++;
      return [];
    }
    const out: SfObject[] = [];
    const p = this.procFor(r.pid, r.firstTs, out);
    // SysFlow's source is the initiator: local for connect, remote for accept.
    const accept = r.role === 'accept';
    const [sip, sport, dip, dport] = accept ? [rip, r.remotePort, lip, r.localPort] : [lip, r.localPort, rip, r.remotePort];
    let op = 0;
    if (r.role === 'accept') op |= OP.ACCEPT;
    else if (r.role === undefined || r.role === 'connect') op |= OP.CONNECT;
    if (big(r.recvOps) > 0n || big(r.bytesReceived) > 0n) op |= OP.READ_RECV;
    if (big(r.sendOps) > 0n || big(r.bytesSent) > 0n) op |= OP.WRITE_SEND;
    if (r.shutdown) op |= OP.SHUTDOWN;
    if (r.closed) op |= OP.CLOSE;
    if (r.truncated) op |= OP.TRUNCATE;
    out.push({
      type: 'NF',
      rec: {
        procOID: p.oid,
        ts: r.firstTs,
        tid: BigInt(r.tid),
        opFlags: op,
        endTs: r.lastTs,
        sip: ipStringToInt(sip),
        sport,
        dip: ipStringToInt(dip),
        dport,
        proto: protoNum(r.proto),
        fd: r.fd ?? -1,
        numRRecvOps: big(r.recvOps),
        numWSendOps: big(r.sendOps),
        numRRecvBytes: big(r.bytesReceived),
        numWSendBytes: big(r.bytesSent),
      },
    });
    return out;
  }

  /** A single file-system operation → File entity(ies) + FileEvent. chmod/chown/truncate: none. */
  fileOp(o: LiveFileOp): SfObject[] {
    const bit = FILE_OPS[o.op];
    if (bit === null) {
      this.stats.unmappable++;
      return [];
    }
    const out: SfObject[] = [];
    const p = this.procFor(o.pid, o.ts, out);
    const cid = o.containerId ?? p.containerId;
    const dflt = o.op === 'mkdir' || o.op === 'rmdir' ? 'd' : 'f';
    const f = this.fileFor(o.path, cid, o.restype ?? dflt, o.ts, out);
    let newOid: string | null = null;
    if (o.newPath !== undefined) newOid = this.fileFor(o.newPath, cid, o.restype ?? dflt, o.ts, out).oid;
    out.push({
      type: 'FE',
      rec: { procOID: p.oid, ts: o.ts, tid: BigInt(o.tid), opFlags: bit, fileOID: f.oid, ret: o.ret ?? 0, newFileOID: newOid },
    });
    return out;
  }

  /** Forget a process (e.g. reaped) without emitting anything. */
  forget(pid: number): void {
    this.byPid.delete(pid);
    this.placeholders.delete(pid);
  }

  /** Key of the process's OID, for joining with other tables. */
  static key(oid: OID): string {
    return oidKey(oid);
  }
}

function pe(oid: OID, ts: Ns, tid: number, op: number, ret: number, args: string[] = []): SfObject {
  return { type: 'PE', rec: { procOID: oid, ts, tid: BigInt(tid), opFlags: op, args, ret } };
}

function sameAttrs(a: Process, b: Process): boolean {
  return (
    a.exe === b.exe &&
    a.exeArgs === b.exeArgs &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.userName === b.userName &&
    a.groupName === b.groupName &&
    a.tty === b.tty &&
    a.containerId === b.containerId &&
    a.cwd === b.cwd &&
    a.entry === b.entry &&
    (a.poid === null ? b.poid === null : b.poid !== null && a.poid.hpid === b.poid.hpid && a.poid.createTS === b.poid.createTS) &&
    a.env.length === b.env.length &&
    a.env.every((e, i) => e === b.env[i])
  );
}
