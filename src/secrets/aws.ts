import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseSecretArn } from './aws-arn.ts';
import { idsOf, layoutOf } from './layout.ts';
import { secretManagerSource } from './manager.ts';
import type { SecretContext } from './payload.ts';
import { isAwsVersionId, type SecretsConfig } from './schema.ts';
import {
  abortedError,
  bootError,
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
 * AWS Secrets Manager. Credentials come from the SDK's default chain (environment, IRSA web
 * identity, shared files, ECS task role, EC2 instance role); the SDK is imported on first fetch.
 */

// Research §4.3: the SDK has no request timeout by default and only warns on one unless told
// to throw. These bound one attempt; the whole fetch is bounded by secrets.timeout_ms on top.
const CONNECTION_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 5_000;
// Three attempts ride out one dropped connection or a throttled call without stretching boot.
const MAX_ATTEMPTS = 3;

const CHAIN = 'the default credential chain (AWS_* environment variables, IRSA web identity, shared config files, ECS task role, EC2 instance role)';

// Error names of the Secrets Manager API and of STS-style signature checks (research §4.1).
const NOT_FOUND = new Set(['ResourceNotFoundException']);
const DENIED = new Set(['AccessDeniedException', 'DecryptionFailure', 'AccessDenied']);
const UNAUTHENTICATED = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);
const MISCONFIGURED = new Set(['InvalidRequestException', 'InvalidParameterException', 'ValidationException']);

export function createAwsSource(config: SecretsConfig): SecretSource {
  const version = config.version;
  const versionField = version === undefined ? {} : isAwsVersionId(version) ? { VersionId: version } : { VersionStage: version };
  /** The region inside an ARN wins (the SDK itself would ignore it); the schema refused disagreeing ones. */
  const regionOf = (id: string): string => parseSecretArn(id)?.region ?? config.region ?? '';
  const regions = [...new Set(idsOf(layoutOf(config)).map(({ id }) => regionOf(id)))];
  const clients = new Map<string, Promise<SecretsManagerClient>>();

  const clientFor = (region: string): Promise<SecretsManagerClient> => {
    let client = clients.get(region);
    if (client === undefined) {
      client = import('@aws-sdk/client-secrets-manager').then(
        (sdk) =>
          new sdk.SecretsManagerClient({
            region,
            ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
            maxAttempts: MAX_ATTEMPTS,
            requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
          }),
      );
      clients.set(region, client);
    }
    return client;
  };

  return secretManagerSource(config, {
    provider: 'aws',
    version,
    where: `${regions.length === 1 ? 'region' : 'regions'} ${regions.join(', ')}`,
    whereOf: (id) => `region ${regionOf(id)}`,
    read: async (id, ctx, signal) => {
      const [client, sdk] = await Promise.all([clientFor(regionOf(id)), import('@aws-sdk/client-secrets-manager')]);
      const out = await client.send(new sdk.GetSecretValueCommand({ SecretId: id, ...versionField }), { abortSignal: signal });
      if (out.SecretString !== undefined) return out.SecretString;
      if (out.SecretBinary !== undefined) return decodeBinary(out.SecretBinary, ctx);
      return undefined;
    },
    classify: (err, ctx, signal, id) => classifyAwsError(err, ctx, signal, regionOf(id)),
    close: async () => {
      const pending = [...clients.values()];
      clients.clear();
      for (const client of await Promise.allSettled(pending)) if (client.status === 'fulfilled') client.value.destroy();
    },
  });
}

/** A binary secret is accepted when it is UTF-8 text; its bytes are never shown. */
function decodeBinary(bytes: Uint8Array, ctx: SecretContext): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bootError(ctx, 'malformed', `is a binary secret that is not UTF-8 text (length ${bytes.length} bytes)`);
  }
}

/** Maps an error of the AWS SDK (or of its credential chain) to a SecretsBootError (research §4.1). */
export function classifyAwsError(err: unknown, ctx: SecretContext, signal: AbortSignal, region: string): SecretsBootError {
  if (signal.aborted) return abortedError(ctx);
  const name = stringField(err, 'name') ?? '';
  const message = stringField(err, 'message');
  // Only errors parsed from a service error body carry `$fault`; their messages are safe to quote.
  const fromService = field(err, '$fault') !== undefined;
  const said = fromService ? serviceSaid(message) : '';
  const status = numberField(field(err, '$metadata'), 'httpStatusCode');

  if (name === 'AbortError') return abortedError(ctx);
  if (name === 'TimeoutError') {
    return bootError(ctx, 'timeout', `no answer within ${REQUEST_TIMEOUT_MS} ms on each of ${MAX_ATTEMPTS} attempts`);
  }
  if (NOT_FOUND.has(name)) {
    return bootError(ctx, 'not_found', `not found in region ${region}: check the name, the region and the version${said}`);
  }
  if (DENIED.has(name)) {
    const what = name === 'DecryptionFailure' ? 'the KMS key that encrypts the secret may not be used by' : 'access denied to';
    return bootError(ctx, 'access_denied', `${what} this identity (grant secretsmanager:GetSecretValue, and kms:Decrypt for a customer-managed key)${said}`);
  }
  if (name === 'InvalidSignatureException' && /scoped to a valid region/i.test(message ?? '')) {
    // The endpoint serves another region than the one the request was signed for.
    return bootError(ctx, 'misconfigured', `the endpoint rejects requests signed for region ${region}; region and endpoint disagree${said}`);
  }
  if (name === 'CredentialsProviderError') {
    return bootError(ctx, 'unauthenticated', `no AWS credentials: nothing in ${CHAIN} provided any`);
  }
  if (UNAUTHENTICATED.has(name)) return bootError(ctx, 'unauthenticated', `the service rejected the credentials (${name})${said}`);
  if (MISCONFIGURED.has(name)) return bootError(ctx, 'misconfigured', `the request was refused (${name})${said}`);
  if (!fromService && /^(Region is missing|Region not accepted|Invalid region)/.test(message ?? '')) {
    return bootError(ctx, 'misconfigured', `the region "${region}" is not usable by the AWS SDK`);
  }
  const network = networkError(ctx, errorCode(err), `check network access to Secrets Manager in region ${region}`);
  if (network) return network;
  if (status !== undefined && status >= 500) {
    return bootError(ctx, 'unreachable', `the service failed (HTTP ${status}${name ? `, ${name}` : ''}) on each of ${MAX_ATTEMPTS} attempts`);
  }
  if (status !== undefined && !fromService) {
    // A body the SDK could not parse (a proxy page, say): its text may hold the secret, so only the status is named.
    return bootError(ctx, 'unreachable', `the endpoint answered HTTP ${status} with a body that is not Secrets Manager JSON; is the endpoint a Secrets Manager?`);
  }
  if (fromService) return bootError(ctx, 'misconfigured', `the request was refused (${name})${said}`);
  return unexpectedError(ctx, err);
}
