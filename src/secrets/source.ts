import { type Clock, systemClock } from '../clock.ts';
import { createAwsSource } from './aws.ts';
import { createAzureSource } from './azure.ts';
import { createGcpSource } from './gcp.ts';
import type { SecretsConfig } from './schema.ts';
import { type DatadogCredentials, SecretsBootError } from './types.ts';

/**
 * A place credentials come from; created from a profile's secrets config. Creating one loads
 * no SDK: each provider imports its SDK on the first fetch, so an env-only boot never pays
 * for the three of them.
 */
export interface SecretSource {
  readonly provider: 'aws' | 'gcp' | 'azure';
  /** The secret reference(s), e.g. `prod/datadog` or `DD_API_KEY=a, DD_APP_KEY=b`, with the version when set. */
  readonly secretRef: string;
  /** Where they are looked up: `region eu-west-1`, `project my-proj`, `vault https://x.vault.azure.net`. */
  readonly location: string;
  /** Provider, secret reference(s) and region/project/vault, for logs and /readyz; never a secret. */
  describe(): string;
  /** Reads the credentials; rejects with SecretsBootError only. Stops promptly when `signal` aborts. */
  fetch(signal: AbortSignal): Promise<DatadogCredentials>;
  /** Releases the SDK client (keep-alive sockets, gRPC channels). Never throws. */
  close(): Promise<void>;
}

export function createSecretSource(config: SecretsConfig): SecretSource {
  switch (config.provider) {
    case 'aws':
      return createAwsSource(config);
    case 'gcp':
      return createGcpSource(config);
    case 'azure':
      return createAzureSource(config);
    case 'env':
      throw new Error('provider "env" reads DD_API_KEY/DD_APP_KEY from the environment and has no secret source');
  }
}

/**
 * Fetch bounded by `timeoutMs` in total: the SDKs retry on their own schedules (GCP's default
 * allows 600 s), so the deadline is enforced here. On expiry the signal aborts the SDK call and
 * the fetch rejects at once with kind 'timeout' (exit 69), even if the SDK ignores the signal.
 */
export async function fetchWithDeadline(source: SecretSource, timeoutMs: number, clock: Clock = systemClock): Promise<DatadogCredentials> {
  const controller = new AbortController();
  const deadline = new AbortController();
  const expired = clock.sleep(timeoutMs, deadline.signal).then(
    () => {
      const error = new SecretsBootError(
        { provider: source.provider, secretRef: source.secretRef, location: source.location, kind: 'timeout' },
        `no answer within ${timeoutMs} ms (secrets.timeout_ms); the secret manager or the identity endpoint is slow or unreachable`,
      );
      controller.abort(error);
      throw error;
    },
    // The sleep is cancelled once the fetch settles; nothing to report then.
    () => new Promise<never>(() => {}),
  );
  const fetching = source.fetch(controller.signal);
  // A fetch that loses the race still settles later; its outcome no longer matters.
  fetching.catch(() => {});
  try {
    return await Promise.race([fetching, expired]);
  } finally {
    deadline.abort();
  }
}
