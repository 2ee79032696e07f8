import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { secretManagerSource } from './manager.ts';
import type { SecretContext } from './payload.ts';
import type { SecretsConfig } from './schema.ts';
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
 * Azure Key Vault. Credentials come from DefaultAzureCredential (environment service
 * principal, AKS workload identity, managed identity on Container Apps / App Service / VMs, and
 * the developer tools unless AZURE_TOKEN_CREDENTIALS narrows the chain, e.g. to "prod").
 */

// Research §4.3: the SDK's default is 3 retries with exponential backoff (a refused
// connection took ~5.6 s to fail). Two quick retries fit comfortably in secrets.timeout_ms.
const RETRY_OPTIONS = { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 2_000 };
// A healthy vault answers in well under a second; 5 s per attempt leaves room for a slow
// network while keeping three attempts near the 15 s default of secrets.timeout_ms.
const ATTEMPT_TIMEOUT_MS = 5_000;

const CHAIN =
  'DefaultAzureCredential (AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret or certificate, AKS workload identity, managed identity via IDENTITY_ENDPOINT or IMDS)';

// @azure/identity error names for "no token could be had".
const CREDENTIAL_ERRORS = new Set(['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError', 'AuthenticationRequiredError']);

export function createAzureSource(config: SecretsConfig): SecretSource {
  const vault = config.vault_url ?? '';
  const version = config.version;
  let client: Promise<SecretClient> | undefined;

  const open = (): Promise<SecretClient> => {
    client ??= Promise.all([import('@azure/keyvault-secrets'), import('@azure/identity')]).then(([kv, identity]) => {
      const credential: TokenCredential = new identity.DefaultAzureCredential();
      return new kv.SecretClient(config.endpoint ?? vault, credential, {
        retryOptions: RETRY_OPTIONS,
        // An emulator's host never matches the challenge's `vault.azure.net` resource, so the
        // check that guards real vault URLs must be off for it (research update §1).
        ...(config.endpoint !== undefined ? { disableChallengeResourceVerification: true } : {}),
      });
    });
    return client;
  };

  return secretManagerSource(config, {
    provider: 'azure',
    version,
    where: `vault ${vault}`,
    read: async (id, _ctx, signal) => {
      const c = await open();
      const secret = await c.getSecret(id, {
        ...(version !== undefined ? { version } : {}),
        abortSignal: signal,
        requestOptions: { timeout: ATTEMPT_TIMEOUT_MS },
      });
      return secret.value;
    },
    classify: (err, ctx, signal) => classifyAzureError(err, ctx, signal, vault),
    // SecretClient holds no resources of its own; its keep-alive sockets are unreferenced.
    close: async () => {
      client = undefined;
    },
  });
}

/** Maps an error of @azure/keyvault-secrets or @azure/identity to a SecretsBootError (research §4.1). */
export function classifyAzureError(err: unknown, ctx: SecretContext, signal: AbortSignal, vault: string): SecretsBootError {
  if (signal.aborted) return abortedError(ctx);
  const name = stringField(err, 'name') ?? '';
  const code = stringField(err, 'code');
  const status = numberField(err, 'statusCode');
  const message = stringField(err, 'message');
  const inner = innerCode(err);
  // A RestError for an error status carries the vault's own JSON message; other messages (a parse
  // error quotes the body) are not repeated.
  const said = name === 'RestError' && status !== undefined && status >= 400 && code !== undefined && code !== 'PARSE_ERROR' ? serviceSaid(message) : '';

  if (name === 'AbortError') return bootError(ctx, 'timeout', `no answer within ${ATTEMPT_TIMEOUT_MS} ms on each of ${RETRY_OPTIONS.maxRetries + 1} attempts`);
  if (CREDENTIAL_ERRORS.has(name)) {
    return bootError(ctx, 'unauthenticated', `no token for Key Vault from ${CHAIN} (${name})${serviceSaid(firstLine(message))}`);
  }
  if (/^The challenge resource/.test(message ?? '')) {
    return bootError(ctx, 'misconfigured', `the vault answered with an authentication challenge for another cloud's Key Vault; check vault_url`);
  }
  if (status === 404 && code === 'SecretNotFound') {
    return bootError(ctx, 'not_found', `not found in vault ${vault} (or that version does not exist)${said}`);
  }
  if (status === 404) {
    return bootError(ctx, 'misconfigured', `the vault URL answered 404 without a Key Vault error; is ${vault} a Key Vault?`);
  }
  if (status === 403 && inner === 'SecretDisabled') return bootError(ctx, 'misconfigured', `the secret is disabled${said}`);
  if (status === 403) {
    const hint = inner === 'ForbiddenByFirewall' ? "the vault's network rules block this client" : 'grant this identity "Key Vault Secrets User" (RBAC) or get permission on secrets (access policy)';
    return bootError(ctx, 'access_denied', `access denied${inner ? ` (${inner})` : ''}: ${hint}${said}`);
  }
  if (status === 401) return bootError(ctx, 'unauthenticated', `the vault rejected the token (wrong tenant or audience?)${said}`);
  if (status === 400) return bootError(ctx, 'misconfigured', `the request was refused as invalid${said}`);
  if (status !== undefined && (status >= 500 || status === 429)) {
    return bootError(ctx, 'unreachable', `the vault failed (HTTP ${status}) on each of ${RETRY_OPTIONS.maxRetries + 1} attempts`);
  }
  const network = errorCode(err);
  if (network === 'ENOTFOUND') {
    // Vault names resolve only when the vault exists, so this is almost always a wrong vault_url.
    return bootError(ctx, 'misconfigured', `the vault host does not resolve (ENOTFOUND); check vault_url`);
  }
  const failure = networkError(ctx, network, `check network access to ${vault}`);
  if (failure) return failure;
  if (name === 'RestError' && code === 'PARSE_ERROR') {
    // The parse error's message quotes the body, which may hold the secret: only the status is named.
    return bootError(ctx, 'unreachable', `the endpoint answered${status === undefined ? '' : ` HTTP ${status}`} with a body that is not JSON; is ${vault} a Key Vault?`);
  }
  if (/^Cannot connect to .* while allowInsecureConnection is false/.test(message ?? '')) {
    return bootError(ctx, 'misconfigured', 'Key Vault must be reached over https://');
  }
  return unexpectedError(ctx, err);
}

function innerCode(err: unknown): string | undefined {
  const error = field(field(err, 'details'), 'error');
  return stringField(field(error, 'innerError'), 'code') ?? stringField(field(error, 'innererror'), 'code');
}

function firstLine(message: string | undefined): string | undefined {
  return message?.split('\n').find((line) => line.trim() !== '' && !line.startsWith('ChainedTokenCredential'));
}
