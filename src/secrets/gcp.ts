import { createRequire } from 'node:module';
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { secretManagerSource } from './manager.ts';
import type { SecretContext } from './payload.ts';
import type { SecretsConfig } from './schema.ts';
import {
  abortedError,
  bootError,
  codeInMessage,
  errorCode,
  field,
  networkError,
  numberField,
  serviceSaid,
  stringField,
  unexpectedError,
} from './sdk-errors.ts';
import type { SecretSource } from './source.ts';
import type { SecretsBootError } from './types.ts';

/**
 * GCP Secret Manager. Credentials come from Application Default Credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, the gcloud ADC file, the metadata server: GKE Workload
 * Identity, Cloud Run). REST (`fallback: true`) is the default transport because it is the one
 * the tests drive; `transport = "grpc"` selects gRPC.
 */

const DEFAULT_VERSION = 'latest';

// Research §4.3: AccessSecretVersion retries UNAVAILABLE/DEADLINE_EXCEEDED for up to 600 s
// with a 2 s first backoff. Boot wants a few quick retries inside secrets.timeout_ms instead.
const ATTEMPT_TIMEOUT_MS = 5_000;
const MAX_RETRIES = 2;
const BACKOFF = {
  initialRetryDelayMillis: 200,
  retryDelayMultiplier: 2,
  maxRetryDelayMillis: 2_000,
  initialRpcTimeoutMillis: ATTEMPT_TIMEOUT_MS,
  rpcTimeoutMultiplier: 1,
  maxRpcTimeoutMillis: ATTEMPT_TIMEOUT_MS,
  maxRetries: MAX_RETRIES,
};

// gRPC status codes (google.rpc.Code); gax maps REST statuses onto them too.
const CODE = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

// google-auth-library's own messages for "no credentials" and "the token source failed"; it
// throws plain Errors for them, so the message is all there is to match.
const NO_ADC = 'Could not load the default credentials';
const NO_TOKEN = 'Could not refresh access token';

const ADC = 'Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the gcloud ADC file, the metadata server / Workload Identity)';

export function createGcpSource(config: SecretsConfig): SecretSource {
  const project = config.project ?? '';
  const version = config.version ?? DEFAULT_VERSION;
  let client: Promise<SecretManagerServiceClient> | undefined;

  const open = (): Promise<SecretManagerServiceClient> => {
    client ??= (async () => {
      const sdk = await import('@google-cloud/secret-manager');
      const c = new sdk.SecretManagerServiceClient(await clientOptions(config));
      try {
        // Resolve ADC before the first call: when it fails inside the call, gax builds its method
        // stubs on the rejected promise and leaves one rejection unhandled, which ends the process.
        await c.auth.getClient();
      } catch (err) {
        // Forget the client so the next fetch (a key refresh) tries the chain again.
        client = undefined;
        throw err;
      }
      return c;
    })();
    return client;
  };

  return secretManagerSource(config, {
    provider: 'gcp',
    version,
    where: `project ${project}`,
    read: async (id, _ctx, signal) => {
      const c = await open();
      const [response] = await c.accessSecretVersion(
        { name: c.secretVersionPath(project, id, version) },
        { timeout: ATTEMPT_TIMEOUT_MS, retry: { backoffSettings: { ...BACKOFF } }, signal },
      );
      const data = response.payload?.data;
      if (data === undefined || data === null) return undefined;
      // protobuf `bytes` arrive as a Buffer on both transports; a string form would be base64.
      return (typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data)).toString('utf8');
    },
    classify: (err, ctx, signal) => classifyGcpError(err, ctx, signal, project),
    close: async () => {
      const pending = client;
      client = undefined;
      // close() re-raises a failed initialisation (no credentials, say): already reported by fetch.
      await pending?.then((c) => c.close()).catch(() => {});
    },
  });
}

type ClientOptions = NonNullable<ConstructorParameters<typeof SecretManagerServiceClient>[0]>;

/**
 * Research update §3: `endpoint = "http://127.0.0.1:PORT"` maps to apiEndpoint/port/protocol.
 * Over gRPC a plain-http endpoint needs insecure channel credentials from the grpc-js copy
 * google-gax uses, so it is loaded through the SDK's own module resolution.
 */
async function clientOptions(config: SecretsConfig): Promise<ClientOptions> {
  const rest = config.transport !== 'grpc';
  // Giving ADC the project stops it discovering one, which spawns `gcloud config config-helper`
  // (~0.4 s per client even where gcloud is not installed) and asks the metadata server.
  const options: ClientOptions = { fallback: rest, projectId: config.project };
  if (config.endpoint === undefined) return options;
  const url = new URL(config.endpoint);
  const secure = url.protocol === 'https:';
  options.apiEndpoint = url.hostname.replace(/^\[(.*)\]$/, '$1');
  options.port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  options.protocol = secure ? 'https' : 'http';
  if (!rest && !secure) {
    const requireFromSdk = createRequire(createRequire(import.meta.url).resolve('@google-cloud/secret-manager'));
    const gax = requireFromSdk('google-gax') as { grpc: { credentials: { createInsecure(): unknown } } };
    options.sslCreds = gax.grpc.credentials.createInsecure() as ClientOptions['sslCreds'];
  }
  return options;
}

/** Maps a google-gax / google-auth-library error to a SecretsBootError (research §4.1 and update §2). */
export function classifyGcpError(err: unknown, ctx: SecretContext, signal: AbortSignal, project: string): SecretsBootError {
  if (signal.aborted) return abortedError(ctx);
  const code = numberField(err, 'code');
  const message = stringField(err, 'message') ?? '';
  const reason = stringField(err, 'reason');
  // Messages of client-side statuses come from the service's JSON error; retry and transport
  // messages quote raw response text, which could be the secret, so they are never repeated.
  const said = code !== undefined && [3, 5, 7, 9, 16].includes(code) ? serviceSaid(message) : '';

  if (message.startsWith(NO_ADC)) return bootError(ctx, 'unauthenticated', `no Google credentials: nothing in ${ADC} provided any`);
  if (message.startsWith(NO_TOKEN)) {
    return bootError(ctx, 'unauthenticated', `could not get an access token from ${ADC}; on GKE check the Workload Identity binding`);
  }
  switch (code) {
    case CODE.NOT_FOUND:
      return bootError(ctx, 'not_found', `not found in project ${project} (or the version does not exist)${said}`);
    case CODE.PERMISSION_DENIED:
      if (reason === 'SERVICE_DISABLED' || reason === 'CONSUMER_INVALID') {
        return bootError(ctx, 'misconfigured', `the Secret Manager API is disabled in project ${project}, or the project does not exist (${reason})${said}`);
      }
      // The service answers the same for a missing secret and a forbidden one (research §4.2).
      return bootError(
        ctx,
        'access_denied',
        `permission denied or the secret does not exist; the Secret Manager API may be disabled in project ${project} (grant roles/secretmanager.secretAccessor on the secret)${said}`,
      );
    case CODE.UNAUTHENTICATED:
      return bootError(ctx, 'unauthenticated', `the service rejected the credentials from ${ADC}${said}`);
    case CODE.INVALID_ARGUMENT:
      return bootError(ctx, 'misconfigured', `the request was refused as invalid (check project, secret id and version)${said}`);
    case CODE.FAILED_PRECONDITION:
      return bootError(ctx, 'misconfigured', `the version is disabled or destroyed${said}`);
    default:
      break;
  }
  if (code === CODE.DEADLINE_EXCEEDED && message.startsWith('Deadline exceeded')) {
    return bootError(ctx, 'timeout', `no answer within ${ATTEMPT_TIMEOUT_MS} ms`);
  }
  const network = networkError(ctx, errorCode(err) ?? codeInMessage(message), `check network access to Secret Manager for project ${project}`);
  if (network) return network;
  if (code === CODE.DEADLINE_EXCEEDED || code === CODE.UNAVAILABLE) {
    // Retries exhausted on responses that were not Secret Manager answers (or no responses).
    return bootError(ctx, 'unreachable', `no usable answer after ${MAX_RETRIES + 1} attempts (gRPC code ${code}); is the endpoint a Secret Manager?`);
  }
  if (code === CODE.CANCELLED) return abortedError(ctx);
  const status = numberField(err, 'httpStatusCode') ?? numberField(field(err, 'response'), 'status');
  if (code !== undefined) {
    return bootError(ctx, 'unreachable', `the service failed (gRPC code ${code}${status === undefined ? '' : `, HTTP ${status}`})`);
  }
  return unexpectedError(ctx, err);
}
