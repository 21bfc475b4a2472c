// Test helpers for the CRI API: a client and a server built from the full upstream proto
// (proto/cri-api/runtime/v1/api.proto), independent of the trimmed one the agent loads, so the
// tests also check that the subset decodes what the full definition encodes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

export const FULL_PROTO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../proto/cri-api/runtime/v1/api.proto');

let svc: grpc.ServiceClientConstructor | undefined;
export function runtimeService(): grpc.ServiceClientConstructor {
  if (!svc) {
    const def = loader.loadSync(FULL_PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
    svc = ((grpc.loadPackageDefinition(def)['runtime'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject)['RuntimeService'] as grpc.ServiceClientConstructor;
  }
  return svc;
}

export type CriCall = (method: string, req: object, timeoutMs?: number) => Promise<Record<string, unknown>>;

/** A promise-returning CRI client on a UNIX socket. */
export function criClient(socketPath: string): { call: CriCall; close: () => void } {
  const Service = runtimeService();
  const c = new Service(`unix:${socketPath}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (req: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>;
  const call: CriCall = (method, req, timeoutMs = 60000) => new Promise((resolve, reject) => {
    c[method]!(req, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r as Record<string, unknown>)));
  });
  return { call, close: () => c.close() };
}

export type Handler = (req: Record<string, unknown>) => Record<string, unknown> | grpc.ServiceError | Promise<Record<string, unknown> | grpc.ServiceError>;

export function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/** A CRI server implementing the given RuntimeService methods (others: UNIMPLEMENTED), counting calls. */
export async function criServer(socketPath: string, handlers: Record<string, Handler>): Promise<{ calls: Record<string, number>; close: () => Promise<void> }> {
  const Service = runtimeService();
  const calls: Record<string, number> = {};
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, h] of Object.entries(handlers)) {
    impl[name] = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      calls[name] = (calls[name] ?? 0) + 1;
      void Promise.resolve(h(call.request)).then((r) => (r instanceof Error ? cb(r as grpc.ServiceError) : cb(null, r)));
    };
  }
  const server = new grpc.Server();
  server.addService(Service.service, impl);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return { calls, close: () => new Promise<void>((r) => server.tryShutdown(() => r())).then(() => server.forceShutdown()) };
}
