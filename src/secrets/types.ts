import type { DatadogSite } from '../datadog/sites.ts';

/** The Datadog keys the server calls Datadog with. Never logged, never returned. */
export interface DatadogCredentials {
  apiKey: string;
  appKey: string;
  /** Only when the secret itself names a site (`DD_SITE`); validated against the nine sites. */
  site?: DatadogSite;
  /**
   * The other string values of a JSON secret (a client token, a password kept beside the keys).
   * Never used, only scrubbed from upstream text (secrets/scrub.ts).
   */
  otherSecrets?: readonly string[];
}

/** Every secret value of these credentials: the two keys and the other values of their secret. */
export function secretValuesOf(credentials: DatadogCredentials): string[] {
  return [credentials.apiKey, credentials.appKey, ...(credentials.otherSecrets ?? [])];
}

export const SECRETS_ERROR_KINDS = [
  'not_found',
  'access_denied',
  'unauthenticated',
  'misconfigured',
  'unreachable',
  'timeout',
  'malformed',
  'missing_key',
  'empty',
] as const;

export type SecretsErrorKind = (typeof SECRETS_ERROR_KINDS)[number];

/** Exit code of a boot failure of each kind (docs/configuration.md#exit-codes: 69 unreachable dependency, 78 config). */
export function exitCodeOf(kind: SecretsErrorKind): 69 | 78 {
  return kind === 'unreachable' || kind === 'timeout' ? 69 : 78;
}

/** How messages name each provider; the `provider` field keeps the config value. */
const PROVIDER_LABELS: Record<string, string> = {
  aws: 'AWS Secrets Manager',
  gcp: 'GCP Secret Manager',
  azure: 'Azure Key Vault',
};

/** `AWS Secrets Manager` for `aws`; an unknown provider by its config value. */
export function providerLabel(provider: string): string {
  return PROVIDER_LABELS[provider] ?? provider;
}

/**
 * A secret could not be turned into credentials. The message names the provider, the secret
 * reference and where it was looked for (region, project or vault), and never any secret content.
 */
export class SecretsBootError extends Error {
  readonly provider: string;
  readonly secretRef: string;
  readonly location: string | undefined;
  readonly kind: SecretsErrorKind;

  constructor(
    fields: { provider: string; secretRef: string; location?: string | undefined; kind: SecretsErrorKind },
    explanation: string,
    options?: { cause?: unknown },
  ) {
    const where = fields.location ? ` (${fields.location})` : '';
    super(`${providerLabel(fields.provider)} secret ${fields.secretRef}${where}: ${explanation}`, options);
    this.name = 'SecretsBootError';
    this.provider = fields.provider;
    this.secretRef = fields.secretRef;
    this.location = fields.location;
    this.kind = fields.kind;
  }

  get exitCode(): 69 | 78 {
    return exitCodeOf(this.kind);
  }
}
