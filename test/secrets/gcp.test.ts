import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATADOG_SITES } from '../../src/datadog/sites.ts';
import { createSecretSource } from '../../src/secrets/source.ts';
import { type GceMetadataFake, type GcpSecretManagerFake, startGceMetadata, startGcpSecretManager } from './fakes/gcp.ts';
import { closedPort } from './fakes/server.ts';
import { boot, bootFailure, secretsConfig } from './helpers/boot.ts';
import { openCloudSandbox, type CloudSandbox } from './helpers/sandbox.ts';
import { expectNoLeak } from './helpers/no-leak.ts';

/**
 * Every test here goes through Application Default Credentials: with no key file and an empty
 * HOME, ADC falls through to the metadata server, which GCE_METADATA_HOST points at the
 * loopback fake (the GKE Workload Identity / Cloud Run path).
 */

const API = 'test-api-key-gcp';
const APP = 'test-app-key-gcp';
const KEYS_JSON = JSON.stringify({ DD_API_KEY: API, DD_APP_KEY: APP });
const PROJECT = 'tinkr-test-proj';
const TOKEN = 'test-access-token-from-metadata';

let fake: GcpSecretManagerFake;
let metadata: GceMetadataFake;
let sandbox: CloudSandbox;

beforeAll(async () => {
  sandbox = openCloudSandbox('tinkr-gcp-home-');
  metadata = await startGceMetadata({ token: TOKEN, projectId: PROJECT });
  // Detection left at its default (unset), as in production; the fake answers the ping.
  sandbox.isolateEnv({ GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: undefined });
  fake = await startGcpSecretManager();
});

afterAll(async () => {
  await fake.close();
  await metadata.close();
  sandbox.close();
});

const gcp = (over: Record<string, unknown> = {}) =>
  secretsConfig({ provider: 'gcp', project: PROJECT, endpoint: fake.url, timeout_ms: 10_000, ...over });

describe('GCP Secret Manager through the real SDK (REST transport)', () => {
  it('reads one JSON secret with the token from the metadata server (default chain)', async () => {
    fake.put(PROJECT, 'datadog-keys', KEYS_JSON);
    await expect(boot(gcp({ secret: 'datadog-keys' }))).resolves.toEqual({ apiKey: API, appKey: APP });
    const call = fake.calls().find((c) => c.secret === 'datadog-keys');
    expect(call).toMatchObject({ project: PROJECT, version: 'latest' });
    expect(call?.request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call?.request.headers['x-goog-api-client']).toContain('-fallback');
    expect(metadata.requests.some((r) => r.url.startsWith('/computeMetadata/v1/instance/service-accounts/default/token'))).toBe(true);
  });

  it('reads one plaintext secret per key, with DD_SITE', async () => {
    fake.put(PROJECT, 'DD_API_KEY', `${API}\n`);
    fake.put(PROJECT, 'DD_APP_KEY', APP);
    fake.put(PROJECT, 'DD_SITE', 'ap1.datadoghq.com\n');
    const creds = await boot(gcp({ keys: { DD_API_KEY: 'DD_API_KEY', DD_APP_KEY: 'DD_APP_KEY', DD_SITE: 'DD_SITE' } }));
    expect(creds).toEqual({ apiKey: API, appKey: APP, site: 'ap1.datadoghq.com' });
  });

  it('asks for the configured version', async () => {
    fake.put(PROJECT, 'pinned', JSON.stringify({ DD_API_KEY: 'v1-api', DD_APP_KEY: 'v1-app' }));
    fake.put(PROJECT, 'pinned', KEYS_JSON);
    await expect(boot(gcp({ secret: 'pinned', version: '1' }))).resolves.toEqual({ apiKey: 'v1-api', appKey: 'v1-app' });
    await expect(boot(gcp({ secret: 'pinned' }))).resolves.toEqual({ apiKey: API, appKey: APP });
    expect(fake.calls().filter((c) => c.secret === 'pinned').map((c) => c.version)).toEqual(['1', 'latest']);
  });

  it('describes the source without any secret', () => {
    const source = createSecretSource(gcp({ secret: 'datadog-keys' }));
    expect(source.describe()).toBe(`GCP Secret Manager secret datadog-keys (version latest) (project ${PROJECT} via ${fake.url})`);
  });
});

describe('GCP failures: kind, exit code and a message naming provider, secret and project', () => {
  const expectNamed = (message: string, ref: string) => {
    expect(message).toContain('GCP Secret Manager');
    expect(message).toContain(ref);
    expect(message).toContain(`project ${PROJECT}`);
  };

  it('not found', async () => {
    fake.fail(PROJECT, 'gone', 'not_found');
    const err = await bootFailure(gcp({ secret: 'gone' }));
    expect([err.kind, err.exitCode, err.provider]).toEqual(['not_found', 78, 'gcp']);
    expectNamed(err.message, 'gone');
  });

  it('access denied is said to be "denied or does not exist", with the disabled-API hint', async () => {
    fake.fail(PROJECT, 'forbidden', 'denied');
    const err = await bootFailure(gcp({ secret: 'forbidden' }));
    expect([err.kind, err.exitCode]).toEqual(['access_denied', 78]);
    expectNamed(err.message, 'forbidden');
    expect(err.message).toContain('permission denied or the secret does not exist');
    expect(err.message).toContain(`the Secret Manager API may be disabled in project ${PROJECT}`);
  });

  it('a secret in a project the caller cannot see is the same "denied or does not exist"', async () => {
    const err = await bootFailure(gcp({ secret: 'never-created' }));
    expect(err.kind).toBe('access_denied');
    expect(err.message).toContain('permission denied or the secret does not exist');
  });

  it('misconfigured project: the Secret Manager API is disabled there', async () => {
    fake.disableApi('api-off-project');
    const err = await bootFailure(gcp({ secret: 'datadog-keys', project: 'api-off-project' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('project api-off-project');
    expect(err.message).toContain('SERVICE_DISABLED');
  });

  it('misconfigured: the version is disabled', async () => {
    fake.fail(PROJECT, 'off', 'disabled');
    const err = await bootFailure(gcp({ secret: 'off' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('disabled or destroyed');
  });

  it('unauthenticated: the service rejects the token', async () => {
    fake.fail(PROJECT, 'stale-token', 'unauthenticated');
    const err = await bootFailure(gcp({ secret: 'stale-token' }));
    expect([err.kind, err.exitCode]).toEqual(['unauthenticated', 78]);
    expectNamed(err.message, 'stale-token');
  });

  it('unreachable: nothing listens on the endpoint', async () => {
    const port = await closedPort();
    const err = await bootFailure(gcp({ secret: 'datadog-keys', endpoint: `http://127.0.0.1:${port}` }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain(`project ${PROJECT}`);
  });

  it('unreachable: the service fails with 5xx', async () => {
    fake.fail(PROJECT, 'broken-service', 'server_error');
    const err = await bootFailure(gcp({ secret: 'broken-service' }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('HTTP 500');
  });

  it('timeout: a hung endpoint is abandoned at timeout_ms, not after the SDK retries', async () => {
    fake.fail(PROJECT, 'slow', 'hang');
    const started = performance.now();
    const err = await bootFailure(gcp({ secret: 'slow', timeout_ms: 300 }));
    expect([err.kind, err.exitCode]).toEqual(['timeout', 69]);
    expect(err.message).toContain('no answer within 300 ms (secrets.timeout_ms)');
    expectNamed(err.message, 'slow');
    // The SDK's own attempt timeout is 5 s; coming back before it shows the deadline did it.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('an endpoint answering with a non-JSON page is reported without its body', async () => {
    fake.fail(PROJECT, 'proxy', 'non_json');
    const err = await bootFailure(gcp({ secret: 'proxy' }));
    expect(err.exitCode).toBe(69);
    expectNoLeak(err, 'Welcome to the proxy');
  });

  it('a truncated response never quotes the secret inside it', async () => {
    const marker = 'LEAKMARKER-gcp-truncated-5e2d';
    fake.put(PROJECT, 'cut', JSON.stringify({ DD_API_KEY: marker, DD_APP_KEY: marker }));
    fake.fail(PROJECT, 'cut', 'truncated');
    const err = await bootFailure(gcp({ secret: 'cut' }));
    expect(err.exitCode).toBe(69);
    expectNoLeak(err, marker);
  });

  it('malformed JSON: the message gives the length, and the planted marker appears nowhere', async () => {
    const marker = 'LEAKMARKER-gcp-malformed-c04f';
    const text = `{"DD_API_KEY": "${marker}", "DD_APP_KEY": ${marker}`;
    fake.put(PROJECT, 'broken-json', text);
    const err = await bootFailure(gcp({ secret: 'broken-json' }));
    expect([err.kind, err.exitCode]).toEqual(['malformed', 78]);
    expect(err.message).toContain(`is not valid JSON (length ${text.length})`);
    expectNamed(err.message, 'broken-json');
    expectNoLeak(err, marker);
  });

  it('missing key: lists the expected keys and the names present', async () => {
    fake.put(PROJECT, 'half', JSON.stringify({ DD_APP_KEY: 'value-gcp-half' }));
    const err = await bootFailure(gcp({ secret: 'half' }));
    expect([err.kind, err.exitCode]).toEqual(['missing_key', 78]);
    expect(err.message).toContain('has no DD_API_KEY');
    expect(err.message).toContain('present: DD_APP_KEY');
    expect(err.message).not.toContain('value-gcp-half');
  });

  it('empty: a version with an empty payload', async () => {
    fake.put(PROJECT, 'hollow', '');
    const err = await bootFailure(gcp({ secret: 'hollow' }));
    expect([err.kind, err.exitCode]).toEqual(['empty', 78]);
    expectNamed(err.message, 'hollow');
  });

  it('bad DD_SITE in a per-key secret: lists the nine sites and never echoes the value', async () => {
    const marker = 'LEAKMARKER-gcp-site-aa17';
    fake.put(PROJECT, 'site-api', API);
    fake.put(PROJECT, 'site-app', APP);
    fake.put(PROJECT, 'site-bad', marker);
    const err = await bootFailure(gcp({ keys: { DD_API_KEY: 'site-api', DD_APP_KEY: 'site-app', DD_SITE: 'site-bad' } }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('site-bad (DD_SITE)');
    for (const site of DATADOG_SITES) expect(err.message).toContain(site);
    expectNoLeak(err, marker);
  });
});

describe('GCP default chain: the metadata server cannot give a token', () => {
  it('is unauthenticated, naming the credential chain', async () => {
    fake.put(PROJECT, 'needs-token', KEYS_JSON);
    metadata.setFailing(true);
    try {
      const err = await bootFailure(gcp({ secret: 'needs-token' }));
      expect([err.kind, err.exitCode]).toEqual(['unauthenticated', 78]);
      expect(err.message).toContain('could not get an access token');
      expect(err.message).toContain('needs-token');
    } finally {
      metadata.setFailing(false);
    }
  });
});

describe('GCP failures with one plaintext secret per key (`keys`): the message names the failing one', () => {
  const MARKER = 'LEAKMARKER-gcp-keys-8e4a';
  // missing_key belongs to the JSON layout only: with `keys`, a missing secret is reported as GCP
  // reports it, "denied or does not exist".
  it.each<{ kind: string; exitCode: number; setup: (app: string) => void; message: RegExp; timeoutMs?: number }>([
    { kind: 'not_found', exitCode: 78, setup: (app) => fake.fail(PROJECT, app, 'not_found'), message: /not found/ },
    {
      kind: 'access_denied',
      exitCode: 78,
      setup: () => {},
      message: /permission denied or the secret does not exist.*the Secret Manager API may be disabled in project tinkr-test-proj/,
    },
    { kind: 'unauthenticated', exitCode: 78, setup: (app) => fake.fail(PROJECT, app, 'unauthenticated'), message: /the service rejected the credentials/ },
    { kind: 'misconfigured', exitCode: 78, setup: (app) => fake.fail(PROJECT, app, 'disabled'), message: /disabled or destroyed/ },
    { kind: 'unreachable', exitCode: 69, setup: (app) => fake.fail(PROJECT, app, 'server_error'), message: /HTTP 500/ },
    { kind: 'timeout', exitCode: 69, setup: (app) => fake.fail(PROJECT, app, 'hang'), message: /no answer within 300 ms/, timeoutMs: 300 },
    { kind: 'malformed', exitCode: 78, setup: (app) => fake.put(PROJECT, app, `{"DD_APP_KEY": "${MARKER}"}`), message: /looks like a JSON object/ },
    { kind: 'malformed', exitCode: 78, setup: (app) => fake.put(PROJECT, app, `${MARKER}\t${MARKER}`), message: /contains whitespace or control characters/ },
    { kind: 'empty', exitCode: 78, setup: (app) => fake.put(PROJECT, app, ' \n'), message: /is empty; it should hold DD_APP_KEY as plain text/ },
  ])('$kind ($message)', async ({ kind, exitCode, setup, message, timeoutMs }) => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const [api, app] = [`keys-${suffix}-api`, `keys-${suffix}-app`];
    fake.put(PROJECT, api, API);
    setup(app);
    const err = await bootFailure(gcp({ keys: { DD_API_KEY: api, DD_APP_KEY: app }, ...(timeoutMs ? { timeout_ms: timeoutMs } : {}) }));
    expect([err.kind, err.exitCode]).toEqual([kind, exitCode]);
    // The deadline bounds the whole layout, so a timeout names all of its secrets.
    const ref = kind === 'timeout' ? `DD_API_KEY=${api}, DD_APP_KEY=${app}` : `${app} (DD_APP_KEY)`;
    expect(err.message).toContain(`GCP Secret Manager secret ${ref} (version latest) (project ${PROJECT} via ${fake.url}): `);
    expect(err.message).toMatch(message);
    expectNoLeak(err, MARKER);
  });
});
