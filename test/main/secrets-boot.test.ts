import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeys } from '@tinkr/datadog-simulator';
import { secretsProfileToml } from '../helpers/profile-file.ts';
import { type CliResult, runCli, type Scratch, scratchDirs, startCli, VIOLATIONS_MARKER } from '../helpers/cli.ts';
import { untilReady } from '../helpers/ready.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager } from '../secrets/fakes/aws.ts';
import { type AzureKeyVaultFake, type ManagedIdentityFake, startAzureKeyVault, startManagedIdentity } from '../secrets/fakes/azure.ts';
import { type GceMetadataFake, type GcpSecretManagerFake, startGceMetadata, startGcpSecretManager } from '../secrets/fakes/gcp.ts';
import { closedPort } from '../secrets/fakes/server.ts';
import { makeTestCertificates, type TestCertificates } from '../secrets/fakes/tls.ts';
import { offlineDefaults } from '../secrets/helpers/env.ts';

/**
 * `node src/main.ts` booting from each cloud's secret manager as it would in production: the
 * profile names the provider, the SDK's default credential chain finds its identity on a
 * loopback endpoint (static AWS keys, the GCE metadata server, Azure managed identity), the
 * process listens and serves with the keys from the secret — or exits before listening with
 * 78 or 69 and a message naming provider, secret and region/project/vault, never a value.
 */

const TOKEN = 'secrets-boot-bearer-token';
const SIM_KEYS: ApiKeys = { apiKey: 'secrets-boot-api-key-4d2a', appKey: 'secrets-boot-app-key-9e1f' };
const KEYS_JSON = JSON.stringify({ DD_API_KEY: SIM_KEYS.apiKey, DD_APP_KEY: SIM_KEYS.appKey });
/** Planted in a broken per-key secret: no output may contain it. */
const MARKER = 'LEAKMARKER-main-boot-6b3c';
const PROJECT = 'tinkr-boot-proj';
const VAULT = 'https://tinkr-boot.vault.azure.net';
const GCP_TOKEN = 'test-gcp-token-for-main-boot';
const AZURE_TOKEN = 'test-azure-token-for-main-boot';
const IDENTITY_HEADER = 'test-identity-header-main-boot';

let sim: TestSimulator;
let aws: AwsSecretsManagerFake;
let gcp: GcpSecretManagerFake;
let metadata: GceMetadataFake;
let certs: TestCertificates;
let vault: AzureKeyVaultFake;
let identity: ManagedIdentityFake;
const scratches: Scratch[] = [];

beforeAll(async () => {
  sim = await startTestSimulator({ keys: SIM_KEYS });
  aws = await startAwsSecretsManager({ region: 'eu-west-1' });
  gcp = await startGcpSecretManager();
  metadata = await startGceMetadata({ token: GCP_TOKEN, projectId: PROJECT });
  certs = makeTestCertificates();
  vault = await startAzureKeyVault(certs);
  vault.acceptTokens(AZURE_TOKEN);
  identity = await startManagedIdentity({ token: AZURE_TOKEN, identityHeader: IDENTITY_HEADER });
});

afterAll(async () => {
  sim.assertNoViolations();
  for (const server of [sim, aws, gcp, metadata, vault, identity]) await server.close();
  certs.dispose();
  for (const s of scratches) s.cleanup();
});

interface Provider {
  name: 'aws' | 'gcp' | 'azure';
  label: string;
  /** What messages add after the secret reference: GCP names the version it reads (latest). */
  version: string;
  location: () => string;
  /** `[profiles.prod.secrets]` lines besides the layout. */
  settings: (endpoint?: string) => string;
  /** The environment a deployment on that cloud would give the process, pointed at loopback. */
  env: (home: string) => Record<string, string | undefined>;
  put(id: string, value: string): void;
  /** A secret id valid for the provider, made from `base`. */
  id(base: string): string;
  /** Where the secret request must show the identity the default chain found. */
  expectIdentityUsed(id: string): void;
  unreachable: () => Promise<string>;
}

const PROVIDERS: Provider[] = [
  {
    name: 'aws',
    label: 'AWS Secrets Manager',
    version: '',
    location: () => `region eu-west-1 via ${aws.url}`,
    settings: (endpoint = aws.url) => `provider = "aws"\nregion = "eu-west-1"\nendpoint = "${endpoint}"`,
    env: (home) => ({ ...offlineDefaults(home), AWS_ACCESS_KEY_ID: 'AKIDMAINBOOT', AWS_SECRET_ACCESS_KEY: 'test-main-boot-secret-key' }),
    put: (id, value) => aws.put(id, value),
    id: (base) => `boot/${base}`,
    expectIdentityUsed: (id) => expect(aws.calls().find((c) => c.secretId === id)?.request.headers.authorization).toContain('Credential=AKIDMAINBOOT/'),
    unreachable: async () => `http://127.0.0.1:${await closedPort()}`,
  },
  {
    name: 'gcp',
    label: 'GCP Secret Manager',
    version: ' (version latest)',
    location: () => `project ${PROJECT} via ${gcp.url}`,
    settings: (endpoint = gcp.url) => `provider = "gcp"\nproject = "${PROJECT}"\nendpoint = "${endpoint}"`,
    // Metadata-server detection as in production (unset); the fake answers its ping.
    env: (home) => ({ ...offlineDefaults(home), GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: undefined }),
    put: (id, value) => void gcp.put(PROJECT, id, value),
    id: (base) => `boot-${base.replaceAll('/', '-')}`,
    expectIdentityUsed: (id) => expect(gcp.calls().find((c) => c.secret === id)?.request.headers.authorization).toBe(`Bearer ${GCP_TOKEN}`),
    unreachable: async () => `http://127.0.0.1:${await closedPort()}`,
  },
  {
    name: 'azure',
    label: 'Azure Key Vault',
    version: '',
    location: () => `vault ${VAULT} via ${vault.url}`,
    settings: (endpoint = vault.url) => `provider = "azure"\nvault_url = "${VAULT}"\nendpoint = "${endpoint}"`,
    env: (home) => ({
      ...offlineDefaults(home),
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER,
      AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
      // How a deployment trusts a private CA (the fake's); read by Node at start.
      NODE_EXTRA_CA_CERTS: certs.caPath,
    }),
    put: (id, value) => void vault.put(id, value),
    id: (base) => `boot-${base.replaceAll('/', '-')}`,
    expectIdentityUsed: (id) => expect(vault.calls().filter((c) => c.name === id).map((c) => c.authorization)).toContain(`Bearer ${AZURE_TOKEN}`),
    unreachable: async () => `https://127.0.0.1:${await closedPort()}`,
  },
];

function profile(p: Provider, layout: string, endpoint?: string): { scratch: Scratch; env: Record<string, string | undefined> } {
  const scratch = scratchDirs(`tinkr-secrets-boot-${p.name}-`);
  scratches.push(scratch);
  scratch.write(
    'home/.tinkr/config.toml',
    secretsProfileToml({ apiUrl: sim.url, caller: { token: TOKEN, subject: 'boot' }, secrets: [p.settings(endpoint), layout, 'timeout_ms = 10000'] }),
  );
  return { scratch, env: { ...p.env(scratch.home), HOST: '127.0.0.1', PORT: '0' } };
}

function expectBootFailure(result: CliResult, p: Provider, code: number, ref: string): void {
  expect(result.code).toBe(code);
  expect(result.stderr).toContain(`tinkr-server: ${p.label} secret ${ref}${p.version} (${p.location()}): `);
  expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
  // Nothing was served: the process never got as far as listening.
  expect(result.stdout).not.toContain('"msg":"listening"');
  for (const text of [result.stdout, result.stderr]) {
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain(SIM_KEYS.apiKey);
  }
}

describe.concurrent.each(PROVIDERS)('$label: node src/main.ts with [secrets] provider = "$name"', (p) => {
  it('boots with the keys from one JSON secret, found through the default credential chain, and serves', async () => {
    const id = p.id('json');
    p.put(id, KEYS_JSON);
    const { scratch, env } = profile(p, `secret = "${id}"`);
    const cli = await startCli([], { scratch, env });
    let result: CliResult;
    try {
      expect(cli.listening).toMatchObject({ profile: 'prod', source: `${p.label} secret ${id}${p.version} (${p.location()})` });
      const res = await fetch(`${cli.url}/logs?since=15m&limit=2`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      p.expectIdentityUsed(id);
      // Ready once Datadog (the simulator) accepted the keys from the secret.
      const ready = await untilReady(cli.url);
      expect(ready.keys).toMatchObject({ status: 'ok' });
      expect(ready.secrets).toMatchObject({ source: `${p.label} secret ${id}${p.version} (${p.location()})`, refreshes: 0 });
    } finally {
      result = await cli.stop();
    }
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
    expect(result.stdout + result.stderr).not.toContain(SIM_KEYS.apiKey);
  });

  it('exits 78 when a per-key secret holds JSON, naming the keys layout and never the value', async () => {
    const [api, app] = [p.id('keys/api'), p.id('keys/app')];
    p.put(api, SIM_KEYS.apiKey);
    p.put(app, JSON.stringify({ DD_APP_KEY: MARKER }));
    const { scratch, env } = profile(p, `keys = { DD_API_KEY = "${api}", DD_APP_KEY = "${app}" }`);
    const result = await runCli([], { scratch, env });
    // The message names the one secret of the layout that is wrong.
    expectBootFailure(result, p, 78, `${app} (DD_APP_KEY)`);
    expect(result.stderr).toContain('looks like a JSON object');
  });

  it('exits 78 when the secret does not exist', async () => {
    const id = p.id('never-created');
    const { scratch, env } = profile(p, `secret = "${id}"`);
    const result = await runCli([], { scratch, env });
    expectBootFailure(result, p, 78, id);
    // GCP cannot tell a missing secret from a forbidden one, and says so.
    if (p.name === 'gcp') expect(result.stderr).toContain('permission denied or the secret does not exist');
    else expect(result.stderr).toContain('not found');
  });

  it('exits 69 when the secret manager is unreachable', async () => {
    const id = p.id('json');
    const { scratch, env } = profile(p, `secret = "${id}"`, await p.unreachable());
    const result = await runCli([], { scratch, env });
    expect(result.code).toBe(69);
    expect(result.stderr).toContain(`tinkr-server: ${p.label} secret ${id}`);
    expect(result.stderr).toContain('ECONNREFUSED');
    expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
  });
});
