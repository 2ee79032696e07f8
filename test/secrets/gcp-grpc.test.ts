import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GceMetadataFake, startGceMetadata } from './fakes/gcp.ts';
import { type GcpGrpcFake, startGcpGrpcSecretManager } from './fakes/gcp-grpc.ts';
import { boot, bootFailure, secretsConfig } from './helpers/boot.ts';
import { openCloudSandbox, type CloudSandbox } from './helpers/sandbox.ts';

/**
 * `transport = "grpc"` is honoured: the same config reaches a gRPC server instead of REST. A
 * plain-http endpoint gets insecure channel credentials, over which gRPC sends no token; the
 * default chain still has to produce credentials first, so the metadata fake stays in place.
 */

const PROJECT = 'tinkr-test-proj';
let fake: GcpGrpcFake;
let metadata: GceMetadataFake;
let sandbox: CloudSandbox;

beforeAll(async () => {
  sandbox = openCloudSandbox('tinkr-gcp-grpc-home-');
  metadata = await startGceMetadata({ token: 'test-access-token-grpc', projectId: PROJECT });
  sandbox.isolateEnv({ GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: undefined });
  fake = await startGcpGrpcSecretManager();
});

afterAll(async () => {
  fake.close();
  await metadata.close();
  sandbox.close();
});

const grpcConfig = (over: Record<string, unknown>) =>
  secretsConfig({ provider: 'gcp', project: PROJECT, endpoint: fake.endpoint, transport: 'grpc', timeout_ms: 10_000, ...over });

describe('GCP Secret Manager over gRPC', () => {
  it('reads one JSON secret', async () => {
    fake.put(PROJECT, 'datadog-keys', JSON.stringify({ DD_API_KEY: 'test-api-key-grpc', DD_APP_KEY: 'test-app-key-grpc' }));
    await expect(boot(grpcConfig({ secret: 'datadog-keys' }))).resolves.toEqual({ apiKey: 'test-api-key-grpc', appKey: 'test-app-key-grpc' });
    expect(fake.calls.map((c) => c.name)).toContain(`projects/${PROJECT}/secrets/datadog-keys/versions/latest`);
  });

  it('classifies gRPC status codes like REST ones', async () => {
    const missing = await bootFailure(grpcConfig({ secret: 'absent' }));
    expect([missing.kind, missing.exitCode]).toEqual(['not_found', 78]);
    fake.fail(PROJECT, 'locked', 'denied');
    const denied = await bootFailure(grpcConfig({ secret: 'locked' }));
    expect(denied.kind).toBe('access_denied');
    expect(denied.message).toContain('permission denied or the secret does not exist');
  });

  it('times out at timeout_ms on a hung call', async () => {
    fake.fail(PROJECT, 'slow', 'hang');
    const err = await bootFailure(grpcConfig({ secret: 'slow', timeout_ms: 300 }));
    expect([err.kind, err.exitCode]).toEqual(['timeout', 69]);
  });
});
