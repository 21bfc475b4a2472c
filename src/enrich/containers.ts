// Containers and pods. The container id comes from the process's cgroup path: the cgroup v2 id
// that every process record carries (mapped to a path by walking the unified hierarchy) or, on
// v1/hybrid hosts where the v2 cgroup does not tell, /proc/PID/cgroup (read once per process,
// asynchronously). Name, image, image id and privileged come from a docker-compatible API on a
// UNIX socket (docker, or podman's `podman system service`) or from the CRI gRPC API
// (containerd, CRI-O: ./cri-api.ts), cached per id; the pod name, namespace and labels from the
// CRI labels (io.kubernetes.*) the runtime keeps on the container or its pod sandbox.
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import type { Envelope, Stage, StageContext } from '../pipeline/types.js';
import type { ProcEntry, ProcessEnrichment } from './process-table.js';
import { CriApi, DEFAULT_CRI_SOCKETS } from './cri-api.js';

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'lxc';

export interface CgroupContainer {
  /** full id (64 hex) or the lxc container name */
  readonly id: string;
  readonly runtime: ContainerRuntime;
  /** kubelet pod uid when the path shows it */
  readonly podUid?: string;
}

const HEX64 = '[0-9a-f]{64}';
const SCOPED = new RegExp(`^(docker|cri-containerd|crio|libpod)-(${HEX64})(?:\\.scope)?$`);
const BARE = new RegExp(`^${HEX64}$`);
const PREFIX_RT: Record<string, ContainerRuntime> = { docker: 'docker', 'cri-containerd': 'containerd', crio: 'cri-o', libpod: 'podman' };

/**
 * The container a cgroup path belongs to, or undefined for the host. Recognised forms:
 * docker `/docker/<id>`, `/system.slice/docker-<id>.scope`; containerd `/<namespace>/<id>`,
 * `…/kubepods…/pod<uid>/<id>`, `…/cri-containerd-<id>.scope`; CRI-O `…/crio-<id>(.scope)`;
 * podman `/libpod_parent/libpod-<id>`, `/machine.slice/libpod-<id>.scope` (and a trailing
 * `/container` leaf from crun); lxc `/lxc/<name>`, `/lxc.payload.<name>`. Conmon and shim
 * scopes (`libpod-conmon-<id>`, `crio-conmon-<id>`) are the host.
 */
export function containerFromCgroupPath(p: string): CgroupContainer | undefined {
  const parts = p.split('/').filter((x) => x.length > 0);
  let podUid: string | undefined;
  for (const c of parts) {
    const m = /^pod([0-9a-f_-]{36})$/.exec(c) ?? /^kubepods(?:-[a-z]+)?-pod([0-9a-f_]{36})\.slice$/.exec(c);
    if (m) podUid = m[1]!.replace(/_/g, '-');
  }
  for (let i = parts.length - 1; i >= 0; i--) {
    const c = parts[i]!;
    const s = SCOPED.exec(c);
    if (s) return { id: s[2]!, runtime: PREFIX_RT[s[1]!]!, ...(podUid ? { podUid } : {}) };
    if (BARE.test(c)) {
      const parent = parts[i - 1] ?? '';
      const runtime: ContainerRuntime = parent === 'docker' ? 'docker' : parent === 'libpod_parent' ? 'podman' : parent === 'crio' ? 'cri-o' : 'containerd';
      return { id: c, runtime, ...(podUid ? { podUid } : {}) };
    }
    if (c === 'lxc' && parts[i + 1]) return { id: parts[i + 1]!, runtime: 'lxc' };
    const lx = /^lxc\.payload\.(.+)$/.exec(c);
    if (lx) return { id: lx[1]!, runtime: 'lxc' };
  }
  return undefined;
}

/** /proc/PID/cgroup text: the v2 line ("0::") first, then name=systemd, then any controller. */
export function containerFromProcCgroup(text: string): CgroupContainer | undefined {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const pathOf = (l: string) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1);
  const order = [...lines.filter((l) => l.startsWith('0::')), ...lines.filter((l) => l.includes(':name=systemd:')), ...lines];
  for (const l of order) {
    const c = containerFromCgroupPath(pathOf(l));
    if (c) return c;
  }
  return undefined;
}

/**
 * The pod of a container from its CRI labels (io.kubernetes.pod.name/namespace/uid, which
 * kubelet sets on every container of a pod); the pod's labels are the other labels, without
 * kubelet's own io.kubernetes.* and cri-dockerd's annotation.* keys. undefined: not in a pod.
 */
export function podOf(labels: Readonly<Record<string, string>>, cgroupPodUid?: string): PodInfo | undefined {
  const name = labels['io.kubernetes.pod.name'];
  if (name === undefined) return undefined;
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (!k.startsWith('io.kubernetes.') && !k.startsWith('annotation.')) own[k] = v;
  return { name, namespace: labels['io.kubernetes.pod.namespace'] ?? '', uid: labels['io.kubernetes.pod.uid'] ?? cgroupPodUid ?? '', labels: own };
}

export interface PodInfo { readonly name: string; readonly namespace: string; readonly uid: string; readonly labels: Readonly<Record<string, string>> }

/** What the container stage attaches as env.enrich.container (absent for host processes). */
export interface ContainerEnrichment {
  readonly id: string;
  /** the 12-character id that docker, podman and SysFlow show */
  readonly shortId: string;
  readonly runtime: ContainerRuntime;
  readonly name?: string;
  readonly image?: string;
  readonly imageId?: string;
  readonly privileged?: boolean;
  readonly labels?: Readonly<Record<string, string>>;
  /** the container's annotations (CRI only) */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly pod?: PodInfo;
  /** 'pending': the runtime's API did not answer within the wait (a later record has it);
   * 'none': no API socket knows the container */
  readonly metadata: 'done' | 'pending' | 'none';
}

/** What a runtime's API says about a container. */
export interface InspectResult {
  name: string; image: string; imageId: string;
  /** undefined: the API does not tell (CRI without verbose info) */
  privileged: boolean | undefined;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  engine: 'docker' | 'podman' | ContainerRuntime | 'cri';
  /** the runtime that answered, when it says (CRI Version), over the cgroup path's guess */
  runtime?: ContainerRuntime;
  /** the pod from its sandbox (CRI), over the one from the container's labels */
  pod?: PodInfo;
}

/** A runtime API that can describe a container by id. */
export interface ContainerApi {
  readonly socketPath: string;
  readonly kind: 'docker' | 'cri';
  inspect(id: string): Promise<InspectResult | undefined>;
  close?(): void;
  /** set when the client itself cannot work (logged once) */
  readonly loadError?: string | undefined;
}

/** GET over a UNIX socket; resolves to the status and body (undefined when nothing listens). */
function httpGet(socketPath: string, path: string, timeoutMs: number): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, method: 'GET', headers: { Host: 'localhost' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 4 << 20) body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Docker Engine API (also served by podman): /containers/{id}/json. */
export class DockerApi implements ContainerApi {
  readonly kind = 'docker';
  constructor(readonly socketPath: string, private readonly timeoutMs = 2000) {}

  async inspect(id: string): Promise<InspectResult | undefined> {
    const r = await httpGet(this.socketPath, `/containers/${encodeURIComponent(id)}/json`, this.timeoutMs);
    if (!r || r.status !== 200) return undefined;
    let j: {
      Name?: unknown; Image?: unknown; Config?: { Image?: unknown; Labels?: unknown }; HostConfig?: { Privileged?: unknown };
      Driver?: unknown; OCIRuntime?: unknown; IsInfra?: unknown;
    };
    try { j = JSON.parse(r.body) as typeof j; } catch { return undefined; }
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    const labels: Record<string, string> = {};
    if (j.Config?.Labels && typeof j.Config.Labels === 'object') {
      for (const [k, v] of Object.entries(j.Config.Labels as Record<string, unknown>)) if (typeof v === 'string') labels[k] = v;
    }
    return {
      name: str(j.Name).replace(/^\//, ''), image: str(j.Config?.Image), imageId: str(j.Image), privileged: j.HostConfig?.Privileged === true,
      labels, engine: this.socketPath.includes('podman') ? 'podman' : 'docker',
    };
  }
}

/** Default sockets, tried in order; missing ones are skipped. */
export const DEFAULT_SOCKETS = ['/var/run/docker.sock', '/run/podman/podman.sock'];

/** cgroup v2 id (the directory's inode) → path relative to the v2 root, by walking it. */
export class CgroupIndex {
  private byId = new Map<bigint, string>();
  private refreshing: Promise<void> | undefined;
  private lastRefresh = 0;
  readonly root: string | undefined;
  refreshes = 0;

  constructor(root?: string, private readonly minIntervalMs = 200) {
    this.root = root ?? (existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : existsSync('/sys/fs/cgroup/unified/cgroup.controllers') ? '/sys/fs/cgroup/unified' : undefined);
  }

  path(id: bigint): string | undefined {
    return this.byId.get(id);
  }

  /** Re-walks the hierarchy (coalesced; at most once per minIntervalMs). */
  refresh(): Promise<void> {
    if (!this.root) return Promise.resolve();
    if (this.refreshing) return this.refreshing;
    const wait = Math.max(0, this.lastRefresh + this.minIntervalMs - Date.now());
    this.refreshing = new Promise<void>((r) => setTimeout(r, wait)).then(async () => {
      const next = new Map<bigint, string>();
      const walk = async (abs: string, rel: string, depth: number): Promise<void> => {
        try { next.set((await stat(abs, { bigint: true })).ino, rel || '/'); } catch { return; }
        if (depth > 12) return;
        let ents;
        try { ents = await readdir(abs, { withFileTypes: true }); } catch { return; }
        for (const e of ents) if (e.isDirectory()) await walk(`${abs}/${e.name}`, `${rel}/${e.name}`, depth + 1);
      };
      await walk(this.root!, '', 0);
      this.byId = next;
      this.refreshes++;
      this.lastRefresh = Date.now();
    }).finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }
}

export interface ContainerStageOptions {
  /** docker-compatible API sockets (default DEFAULT_SOCKETS) */
  sockets?: string[];
  /** CRI gRPC sockets (default DEFAULT_CRI_SOCKETS) */
  criSockets?: string[];
  /** how long one API call may take (default 2 s; a record never waits longer than waitMs) */
  apiTimeoutMs?: number;
  /** longest a batch waits for cgroup and API look-ups (default 100 ms) */
  waitMs?: number;
  cgroupIndex?: CgroupIndex;
  /** read /proc/PID/cgroup when the v2 id does not identify a container (default: not on pure v2) */
  procFallback?: boolean;
  procRoot?: string;
  /** how long "no API knows it" is remembered before asking again (default 30 s) */
  negativeTtlMs?: number;
  /** bound on remembered containers and processes (default 4096 / 65,536) */
  maxContainers?: number;
  maxProcesses?: number;
}

type Meta = { state: 'done'; info: InspectResult } | { state: 'none'; at: number };

export class ContainerStage implements Stage {
  readonly name = 'containers';
  private readonly apis: ContainerApi[];
  private readonly logged = new Set<ContainerApi>();
  private readonly waitMs: number;
  readonly cgroups: CgroupIndex;
  private readonly procFallback: boolean;
  private readonly procRoot: string;
  private readonly negativeTtlMs: number;
  private readonly maxContainers: number;
  private readonly maxProcesses: number;
  private readonly meta = new Map<string, Meta>();
  private readonly metaInflight = new Map<string, Promise<void>>();
  /** "pid:startNs" → container from /proc/PID/cgroup (null: host) */
  private readonly byProcess = new Map<string, CgroupContainer | null>();
  /** /proc/PID/cgroup text → its container (null: host); few distinct texts on a host */
  private readonly parsed = new Map<string, CgroupContainer | null>();
  private readonly procInflight = new Map<string, Promise<void>>();
  private cgroupMiss: Promise<void> | undefined;
  readonly stats = { procCgroupReads: 0, apiCalls: 0, tagged: 0, metadataPending: 0 };
  private log: (t: string) => void = () => {};

  constructor(opts: ContainerStageOptions = {}) {
    const timeout = opts.apiTimeoutMs ?? 2000;
    this.apis = [
      ...(opts.sockets ?? DEFAULT_SOCKETS).map((s) => new DockerApi(s, timeout)),
      ...(opts.criSockets ?? DEFAULT_CRI_SOCKETS).map((s) => new CriApi(s, timeout)),
    ];
    this.waitMs = opts.waitMs ?? 100;
    this.cgroups = opts.cgroupIndex ?? new CgroupIndex();
    this.procFallback = opts.procFallback ?? this.cgroups.root !== '/sys/fs/cgroup';
    this.procRoot = opts.procRoot ?? '/proc';
    this.negativeTtlMs = opts.negativeTtlMs ?? 30_000;
    this.maxContainers = opts.maxContainers ?? 4096;
    this.maxProcesses = opts.maxProcesses ?? 65536;
  }

  async start(ctx?: StageContext): Promise<void> {
    if (ctx) this.log = (t) => ctx.log(t);
    await this.cgroups.refresh();
  }

  /** locate()'s settled answers per process entry: entries are immutable and shared by the
   * records of a process, and every source of an answer is fixed once given (the cgroup path of
   * an id, a parsed text, a process's /proc cgroup), so the common case is one WeakMap look-up
   * instead of building a "pid:start" key per record */
  private readonly located = new WeakMap<ProcEntry, CgroupContainer | null>();

  /** The container of a process, or null (host), or undefined (not known yet: `wait` says why). */
  private locate(p: ProcEntry, wait: Promise<void>[] | null): CgroupContainer | null | undefined {
    let c = this.located.get(p);
    if (c === undefined) {
      c = this.locateOnce(p, wait);
      if (c !== undefined) this.located.set(p, c);
    }
    return c;
  }

  private locateOnce(p: ProcEntry, wait: Promise<void>[] | null): CgroupContainer | null | undefined {
    if (p.cgroupId !== 0n) {
      const path = this.cgroups.path(p.cgroupId);
      if (path === undefined) {
        if (!wait) return undefined;
        this.cgroupMiss ??= this.cgroups.refresh().finally(() => { this.cgroupMiss = undefined; });
        wait.push(this.cgroupMiss);
        return undefined;
      }
      let c = this.parsed.get(path);
      if (c === undefined) {
        c = containerFromCgroupPath(path) ?? null;
        if (this.parsed.size >= 4096) this.parsed.clear();
        this.parsed.set(path, c);
      }
      if (c) return c;
    }
    if (p.cgroup) {
      let c = this.parsed.get(p.cgroup);
      if (c === undefined) {
        c = containerFromProcCgroup(p.cgroup) ?? null;
        if (this.parsed.size >= 4096) this.parsed.clear();
        this.parsed.set(p.cgroup, c);
      }
      if (c) return c;
    }
    if (!this.procFallback) return null;
    const key = `${p.pid}:${p.startNs}`;
    const known = this.byProcess.get(key);
    if (known !== undefined) return known;
    if (p.exited) return null; // its /proc entry is gone or belongs to someone else
    if (!wait) return undefined;
    let pr = this.procInflight.get(key);
    if (!pr) {
      this.stats.procCgroupReads++;
      pr = readFile(`${this.procRoot}/${p.pid}/cgroup`, 'utf8').then(
        (t) => { this.setProcess(key, containerFromProcCgroup(t) ?? null); },
        () => { this.setProcess(key, null); },
      ).finally(() => this.procInflight.delete(key));
      this.procInflight.set(key, pr);
    }
    wait.push(pr);
    return undefined;
  }

  private setProcess(key: string, c: CgroupContainer | null): void {
    if (this.byProcess.size >= this.maxProcesses) this.byProcess.delete(this.byProcess.keys().next().value!);
    this.byProcess.set(key, c);
  }

  private metadata(c: CgroupContainer, wait: Promise<void>[]): Meta | undefined {
    const id = c.id;
    const m = this.meta.get(id);
    if (m && (m.state === 'done' || Date.now() - m.at < this.negativeTtlMs)) return m;
    let pr = this.metaInflight.get(id);
    if (!pr) {
      // the API the cgroup path points at first: CRI for containerd/CRI-O, docker's for the rest
      const cri = c.runtime === 'containerd' || c.runtime === 'cri-o';
      const order = [...this.apis.filter((a) => (a.kind === 'cri') === cri), ...this.apis.filter((a) => (a.kind === 'cri') !== cri)];
      pr = (async () => {
        for (const api of order) {
          if (!existsSync(api.socketPath)) continue;
          this.stats.apiCalls++;
          const info = await api.inspect(id).catch(() => undefined);
          if (api.loadError && !this.logged.has(api)) {
            this.logged.add(api);
            this.log(`containers: ${api.socketPath}: ${api.loadError}`);
          }
          if (info) return this.setMeta(id, { state: 'done', info });
        }
        this.setMeta(id, { state: 'none', at: Date.now() });
      })().finally(() => this.metaInflight.delete(id));
      this.metaInflight.set(id, pr);
    }
    wait.push(pr);
    return m; // a stale negative answer is used while asking again
  }

  private setMeta(id: string, m: Meta): void {
    if (this.meta.size >= this.maxContainers) this.meta.delete(this.meta.keys().next().value!);
    this.meta.set(id, m);
  }

  /** Starts the look-ups the batch needs; returns what to wait for (empty: all cached). */
  private lookups(batch: Envelope[]): Promise<void>[] {
    const wait: Promise<void>[] = [];
    for (const env of batch) {
      const p = env.enrich?.['process'] as ProcessEnrichment | undefined;
      if (!p) continue;
      const c = this.locate(p, wait);
      if (c) this.metadata(c, wait);
    }
    return wait;
  }

  process(batch: Envelope[]): Envelope[] | Promise<Envelope[]> {
    const first = this.lookups(batch);
    if (!first.length) return this.attach(batch);
    // two rounds within one deadline: a container found only once the cgroup index or
    // /proc answered still gets its metadata asked for
    const deadline = Date.now() + this.waitMs;
    const within = (w: Promise<void>[]): Promise<void> => {
      let t: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => { t = setTimeout(r, Math.max(0, deadline - Date.now())); });
      return Promise.race([Promise.all(w), bound]).then(() => clearTimeout(t));
    };
    return within(first).then(async () => {
      const second = Date.now() < deadline ? this.lookups(batch) : [];
      if (second.length) await within(second);
      return this.attach(batch);
    });
  }

  /** The container of a process from the caches only (starts no look-up): for synchronous readers. */
  containerOf(p: ProcEntry): ContainerEnrichment | undefined {
    const c = this.locate(p, null);
    return c ? this.describe(c) : undefined;
  }

  private attach(batch: Envelope[]): Envelope[] {
    for (const env of batch) {
      const p = env.enrich?.['process'] as ProcessEnrichment | undefined;
      if (!p) continue;
      const c = this.locate(p, null); // look-ups were started by process(); only caches here
      if (!c) continue;
      const e = this.describe(c);
      if (e.metadata === 'pending') this.stats.metadataPending++;
      this.stats.tagged++;
      (env.enrich ??= {})['container'] = e;
    }
    return batch;
  }

  /** the last enrichment made per container, reused while its metadata answer is the same */
  private readonly described = new WeakMap<CgroupContainer, { m: Meta | undefined; inflight: boolean; e: ContainerEnrichment }>();

  private describe(c: CgroupContainer): ContainerEnrichment {
    const m = this.meta.get(c.id);
    const inflight = m?.state !== 'done' && this.metaInflight.has(c.id);
    const d = this.described.get(c);
    if (d && d.m === m && d.inflight === inflight) return d.e;
    const e = this.make(c, m, inflight);
    this.described.set(c, { m, inflight, e });
    return e;
  }

  private make(c: CgroupContainer, m: Meta | undefined, inflight: boolean): ContainerEnrichment {
    let e: ContainerEnrichment;
    if (m?.state === 'done') {
      const i = m.info;
      const pod = i.pod ?? podOf(i.labels, c.podUid);
      e = {
        id: c.id, shortId: c.id.slice(0, 12), runtime: i.runtime ?? c.runtime, name: i.name, image: i.image, imageId: i.imageId,
        ...(i.privileged !== undefined ? { privileged: i.privileged } : {}), labels: i.labels,
        ...(i.annotations ? { annotations: i.annotations } : {}), ...(pod ? { pod } : {}), metadata: 'done',
      };
    } else {
      e = { id: c.id, shortId: c.id.slice(0, 12), runtime: c.runtime, metadata: inflight ? 'pending' : 'none' };
    }
    return e;
  }

  close(): void {
    for (const a of this.apis) a.close?.();
    if (this.stats.metadataPending) this.log(`containers: ${this.stats.metadataPending} records left before their container's metadata arrived`);
  }
}
