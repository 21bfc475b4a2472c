// Container metadata from the Kubernetes CRI API (k8s.io/cri-api runtime.v1) over gRPC on a UNIX
// socket: containerd's CRI plugin and CRI-O. ContainerStatus (verbose) gives name, image, image
// ref, labels, annotations, the sandbox id and the privileged flag (verbose info only); the
// sandbox's PodSandboxStatus gives the pod's labels (kubelet puts the pod labels on the sandbox,
// not on its containers); Version says which runtime answers.
// @grpc/grpc-js and the proto are loaded on first use (~250 ms of CPU to import on the test
// machine), so agents that never ask a CRI socket do not pay for them.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as GrpcJs from '@grpc/grpc-js';
import type { ContainerRuntime, InspectResult, PodInfo } from './containers.js';

/** containerd (CRI plugin on its main socket) and CRI-O; missing ones are skipped. */
export const DEFAULT_CRI_SOCKETS = ['/run/containerd/containerd.sock', '/run/crio/crio.sock'];

const PROTO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../proto/cri-api/runtime/v1/status.proto');

type Callback = (err: GrpcJs.ServiceError | null, res?: unknown) => void;
type Unary = (req: object, opts: GrpcJs.CallOptions, cb: Callback) => GrpcJs.ClientUnaryCall;
interface RuntimeClient extends GrpcJs.Client { Version: Unary; PodSandboxStatus: Unary; ContainerStatus: Unary }
interface Loaded { grpc: typeof GrpcJs; Service: new (address: string, creds: GrpcJs.ChannelCredentials, options?: GrpcJs.ChannelOptions) => RuntimeClient }

let loading: Promise<Loaded> | undefined;

/** grpc-js and the RuntimeService definition, imported once per process. */
function loadGrpc(): Promise<Loaded> {
  loading ??= (async () => {
    const grpc = await import('@grpc/grpc-js');
    const loader = await import('@grpc/proto-loader');
    const def = await loader.load(PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
    const v1 = (grpc.loadPackageDefinition(def)['runtime'] as GrpcJs.GrpcObject)['v1'] as GrpcJs.GrpcObject;
    return { grpc, Service: v1['RuntimeService'] as unknown as Loaded['Service'] };
  })();
  return loading;
}

/** Only string values of a protobuf map (anything else in a decoded object is dropped). */
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The verbose info's "info" entry: JSON from containerd ({sandboxID, pid, config, runtimeSpec…})
 * and CRI-O ({sandboxID, pid, privileged, runtimeSpec…}); undefined when absent or not JSON. */
export function parseVerboseInfo(info: Record<string, string>): { sandboxId?: string; pid?: number; privileged?: boolean } | undefined {
  const text = info['info'];
  if (text === undefined) return undefined;
  let j: Record<string, unknown> | undefined;
  try { j = obj(JSON.parse(text)); } catch { return undefined; }
  if (!j) return undefined;
  const out: { sandboxId?: string; pid?: number; privileged?: boolean } = {};
  if (typeof j['sandboxID'] === 'string' && j['sandboxID']) out.sandboxId = j['sandboxID'];
  if (typeof j['pid'] === 'number' && Number.isInteger(j['pid']) && j['pid'] > 0) out.pid = j['pid'];
  // CRI-O reports the flag itself; containerd echoes the CreateContainer config, where proto3 JSON
  // leaves out a false `privileged` (a present security_context without it means false)
  if (typeof j['privileged'] === 'boolean') out.privileged = j['privileged'];
  else {
    const sc = obj(obj(obj(j['config'])?.['linux'])?.['security_context']);
    if (sc) out.privileged = sc['privileged'] === true;
  }
  return out;
}

/** The pod of a sandbox: kubelet's io.kubernetes.pod.* labels, else the sandbox's metadata;
 * its labels without kubelet's own io.kubernetes.* keys. */
export function podOfSandbox(status: Record<string, unknown>): PodInfo | undefined {
  const labels = stringMap(status['labels']);
  const md = obj(status['metadata']) ?? {};
  const name = labels['io.kubernetes.pod.name'] ?? str(md['name']);
  if (!name) return undefined;
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (!k.startsWith('io.kubernetes.')) own[k] = v;
  return { name, namespace: labels['io.kubernetes.pod.namespace'] ?? str(md['namespace']), uid: labels['io.kubernetes.pod.uid'] ?? str(md['uid']), labels: own };
}

function runtimeOf(name: string): ContainerRuntime | undefined {
  const n = name.toLowerCase();
  return n === 'containerd' ? 'containerd' : n === 'cri-o' || n === 'crio' ? 'cri-o' : undefined;
}

export class CriApi {
  readonly kind = 'cri';
  private client: RuntimeClient | undefined;
  private version: Promise<ContainerRuntime | undefined> | undefined;
  private readonly sandboxes = new Map<string, Promise<PodInfo | undefined>>();
  private closed = false;
  /** calls answered with an error other than NOT_FOUND (unreachable, deadline, bad reply) */
  failures = 0;
  /** why grpc-js or the proto could not be loaded, if so */
  loadError: string | undefined;

  constructor(readonly socketPath: string, private readonly timeoutMs = 2000, private readonly maxSandboxes = 1024) {}

  private async call(method: 'Version' | 'PodSandboxStatus' | 'ContainerStatus', req: object): Promise<Record<string, unknown> | undefined> {
    if (this.closed) return undefined;
    let c = this.client;
    if (!c) {
      let g: Loaded;
      try { g = await loadGrpc(); } catch (e) {
        // a broken install (module or proto missing) costs the metadata, never the record
        this.failures++;
        this.loadError ??= (e as Error).message;
        return undefined;
      }
      const { grpc, Service } = g;
      if (this.closed) return undefined;
      c = this.client ??= new Service(`unix:${this.socketPath}`, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': 4 << 20, 'grpc.enable_retries': 0, 'grpc.initial_reconnect_backoff_ms': 1000,
      });
    }
    return new Promise((resolve) => {
      try {
        c[method](req, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
          if (err) {
            if (err.code !== 5 /* NOT_FOUND */) this.failures++;
            resolve(undefined);
          } else resolve(obj(res));
        });
      } catch {
        this.failures++;
        resolve(undefined);
      }
    });
  }

  /** The runtime behind the socket (asked until it answers; undefined if it does not say). */
  private runtime(): Promise<ContainerRuntime | undefined> {
    const v = this.version ??= this.call('Version', { version: 'v1' }).then((r) => runtimeOf(str(r?.['runtime_name'])));
    // an unanswered Version is asked again with the next container
    void v.then((rt) => { if (!rt && this.version === v) this.version = undefined; });
    return v;
  }

  private pod(sandboxId: string): Promise<PodInfo | undefined> {
    let p = this.sandboxes.get(sandboxId);
    if (!p) {
      p = this.call('PodSandboxStatus', { pod_sandbox_id: sandboxId, verbose: false }).then((r) => {
        const s = obj(r?.['status']);
        return s ? podOfSandbox(s) : undefined;
      });
      if (this.sandboxes.size >= this.maxSandboxes) this.sandboxes.delete(this.sandboxes.keys().next().value!);
      this.sandboxes.set(sandboxId, p);
      // a failed look-up is not remembered: the next container of the pod asks again
      void p.then((pod) => { if (!pod && this.sandboxes.get(sandboxId) === p) this.sandboxes.delete(sandboxId); });
    }
    return p;
  }

  /** Metadata of a container, or undefined (unknown to this runtime, unreachable, odd reply). */
  async inspect(id: string): Promise<InspectResult | undefined> {
    const [r, runtime] = await Promise.all([this.call('ContainerStatus', { container_id: id, verbose: true }), this.runtime()]);
    const s = obj(r?.['status']);
    if (!s) return undefined;
    // an answer about some other container is no answer
    if (s['id'] !== undefined && s['id'] !== '' && s['id'] !== id) { this.failures++; return undefined; }
    const image = obj(s['image']) ?? {};
    const verbose = parseVerboseInfo(stringMap(r?.['info']));
    const pod = verbose?.sandboxId ? await this.pod(verbose.sandboxId) : undefined;
    return {
      name: str(obj(s['metadata'])?.['name']),
      image: str(image['user_specified_image']) || str(image['image']),
      imageId: str(s['image_ref']) || str(s['image_id']),
      privileged: verbose?.privileged,
      labels: stringMap(s['labels']),
      annotations: stringMap(s['annotations']),
      engine: runtime ?? 'cri',
      ...(runtime ? { runtime } : {}),
      ...(pod ? { pod } : {}),
    };
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = undefined;
  }
}
