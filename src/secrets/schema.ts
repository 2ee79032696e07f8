import { z } from 'zod';
import { parseDuration } from '../time/duration.ts';
import { parseSecretArn } from './aws-arn.ts';
import { isKeyVaultUrl, KEY_VAULT_SUFFIXES } from './vault-url.ts';

/** Default bound on the whole secret fetch at boot (docs/secrets.md), whatever the SDK's own retries. */
export const DEFAULT_SECRETS_TIMEOUT_MS = 15_000;

const durationString = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: 'expected a duration such as "15m", "1h" or "1d"' });

/**
 * Shapes the providers accept. They are checked here so a typo fails at boot with the config
 * path, not later as a confusing "not found" from the cloud.
 */
// AWS regions: `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`.
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
// Secrets Manager names: 1-512 of letters, digits and /_+=.@- (AWS CreateSecret `Name`).
const AWS_SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
// A VersionId is a UUID (the SDK generates v4 UUIDs); anything else names a staging label.
const AWS_VERSION_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// Staging labels: 1-256 characters (AWS UpdateSecretVersionStage `VersionStage`).
const AWS_VERSION_STAGE = /^[A-Za-z0-9_+=.@-]{1,256}$/;
// GCP project ids (6-30, lowercase, digits, hyphens) or project numbers.
const GCP_PROJECT = /^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\d{1,20})$/;
// GCP secret ids: up to 255 of letters, digits, `_` and `-` (CreateSecretRequest.secret_id).
const GCP_SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
// GCP versions: `latest`, a version number, or a version alias; never `/` or `:` (they would change the path).
const GCP_VERSION = /^[A-Za-z0-9_-]{1,63}$/;
const GCP_VERSION_NUMBER = /^\d+$/;
// Key Vault object names: letters, digits and dashes only, so `DD_API_KEY` is stored as `DD-API-KEY`.
const AZURE_SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
// Key Vault object versions are 32 hex characters.
const AZURE_VERSION = /^[0-9a-fA-F]{32}$/;

export const SECRET_PROVIDERS = ['aws', 'gcp', 'azure'] as const;
export type SecretProvider = (typeof SECRET_PROVIDERS)[number];

/** Which keys belong to which provider; any other provider setting one is a mistake worth stopping for. */
const PROVIDER_ONLY = { region: 'aws', project: 'gcp', vault_url: 'azure' } as const;

/** `[profiles.NAME.secrets]` (docs/secrets.md). Provider-specific rules are checked in superRefine below. */
export const secretsSchema = z
  .object({
    provider: z.enum(['env', ...SECRET_PROVIDERS]).default('env'),
    /** One JSON secret `{"DD_API_KEY","DD_APP_KEY","DD_SITE"?}`. */
    secret: z.string().min(1).optional(),
    /** One plaintext secret per key. */
    keys: z
      .object({
        DD_API_KEY: z.string().min(1),
        DD_APP_KEY: z.string().min(1),
        DD_SITE: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    region: z.string().min(1).optional(),
    project: z.string().min(1).optional(),
    vault_url: z.string().min(1).optional(),
    version: z.string().min(1).optional(),
    /** Emulator/test override of the provider's API endpoint. */
    endpoint: z.url().optional(),
    /** GCP only: REST (default, the tested path) or gRPC. */
    transport: z.enum(['rest', 'grpc']).default('rest'),
    timeout_ms: z.number().int().min(100).max(600_000).default(DEFAULT_SECRETS_TIMEOUT_MS),
    /** Re-read the secrets this often (e.g. "1h"); off when absent. */
    refresh_interval: durationString.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: path.split('.'), message });

    if (config.provider === 'env') {
      for (const key of ['secret', 'keys', 'region', 'project', 'vault_url', 'version', 'endpoint', 'refresh_interval'] as const) {
        if (config[key] !== undefined) issue(key, `applies only to provider "aws", "gcp" or "azure"; provider is "env"`);
      }
      if (config.transport !== 'rest') issue('transport', 'applies only to provider "gcp"');
      return;
    }
    const provider = config.provider;

    for (const [key, owner] of Object.entries(PROVIDER_ONLY)) {
      if (owner !== provider && config[key as keyof typeof PROVIDER_ONLY] !== undefined) {
        issue(key, `applies only to provider "${owner}"; provider is "${provider}"`);
      }
    }
    if (provider !== 'gcp' && config.transport !== 'rest') issue('transport', 'applies only to provider "gcp"');

    if ((config.secret === undefined) === (config.keys === undefined)) {
      issue(
        config.secret === undefined ? 'secret' : 'keys',
        'set exactly one of `secret` (one JSON secret holding DD_API_KEY, DD_APP_KEY and optionally DD_SITE) or `keys` (one secret per key)',
      );
      return;
    }
    const ids: Array<[path: string, id: string]> =
      config.secret !== undefined
        ? [['secret', config.secret]]
        : Object.entries(config.keys ?? {}).flatMap(([k, id]) => (id === undefined ? [] : [[`keys.${k}`, id] as [string, string]]));

    if (config.endpoint !== undefined) {
      const url = new URL(config.endpoint);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') issue('endpoint', 'must be an http:// or https:// URL');
      else if (provider === 'azure' && url.protocol !== 'https:') {
        issue('endpoint', 'must be https:// for provider "azure": the Key Vault SDK answers its authentication challenge only over HTTPS');
      }
      if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
        issue('endpoint', 'must be a plain base URL (no query, fragment or credentials)');
      }
      if (provider === 'gcp' && url.pathname !== '/') issue('endpoint', 'must have no path for provider "gcp" (the API paths are fixed)');
    }

    if (provider === 'aws') refineAws(config, ids, issue);
    else if (provider === 'gcp') refineGcp(config, ids, issue);
    else refineAzure(config, ids, issue);
  });

export type SecretsConfig = z.infer<typeof secretsSchema>;

type Issue = (path: string, message: string) => void;

function refineAws(config: SecretsConfig, ids: Array<[string, string]>, issue: Issue): void {
  if (config.region !== undefined && !AWS_REGION.test(config.region)) {
    issue('region', `"${config.region}" is not an AWS region name such as "eu-west-1"`);
  }
  let allArns = true;
  for (const [path, id] of ids) {
    if (id.startsWith('arn:')) {
      const arn = parseSecretArn(id);
      if (!arn) {
        issue(path, 'is not a Secrets Manager secret ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME)');
      } else if (config.region !== undefined && arn.region !== config.region) {
        // The SDK would sign for `region` and ask that region's endpoint, which does not hold the secret.
        issue(path, `names region ${arn.region} but region is "${config.region}"; remove region (the ARN's region is used) or make them agree`);
      }
    } else {
      allArns = false;
      if (!AWS_SECRET_NAME.test(id)) issue(path, 'is not a Secrets Manager secret name or ARN (letters, digits and /_+=.@- only, up to 512)');
    }
  }
  if (config.region === undefined && !allArns) {
    issue('region', 'is required for provider "aws" unless every secret is given by its ARN');
  }
  if (config.version !== undefined) {
    if (AWS_VERSION_ID.test(config.version)) {
      if (config.keys !== undefined) {
        issue('version', 'is a version id, which identifies a version of one secret; with `keys`, use a staging label (e.g. AWSCURRENT) or leave it out');
      }
    } else if (!AWS_VERSION_STAGE.test(config.version)) {
      issue('version', 'is neither a staging label (e.g. AWSCURRENT, AWSPREVIOUS) nor a version id (a UUID)');
    }
  }
}

function refineGcp(config: SecretsConfig, ids: Array<[string, string]>, issue: Issue): void {
  if (config.project === undefined) issue('project', 'is required for provider "gcp" (the project id or number holding the secrets)');
  else if (!GCP_PROJECT.test(config.project)) issue('project', `"${config.project}" is not a GCP project id or number`);
  for (const [path, id] of ids) {
    if (!GCP_SECRET_ID.test(id)) issue(path, 'is not a Secret Manager secret id (letters, digits, _ and - only, up to 255)');
  }
  if (config.version !== undefined) {
    if (!GCP_VERSION.test(config.version)) issue('version', 'must be "latest", a version number or a version alias');
    else if (config.keys !== undefined && GCP_VERSION_NUMBER.test(config.version)) {
      issue('version', 'a version number identifies a version of one secret; with `keys`, use "latest" or an alias, or leave it out');
    }
  }
}

function refineAzure(config: SecretsConfig, ids: Array<[string, string]>, issue: Issue): void {
  if (config.vault_url === undefined) issue('vault_url', 'is required for provider "azure" (e.g. "https://my-vault.vault.azure.net")');
  else if (!isKeyVaultUrl(config.vault_url)) {
    issue('vault_url', `is not a Key Vault URL: expected https://NAME.${KEY_VAULT_SUFFIXES.join(' or https://NAME.')} with no path`);
  }
  for (const [path, id] of ids) {
    if (!AZURE_SECRET_NAME.test(id)) {
      issue(path, 'is not a Key Vault secret name: letters, digits and dashes only, up to 127 (store DD_API_KEY as DD-API-KEY)');
    }
  }
  if (config.version !== undefined) {
    if (!AZURE_VERSION.test(config.version)) issue('version', 'is not a Key Vault secret version (32 hex characters)');
    else if (config.keys !== undefined) {
      issue('version', 'identifies a version of one secret; with `keys`, leave it out (each secret\'s latest version is used)');
    }
  }
}

/** Whether an AWS `version` names a version id (else a staging label). */
export function isAwsVersionId(version: string): boolean {
  return AWS_VERSION_ID.test(version);
}
