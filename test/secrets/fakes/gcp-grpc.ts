import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FakeFailure } from './failure.ts';

/**
 * A loopback GCP Secret Manager over gRPC (plain HTTP/2), for `transport = "grpc"`. It uses the
 * @grpc/grpc-js and @grpc/proto-loader copies google-gax uses and the SDK's own .proto files,
 * so the wire format is exactly what the client expects.
 */

const requireHere = createRequire(import.meta.url);
const sdkEntry = requireHere.resolve('@google-cloud/secret-manager');
const requireFromGax = createRequire(createRequire(sdkEntry).resolve('google-gax'));

interface GrpcCall {
  request: { name: string };
  metadata: { get(key: string): unknown[] };
}
type Callback = (err: { code: number; details: string } | null, response?: unknown) => void;
interface GrpcServer {
  addService(service: unknown, impl: Record<string, (call: GrpcCall, cb: Callback) => void>): void;
  bindAsync(address: string, creds: unknown, cb: (err: Error | null, port: number) => void): void;
  forceShutdown(): void;
}
interface GrpcModule {
  Server: new () => GrpcServer;
  ServerCredentials: { createInsecure(): unknown };
  loadPackageDefinition(def: unknown): Record<string, unknown>;
  status: Record<string, number>;
}

const grpc = requireFromGax('@grpc/grpc-js') as GrpcModule;
const protoLoader = requireFromGax('@grpc/proto-loader') as { loadSync(file: string, opts: object): unknown };

// build/src/index.js → build/protos; google-gax ships the common google/* protos.
const SDK_PROTOS = join(dirname(sdkEntry), '..', 'protos');
const GAX_PROTOS = join(dirname(requireFromGax.resolve('google-gax')), '..', 'protos');
const NAME = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/]+)$/;

export interface GcpGrpcFake {
  readonly endpoint: string;
  readonly calls: Array<{ name: string; authorization: unknown[] }>;
  put(project: string, name: string, value: string): void;
  fail(project: string, name: string, failure: FakeFailure): void;
  close(): void;
}

export async function startGcpGrpcSecretManager(): Promise<GcpGrpcFake> {
  const definition = protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    includeDirs: [SDK_PROTOS, GAX_PROTOS],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const root = grpc.loadPackageDefinition(definition) as {
    google: { cloud: { secretmanager: { v1: { SecretManagerService: { service: unknown } } } } };
  };
  const values = new Map<string, string>();
  const failures = new Map<string, FakeFailure>();
  const calls: GcpGrpcFake['calls'] = [];
  const server = new grpc.Server();
  server.addService(root.google.cloud.secretmanager.v1.SecretManagerService.service, {
    accessSecretVersion(call, cb) {
      calls.push({ name: call.request.name, authorization: call.metadata.get('authorization') });
      const [, project = '', secret = ''] = NAME.exec(call.request.name) ?? [];
      const key = `${project}/${secret}`;
      const failure = failures.get(key);
      if (failure === 'hang') return;
      if (failure === 'denied') {
        cb({ code: grpc.status.PERMISSION_DENIED ?? 7, details: `Permission 'secretmanager.versions.access' denied for resource '${call.request.name}' (or it may not exist).` });
        return;
      }
      const value = values.get(key);
      if (value === undefined || failure === 'not_found') {
        cb({ code: grpc.status.NOT_FOUND ?? 5, details: `Secret [projects/${project}/secrets/${secret}] not found or has no versions.` });
        return;
      }
      cb(null, { name: call.request.name.replace(/latest$/, '1'), payload: { data: Buffer.from(value, 'utf8') } });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    put: (project, name, value) => void values.set(`${project}/${name}`, value),
    fail: (project, name, failure) => void failures.set(`${project}/${name}`, failure),
    close: () => server.forceShutdown(),
  };
}
