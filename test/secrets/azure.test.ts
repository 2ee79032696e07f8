import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATADOG_SITES } from '../../src/datadog/sites.ts';
import { createSecretSource } from '../../src/secrets/source.ts';
import { type AzureKeyVaultFake, type ManagedIdentityFake, startAzureKeyVault, startManagedIdentity } from './fakes/azure.ts';
import { closedPort } from './fakes/server.ts';
import { makeTestCertificates, type TestCertificates } from './fakes/tls.ts';
import { boot, bootFailure, secretsConfig } from './helpers/boot.ts';
import { openCloudSandbox, type CloudSandbox } from './helpers/sandbox.ts';
import { expectNoLeak } from './helpers/no-leak.ts';

/**
 * Every test here goes through DefaultAzureCredential narrowed to ManagedIdentityCredential,
 * whose token comes from the loopback IDENTITY_ENDPOINT (the Container Apps / App Service
 * path). The vault fake speaks HTTPS with a throwaway CA: the SDK answers the Key Vault
 * challenge only over HTTPS. In this process the CA is trusted with tls.setDefaultCACertificates;
 * azure-credentials.test.ts checks the NODE_EXTRA_CA_CERTS route a deployment would use.
 */

const API = 'test-api-key-azure';
const APP = 'test-app-key-azure';
const KEYS_JSON = JSON.stringify({ DD_API_KEY: API, DD_APP_KEY: APP });
const VAULT = 'https://tinkr-test.vault.azure.net';
const TOKEN = 'test-managed-identity-token';
const IDENTITY_HEADER = 'test-identity-header';

let vault: AzureKeyVaultFake;
let identity: ManagedIdentityFake;
let certs: TestCertificates;
let sandbox: CloudSandbox;
let originalCAs: string[];

beforeAll(async () => {
  sandbox = openCloudSandbox('tinkr-azure-home-');
  certs = makeTestCertificates();
  originalCAs = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...originalCAs, certs.caPem]);
  identity = await startManagedIdentity({ token: TOKEN, identityHeader: IDENTITY_HEADER });
  sandbox.isolateEnv({
    IDENTITY_ENDPOINT: identity.endpoint,
    IDENTITY_HEADER,
    AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
  });
  vault = await startAzureKeyVault(certs);
  vault.acceptTokens(TOKEN);
});

afterAll(async () => {
  await vault.close();
  await identity.close();
  tls.setDefaultCACertificates(originalCAs);
  certs.dispose();
  sandbox.close();
});

const azure = (over: Record<string, unknown> = {}) =>
  secretsConfig({ provider: 'azure', vault_url: VAULT, endpoint: vault.url, timeout_ms: 10_000, ...over });

describe('Azure Key Vault through the real SDK', () => {
  it('reads one JSON secret with the managed-identity token (default chain)', async () => {
    vault.put('datadog-keys', KEYS_JSON);
    await expect(boot(azure({ secret: 'datadog-keys' }))).resolves.toEqual({ apiKey: API, appKey: APP });
    const calls = vault.calls().filter((c) => c.name === 'datadog-keys');
    // The challenge round trip: first without a token, then with the one the identity endpoint served.
    expect(calls.map((c) => c.authorization)).toEqual([undefined, `Bearer ${TOKEN}`]);
    const tokenRequest = identity.requests[0];
    expect(tokenRequest?.headers['x-identity-header']).toBe(IDENTITY_HEADER);
    expect(tokenRequest?.url).toContain(`resource=${encodeURIComponent('https://vault.azure.net')}`);
  });

  it('reads one plaintext secret per key (dashed names), with DD_SITE', async () => {
    vault.put('DD-API-KEY', `${API}\n`);
    vault.put('DD-APP-KEY', APP);
    vault.put('DD-SITE', 'us3.datadoghq.com');
    const creds = await boot(azure({ keys: { DD_API_KEY: 'DD-API-KEY', DD_APP_KEY: 'DD-APP-KEY', DD_SITE: 'DD-SITE' } }));
    expect(creds).toEqual({ apiKey: API, appKey: APP, site: 'us3.datadoghq.com' });
  });

  it('asks for the configured version', async () => {
    const first = vault.put('versioned', JSON.stringify({ DD_API_KEY: 'v1-api', DD_APP_KEY: 'v1-app' }));
    vault.put('versioned', KEYS_JSON);
    await expect(boot(azure({ secret: 'versioned', version: first }))).resolves.toEqual({ apiKey: 'v1-api', appKey: 'v1-app' });
    await expect(boot(azure({ secret: 'versioned' }))).resolves.toEqual({ apiKey: API, appKey: APP });
    expect(vault.calls().filter((c) => c.name === 'versioned' && c.authorization).map((c) => c.version)).toEqual([first, '']);
  });

  it('describes the source without any secret', () => {
    const source = createSecretSource(azure({ secret: 'datadog-keys' }));
    expect(source.describe()).toBe(`Azure Key Vault secret datadog-keys (vault ${VAULT} via ${vault.url})`);
  });
});

describe('Azure failures: kind, exit code and a message naming provider, secret and vault', () => {
  const expectNamed = (message: string, ref: string) => {
    expect(message).toContain('Azure Key Vault');
    expect(message).toContain(ref);
    expect(message).toContain(`vault ${VAULT}`);
  };

  it('not found', async () => {
    const err = await bootFailure(azure({ secret: 'missing-secret' }));
    expect([err.kind, err.exitCode, err.provider]).toEqual(['not_found', 78, 'azure']);
    expectNamed(err.message, 'missing-secret');
    expect(err.message).toContain('not found in vault');
  });

  it('access denied, naming the RBAC reason', async () => {
    vault.fail('rbac-locked', 'denied');
    const err = await bootFailure(azure({ secret: 'rbac-locked' }));
    expect([err.kind, err.exitCode]).toEqual(['access_denied', 78]);
    expectNamed(err.message, 'rbac-locked');
    expect(err.message).toContain('ForbiddenByRbac');
  });

  it('misconfigured: the secret is disabled', async () => {
    vault.fail('switched-off', 'disabled');
    const err = await bootFailure(azure({ secret: 'switched-off' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('disabled');
  });

  it('misconfigured vault: the URL answers, but not as a Key Vault', async () => {
    vault.fail('elsewhere', 'not_a_vault');
    const err = await bootFailure(azure({ secret: 'elsewhere' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expectNamed(err.message, 'elsewhere');
    expect(err.message).toContain(`is ${VAULT} a Key Vault?`);
  });

  it('unauthenticated: the vault rejects the token', async () => {
    vault.fail('other-tenant', 'unauthenticated');
    const err = await bootFailure(azure({ secret: 'other-tenant' }));
    expect([err.kind, err.exitCode]).toEqual(['unauthenticated', 78]);
    expectNamed(err.message, 'other-tenant');
    expect(err.message).toContain('AKV10032');
  });

  it('unreachable: nothing listens on the endpoint', async () => {
    const port = await closedPort();
    const err = await bootFailure(azure({ secret: 'datadog-keys', endpoint: `https://127.0.0.1:${port}` }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('ECONNREFUSED');
    expectNamed(err.message, 'datadog-keys');
  });

  it('unreachable: the vault keeps failing with 5xx', async () => {
    vault.fail('vault-down', 'server_error');
    const err = await bootFailure(azure({ secret: 'vault-down' }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('HTTP 500');
  });

  it('timeout: a hung vault is abandoned at timeout_ms, not after the SDK retries', async () => {
    vault.fail('slow', 'hang');
    const started = performance.now();
    const err = await bootFailure(azure({ secret: 'slow', timeout_ms: 300 }));
    expect([err.kind, err.exitCode]).toEqual(['timeout', 69]);
    expect(err.message).toContain('no answer within 300 ms (secrets.timeout_ms)');
    expectNamed(err.message, 'slow');
    // The SDK's own attempt timeout is 5 s; coming back before it shows the deadline did it.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('misconfigured: a vault whose TLS certificate is not trusted, with the NODE_EXTRA_CA_CERTS hint', async () => {
    const stranger = makeTestCertificates();
    const untrusted = await startAzureKeyVault(stranger);
    try {
      const err = await bootFailure(azure({ secret: 'datadog-keys', endpoint: untrusted.url }));
      expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
      expect(err.message).toContain('NODE_EXTRA_CA_CERTS');
    } finally {
      await untrusted.close();
      stranger.dispose();
    }
  });

  it('an endpoint answering with a non-JSON page is reported without its body', async () => {
    vault.fail('proxy', 'non_json');
    const err = await bootFailure(azure({ secret: 'proxy' }));
    expect(err.exitCode).toBe(69);
    expectNoLeak(err, 'Welcome to the proxy');
  });

  it('a truncated response never quotes the secret inside it', async () => {
    const marker = 'LEAKMARKER-azure-truncated-31bd';
    vault.put('cut', `${marker}${'x'.repeat(20)}`);
    vault.fail('cut', 'truncated');
    const err = await bootFailure(azure({ secret: 'cut' }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('with a body that is not JSON');
    expectNoLeak(err, marker);
  });

  it('malformed JSON: the message gives the length, and the planted marker appears nowhere', async () => {
    const marker = 'LEAKMARKER-azure-malformed-e8a2';
    const text = `{"DD_API_KEY": "${marker}" "DD_APP_KEY": "${marker}"}`;
    vault.put('bad-json', text);
    const err = await bootFailure(azure({ secret: 'bad-json' }));
    expect([err.kind, err.exitCode]).toEqual(['malformed', 78]);
    expect(err.message).toContain(`is not valid JSON (length ${text.length})`);
    expectNamed(err.message, 'bad-json');
    expectNoLeak(err, marker);
  });

  it('missing key: lists the expected keys and the names present', async () => {
    vault.put('wrong-names', JSON.stringify({ 'DD-API-KEY': 'value-az-1', 'DD-APP-KEY': 'value-az-2' }));
    const err = await bootFailure(azure({ secret: 'wrong-names' }));
    expect([err.kind, err.exitCode]).toEqual(['missing_key', 78]);
    expect(err.message).toContain('has no DD_API_KEY or DD_APP_KEY');
    expect(err.message).toContain('present: DD-API-KEY, DD-APP-KEY');
    expect(err.message).not.toContain('value-az-');
  });

  it('empty: a secret with no value', async () => {
    vault.put('no-value', undefined);
    const err = await bootFailure(azure({ secret: 'no-value' }));
    expect([err.kind, err.exitCode]).toEqual(['empty', 78]);
    expectNamed(err.message, 'no-value');
  });

  it('bad DD_SITE in the JSON secret: lists the nine sites and never echoes the value', async () => {
    const marker = 'LEAKMARKER-azure-site-0b9c';
    vault.put('odd-site', JSON.stringify({ DD_API_KEY: API, DD_APP_KEY: APP, DD_SITE: marker }));
    const err = await bootFailure(azure({ secret: 'odd-site' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    for (const site of DATADOG_SITES) expect(err.message).toContain(site);
    expectNoLeak(err, marker);
  });
});

describe('Azure failures with one plaintext secret per key (`keys`): the message names the failing one', () => {
  const MARKER = 'LEAKMARKER-azure-keys-c51f';
  // missing_key belongs to the JSON layout only: with `keys`, a missing secret is not_found.
  it.each<{ kind: string; exitCode: number; setup: (app: string) => void; message: RegExp; timeoutMs?: number }>([
    { kind: 'not_found', exitCode: 78, setup: () => {}, message: /not found in vault/ },
    { kind: 'access_denied', exitCode: 78, setup: (app) => vault.fail(app, 'denied'), message: /ForbiddenByRbac/ },
    { kind: 'unauthenticated', exitCode: 78, setup: (app) => vault.fail(app, 'unauthenticated'), message: /AKV10032/ },
    { kind: 'misconfigured', exitCode: 78, setup: (app) => vault.fail(app, 'disabled'), message: /disabled/ },
    { kind: 'unreachable', exitCode: 69, setup: (app) => vault.fail(app, 'server_error'), message: /HTTP 500/ },
    { kind: 'timeout', exitCode: 69, setup: (app) => vault.fail(app, 'hang'), message: /no answer within 300 ms/, timeoutMs: 300 },
    { kind: 'malformed', exitCode: 78, setup: (app) => void vault.put(app, `{"DD_APP_KEY": "${MARKER}"}`), message: /looks like a JSON object/ },
    { kind: 'malformed', exitCode: 78, setup: (app) => void vault.put(app, `${MARKER}\n${MARKER}`), message: /contains whitespace or control characters/ },
    { kind: 'empty', exitCode: 78, setup: (app) => void vault.put(app, ''), message: /is empty; it should hold DD_APP_KEY as plain text/ },
  ])('$kind ($message)', async ({ kind, exitCode, setup, message, timeoutMs }) => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const [api, app] = [`keys-${suffix}-api`, `keys-${suffix}-app`];
    vault.put(api, API);
    setup(app);
    const err = await bootFailure(azure({ keys: { DD_API_KEY: api, DD_APP_KEY: app }, ...(timeoutMs ? { timeout_ms: timeoutMs } : {}) }));
    expect([err.kind, err.exitCode]).toEqual([kind, exitCode]);
    // The deadline bounds the whole layout, so a timeout names all of its secrets.
    const ref = kind === 'timeout' ? `DD_API_KEY=${api}, DD_APP_KEY=${app}` : `${app} (DD_APP_KEY)`;
    expect(err.message).toContain(`Azure Key Vault secret ${ref} (vault ${VAULT} via ${vault.url}): `);
    expect(err.message).toMatch(message);
    expectNoLeak(err, MARKER);
  });

  it('misconfigured: a per-key DD-SITE that is not a Datadog site, never echoed', async () => {
    vault.put('ks-api', API);
    vault.put('ks-app', APP);
    vault.put('ks-site', MARKER);
    const err = await bootFailure(azure({ keys: { DD_API_KEY: 'ks-api', DD_APP_KEY: 'ks-app', DD_SITE: 'ks-site' } }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('ks-site (DD_SITE)');
    for (const site of DATADOG_SITES) expect(err.message).toContain(site);
    expectNoLeak(err, MARKER);
  });
});
