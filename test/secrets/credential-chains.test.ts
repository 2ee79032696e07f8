import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzureKeyVaultFake, type ManagedIdentityFake, startAzureKeyVault, startManagedIdentity } from './fakes/azure.ts';
import { makeTestCertificates, type TestCertificates } from './fakes/tls.ts';
import { runBootChild } from './helpers/child.ts';
import { offlineDefaults } from './helpers/env.ts';

/**
 * Default-chain cases that need a fresh process: the SDKs cache credentials process-wide
 * (MSAL's managed-identity tokens, gcp-metadata's detection), and NODE_EXTRA_CA_CERTS is only
 * read when Node starts. Each case runs the boot path in a child with a clean environment.
 */

const VAULT = 'https://tinkr-test.vault.azure.net';
const IDENTITY_HEADER = 'test-identity-header';
const TOKEN = 'test-managed-identity-token';

let certs: TestCertificates;
let vault: AzureKeyVaultFake;
let identity: ManagedIdentityFake;
let home: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'tinkr-chains-home-'));
  certs = makeTestCertificates();
  vault = await startAzureKeyVault(certs);
  vault.acceptTokens(TOKEN);
  vault.put('datadog-keys', JSON.stringify({ DD_API_KEY: 'test-api-key-child', DD_APP_KEY: 'test-app-key-child' }));
  identity = await startManagedIdentity({ token: TOKEN, identityHeader: IDENTITY_HEADER });
});

afterAll(async () => {
  await vault.close();
  await identity.close();
  certs.dispose();
  rmSync(home, { recursive: true, force: true });
});

const azureConfig = () => ({ provider: 'azure', vault_url: VAULT, endpoint: vault.url, secret: 'datadog-keys', timeout_ms: 10_000 });
const managedIdentityEnv = () => ({
  IDENTITY_ENDPOINT: identity.endpoint,
  IDENTITY_HEADER,
  AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
});

describe('Azure: trusting the Key Vault endpoint the way a deployment does', () => {
  it('boots when NODE_EXTRA_CA_CERTS names the CA at process start', async () => {
    const result = await runBootChild('boot', azureConfig(), { ...offlineDefaults(home), ...managedIdentityEnv(), NODE_EXTRA_CA_CERTS: certs.caPath });
    expect(result).toMatchObject({ ok: true, apiKeyLength: 'test-api-key-child'.length, violations: [] });
    const authorized = vault.calls().filter((c) => c.authorization === `Bearer ${TOKEN}`);
    expect(authorized.length).toBeGreaterThan(0);
  });

  it('without it the same boot is refused as misconfigured, with the NODE_EXTRA_CA_CERTS hint', async () => {
    const result = await runBootChild('boot', azureConfig(), { ...offlineDefaults(home), ...managedIdentityEnv() });
    expect(result).toMatchObject({ ok: false, kind: 'misconfigured', exitCode: 78, violations: [] });
    expect(result.message).toContain('NODE_EXTRA_CA_CERTS');
  });
});

describe('unauthenticated: the default chain yields no token', () => {
  it('Azure: the managed-identity endpoint refuses', async () => {
    identity.setFailing(true);
    try {
      const result = await runBootChild('boot', azureConfig(), { ...offlineDefaults(home), ...managedIdentityEnv(), NODE_EXTRA_CA_CERTS: certs.caPath });
      expect(result).toMatchObject({ ok: false, kind: 'unauthenticated', exitCode: 78, violations: [] });
      expect(result.message).toContain('no token for Key Vault');
      expect(result.message).toContain(`vault ${VAULT}`);
    } finally {
      identity.setFailing(false);
    }
  });

  it('Azure: nothing configured for the chain', async () => {
    const result = await runBootChild('boot', azureConfig(), { ...offlineDefaults(home), NODE_EXTRA_CA_CERTS: certs.caPath });
    expect(result).toMatchObject({ ok: false, kind: 'unauthenticated', exitCode: 78, violations: [] });
    expect(result.message).toContain('EnvironmentCredential');
  });

  it('GCP: no key file, no gcloud credentials, no metadata server', async () => {
    const config = { provider: 'gcp', project: 'tinkr-test-proj', secret: 'datadog-keys', endpoint: 'http://127.0.0.1:9', timeout_ms: 10_000 };
    const result = await runBootChild('boot', config, offlineDefaults(home));
    expect(result).toMatchObject({ ok: false, kind: 'unauthenticated', exitCode: 78, violations: [] });
    expect(result.message).toContain('no Google credentials');
    expect(result.message).toContain('project tinkr-test-proj');
  });
});
