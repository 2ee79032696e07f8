import { describe, expect, it } from 'vitest';
import { secretsSchema } from '../../src/secrets/schema.ts';
import { isKeyVaultUrl } from '../../src/secrets/vault-url.ts';

/** The issues zod reports, as `path: message` lines. */
function issues(raw: Record<string, unknown>): string[] {
  const result = secretsSchema.safeParse(raw);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const ARN_EU = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/tinkr/datadog-AbCdEf';
const ARN_US = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/tinkr/dd-app-XyZ123';

describe('secrets schema: common rules', () => {
  it('defaults to provider env with the 15 s boot bound', () => {
    expect(secretsSchema.parse({})).toMatchObject({ provider: 'env', timeout_ms: 15_000, transport: 'rest' });
  });

  it('refuses provider settings under provider env, so they cannot be silently ignored', () => {
    expect(issues({ provider: 'env', secret: 'x', region: 'eu-west-1' })).toEqual([
      'secret: applies only to provider "aws", "gcp" or "azure"; provider is "env"',
      'region: applies only to provider "aws", "gcp" or "azure"; provider is "env"',
    ]);
  });

  it('needs exactly one of secret and keys', () => {
    expect(issues({ provider: 'aws', region: 'eu-west-1' })[0]).toMatch(/^secret: set exactly one of `secret`/);
    expect(issues({ provider: 'aws', region: 'eu-west-1', secret: 'a', keys: { DD_API_KEY: 'b', DD_APP_KEY: 'c' } })[0]).toMatch(
      /^keys: set exactly one of `secret`/,
    );
  });

  it('refuses another provider\'s location keys and gRPC outside GCP', () => {
    expect(issues({ provider: 'aws', region: 'eu-west-1', secret: 's', project: 'my-project', transport: 'grpc' })).toEqual([
      'project: applies only to provider "gcp"; provider is "aws"',
      'transport: applies only to provider "gcp"',
    ]);
  });

  it('refuses an endpoint with query or credentials', () => {
    expect(issues({ provider: 'aws', region: 'eu-west-1', secret: 's', endpoint: 'http://u:p@127.0.0.1:4566/?x=1' })).toEqual([
      'endpoint: must be a plain base URL (no query, fragment or credentials)',
    ]);
  });
});

describe('secrets schema: aws', () => {
  it('needs a region unless every id is an ARN, and then takes none', () => {
    expect(issues({ provider: 'aws', secret: 'prod/tinkr/datadog' })).toEqual([
      'region: is required for provider "aws" unless every secret is given by its ARN',
    ]);
    expect(issues({ provider: 'aws', secret: ARN_EU })).toEqual([]);
    expect(issues({ provider: 'aws', keys: { DD_API_KEY: ARN_EU, DD_APP_KEY: 'plain-name' } })).toEqual([
      'region: is required for provider "aws" unless every secret is given by its ARN',
    ]);
  });

  it('refuses an ARN whose region differs from the configured one', () => {
    expect(issues({ provider: 'aws', region: 'eu-west-1', keys: { DD_API_KEY: ARN_EU, DD_APP_KEY: ARN_US } })).toEqual([
      'keys.DD_APP_KEY: names region us-east-1 but region is "eu-west-1"; remove region (the ARN\'s region is used) or make them agree',
    ]);
  });

  it('refuses malformed regions, ARNs and names', () => {
    expect(issues({ provider: 'aws', region: 'eu_west_1', secret: 'x' })).toEqual([
      'region: "eu_west_1" is not an AWS region name such as "eu-west-1"',
    ]);
    expect(issues({ provider: 'aws', secret: 'arn:aws:s3:::bucket' })[0]).toMatch(/^secret: is not a Secrets Manager secret ARN/);
    expect(issues({ provider: 'aws', region: 'eu-west-1', secret: 'has space' })[0]).toMatch(/^secret: is not a Secrets Manager secret name/);
  });

  it('accepts GovCloud and China ARNs', () => {
    expect(issues({ provider: 'aws', secret: 'arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:dd-AbCdEf' })).toEqual([]);
    expect(issues({ provider: 'aws', secret: 'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:dd-AbCdEf' })).toEqual([]);
  });

  it('allows a staging label with keys but not a version id', () => {
    const keys = { DD_API_KEY: 'a', DD_APP_KEY: 'b' };
    expect(issues({ provider: 'aws', region: 'eu-west-1', keys, version: 'AWSPREVIOUS' })).toEqual([]);
    expect(issues({ provider: 'aws', region: 'eu-west-1', keys, version: '11111111-2222-4333-8444-555555555555' })[0]).toMatch(
      /^version: is a version id/,
    );
  });
});

describe('secrets schema: gcp', () => {
  it('needs a valid project', () => {
    expect(issues({ provider: 'gcp', secret: 'dd' })).toEqual([
      'project: is required for provider "gcp" (the project id or number holding the secrets)',
    ]);
    expect(issues({ provider: 'gcp', secret: 'dd', project: 'Bad_Project' })).toEqual([
      'project: "Bad_Project" is not a GCP project id or number',
    ]);
    expect(issues({ provider: 'gcp', secret: 'dd', project: '123456789012' })).toEqual([]);
  });

  it('refuses secret ids and versions that would change the resource path', () => {
    expect(issues({ provider: 'gcp', project: 'my-project', secret: 'a/b' })[0]).toMatch(/^secret: is not a Secret Manager secret id/);
    expect(issues({ provider: 'gcp', project: 'my-project', secret: 'dd', version: '1:access' })).toEqual([
      'version: must be "latest", a version number or a version alias',
    ]);
  });

  it('refuses a version number with keys, and a path on the endpoint', () => {
    expect(issues({ provider: 'gcp', project: 'my-project', keys: { DD_API_KEY: 'a', DD_APP_KEY: 'b' }, version: '3' })[0]).toMatch(
      /^version: a version number identifies/,
    );
    expect(issues({ provider: 'gcp', project: 'my-project', secret: 'dd', endpoint: 'http://127.0.0.1:9090/v1' })).toEqual([
      'endpoint: must have no path for provider "gcp" (the API paths are fixed)',
    ]);
  });
});

describe('secrets schema: azure', () => {
  it('needs a Key Vault URL', () => {
    expect(issues({ provider: 'azure', secret: 'dd' })[0]).toMatch(/^vault_url: is required/);
    expect(issues({ provider: 'azure', secret: 'dd', vault_url: 'https://evil.example.com' })[0]).toMatch(/^vault_url: is not a Key Vault URL/);
    expect(issues({ provider: 'azure', secret: 'dd', vault_url: 'https://my-vault.vault.azure.net' })).toEqual([]);
  });

  it('takes Azure secret names with dashes only', () => {
    expect(issues({ provider: 'azure', vault_url: 'https://my-vault.vault.azure.net', keys: { DD_API_KEY: 'DD_API_KEY', DD_APP_KEY: 'DD-APP-KEY' } })).toEqual([
      'keys.DD_API_KEY: is not a Key Vault secret name: letters, digits and dashes only, up to 127 (store DD_API_KEY as DD-API-KEY)',
    ]);
  });

  it('needs an https endpoint and a 32-hex version, and no version with keys', () => {
    const base = { provider: 'azure', vault_url: 'https://my-vault.vault.azure.net' };
    expect(issues({ ...base, secret: 'dd', endpoint: 'http://127.0.0.1:8443' })[0]).toMatch(/^endpoint: must be https:\/\//);
    expect(issues({ ...base, secret: 'dd', version: 'latest' })).toEqual(['version: is not a Key Vault secret version (32 hex characters)']);
    expect(issues({ ...base, keys: { DD_API_KEY: 'a', DD_APP_KEY: 'b' }, version: '0123456789abcdef0123456789abcdef' })[0]).toMatch(
      /^version: identifies a version of one secret/,
    );
  });
});

describe('isKeyVaultUrl', () => {
  it.each([
    ['https://my-vault.vault.azure.net', true],
    ['https://my-vault.vault.azure.net/', true],
    ['https://gov-vault.vault.usgovcloudapi.net', true],
    ['https://cn-vault.vault.azure.cn', true],
    ['https://de-vault.vault.microsoftazure.de', true],
    ['http://my-vault.vault.azure.net', false],
    ['https://my-vault.vault.azure.net:8443', false],
    ['https://my-vault.vault.azure.net/secrets', false],
    ['https://vault.azure.net', false],
    ['https://my-vault.vault.azure.net.evil.com', false],
    ['https://a--b.vault.azure.net', false],
    ['https://ab.vault.azure.net', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(isKeyVaultUrl(url)).toBe(expected);
  });
});
