import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DATADOG_SITES } from '../../src/datadog/sites.ts';
import { createSecretSource } from '../../src/secrets/source.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager, startContainerCredentials } from './fakes/aws.ts';
import { closedPort, startLoopbackServer } from './fakes/server.ts';
import { boot, bootFailure, secretsConfig } from './helpers/boot.ts';
import { setEnv } from './helpers/env.ts';
import { expectNoLeak } from './helpers/no-leak.ts';
import { openCloudSandbox, type CloudSandbox } from './helpers/sandbox.ts';

// Test keys are obviously fake; none has the shape of a real Datadog key.
const API = 'test-api-key-aws';
const APP = 'test-app-key-aws';
const KEYS_JSON = JSON.stringify({ DD_API_KEY: API, DD_APP_KEY: APP });

let fake: AwsSecretsManagerFake;
let sandbox: CloudSandbox;

beforeAll(async () => {
  sandbox = openCloudSandbox('tinkr-aws-home-');
  // Static keys through the chain's environment step; the default-chain test below swaps them for the ECS endpoint.
  sandbox.isolateEnv({ AWS_ACCESS_KEY_ID: 'AKIDTESTENV', AWS_SECRET_ACCESS_KEY: 'test-secret-access-key' });
  fake = await startAwsSecretsManager({ region: 'eu-west-1' });
});

afterAll(async () => {
  await fake.close();
  // Nothing in this file may have reached past loopback (IMDS, a real AWS endpoint).
  sandbox.close();
});

beforeEach(() => {
  fake.requests.length = 0;
});

const aws = (over: Record<string, unknown> = {}) =>
  secretsConfig({ provider: 'aws', region: 'eu-west-1', endpoint: fake.url, timeout_ms: 10_000, ...over });

describe('AWS Secrets Manager through the real SDK', () => {
  it('reads one JSON secret', async () => {
    fake.put('prod/tinkr/datadog', KEYS_JSON);
    await expect(boot(aws({ secret: 'prod/tinkr/datadog' }))).resolves.toEqual({ apiKey: API, appKey: APP });
    const [call] = fake.calls();
    expect(call).toMatchObject({ secretId: 'prod/tinkr/datadog', region: 'eu-west-1' });
    expect(call?.versionStage).toBeUndefined();
    expect(call?.request.headers['content-type']).toBe('application/x-amz-json-1.1');
  });

  it('takes DD_SITE from the JSON secret', async () => {
    fake.put('with-site', JSON.stringify({ DD_API_KEY: API, DD_APP_KEY: APP, DD_SITE: 'datadoghq.eu' }));
    await expect(boot(aws({ secret: 'with-site' }))).resolves.toEqual({ apiKey: API, appKey: APP, site: 'datadoghq.eu' });
  });

  it('reads one plaintext secret per key and trims their whitespace', async () => {
    fake.put('dd/api', `${API}\n`);
    fake.put('dd/app', `  ${APP}\r\n`);
    fake.put('dd/site', 'us5.datadoghq.com\n');
    const creds = await boot(aws({ keys: { DD_API_KEY: 'dd/api', DD_APP_KEY: 'dd/app', DD_SITE: 'dd/site' } }));
    expect(creds).toEqual({ apiKey: API, appKey: APP, site: 'us5.datadoghq.com' });
    expect(fake.calls().map((c) => c.secretId).filter((id) => id.startsWith('dd/')).sort()).toEqual(['dd/api', 'dd/app', 'dd/site']);
  });

  it('signs for the region inside an ARN when no region is configured', async () => {
    fake.put('arn-secret', KEYS_JSON);
    const arn = fake.arnOf('arn-secret');
    await expect(boot(aws({ region: undefined, secret: arn }))).resolves.toEqual({ apiKey: API, appKey: APP });
    expect(fake.calls().find((c) => c.secretId === arn)).toMatchObject({ region: 'eu-west-1' });
  });

  it('sends a staging label as VersionStage and a UUID as VersionId', async () => {
    fake.put('versioned', JSON.stringify({ DD_API_KEY: 'old-api', DD_APP_KEY: 'old-app' }), { versionId: '11111111-2222-4333-8444-555555555555' });
    fake.put('versioned', KEYS_JSON, { stages: ['AWSCURRENT'] });
    // The first version lost AWSCURRENT; give it AWSPREVIOUS as rotation does.
    fake.put('versioned', JSON.stringify({ DD_API_KEY: 'old-api', DD_APP_KEY: 'old-app' }), { stages: ['AWSPREVIOUS'] });
    await expect(boot(aws({ secret: 'versioned', version: 'AWSPREVIOUS' }))).resolves.toEqual({ apiKey: 'old-api', appKey: 'old-app' });
    await expect(boot(aws({ secret: 'versioned', version: '11111111-2222-4333-8444-555555555555' }))).resolves.toEqual({
      apiKey: 'old-api',
      appKey: 'old-app',
    });
    expect(fake.calls().filter((c) => c.secretId === 'versioned').map((c) => [c.versionStage, c.versionId])).toEqual([
      ['AWSPREVIOUS', undefined],
      [undefined, '11111111-2222-4333-8444-555555555555'],
    ]);
  });

  it('accepts a binary secret holding UTF-8 JSON', async () => {
    fake.put('binary', KEYS_JSON, { binary: true });
    await expect(boot(aws({ secret: 'binary' }))).resolves.toEqual({ apiKey: API, appKey: APP });
  });

  it('describes the source without any secret', () => {
    const source = createSecretSource(aws({ keys: { DD_API_KEY: 'dd/api', DD_APP_KEY: 'dd/app' }, version: 'AWSCURRENT' }));
    expect(source.describe()).toBe(
      `AWS Secrets Manager secret DD_API_KEY=dd/api, DD_APP_KEY=dd/app (version AWSCURRENT) (region eu-west-1 via ${fake.url})`,
    );
  });
});

describe('AWS failures: kind, exit code and a message naming provider, secret and region', () => {
  const expectNamed = (message: string, ref: string) => {
    expect(message).toContain('AWS Secrets Manager');
    expect(message).toContain(ref);
    expect(message).toContain('region eu-west-1');
  };

  it('not found', async () => {
    const err = await bootFailure(aws({ secret: 'no/such/secret' }));
    expect([err.kind, err.exitCode, err.provider]).toEqual(['not_found', 78, 'aws']);
    expectNamed(err.message, 'no/such/secret');
    expect(err.message).toMatch(/not found in region eu-west-1/);
  });

  it('access denied, quoting the service', async () => {
    fake.fail('locked', 'denied');
    const err = await bootFailure(aws({ secret: 'locked' }));
    expect([err.kind, err.exitCode]).toEqual(['access_denied', 78]);
    expectNamed(err.message, 'locked');
    expect(err.message).toContain('secretsmanager:GetSecretValue');
    expect(err.message).toContain('is not authorized to perform');
  });

  it('unauthenticated: the service rejects the credentials', async () => {
    fake.fail('bad-token', 'unauthenticated');
    const err = await bootFailure(aws({ secret: 'bad-token' }));
    expect([err.kind, err.exitCode]).toEqual(['unauthenticated', 78]);
    expectNamed(err.message, 'bad-token');
    expect(err.message).toContain('UnrecognizedClientException');
  });

  it('misconfigured region: the endpoint serves another region', async () => {
    fake.put('regional', KEYS_JSON);
    const err = await bootFailure(aws({ secret: 'regional', region: 'us-east-1' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('region us-east-1');
    expect(err.message).toContain('region and endpoint disagree');
  });

  it('misconfigured: a secret marked for deletion', async () => {
    fake.fail('deleted', 'disabled');
    const err = await bootFailure(aws({ secret: 'deleted' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('InvalidRequestException');
  });

  it('unreachable: nothing listens on the endpoint', async () => {
    const port = await closedPort();
    const err = await bootFailure(aws({ secret: 'any', endpoint: `http://127.0.0.1:${port}` }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('any');
    expect(err.message).toContain('region eu-west-1');
  });

  it('unreachable: the service keeps failing with 5xx', async () => {
    fake.fail('flaky', 'server_error');
    const err = await bootFailure(aws({ secret: 'flaky' }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('HTTP 500');
    // The SDK retried, as configured, before giving up.
    expect(fake.calls().filter((c) => c.secretId === 'flaky').length).toBe(3);
  });

  it('timeout: a hung endpoint is abandoned at timeout_ms, not at the SDK timeouts', async () => {
    fake.fail('slow', 'hang');
    const started = performance.now();
    const err = await bootFailure(aws({ secret: 'slow', timeout_ms: 300 }));
    expect([err.kind, err.exitCode]).toEqual(['timeout', 69]);
    expect(err.message).toContain('no answer within 300 ms (secrets.timeout_ms)');
    expectNamed(err.message, 'slow');
    // The SDK's own per-attempt timeout is 5 s; coming back before it shows the deadline did it.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('an endpoint answering with a non-JSON page is reported without its body', async () => {
    fake.fail('proxy', 'non_json');
    const err = await bootFailure(aws({ secret: 'proxy' }));
    expect([err.kind, err.exitCode]).toEqual(['unreachable', 69]);
    expect(err.message).toContain('HTTP 200');
    expectNoLeak(err, 'Welcome to the proxy');
  });

  it('a truncated response never quotes the secret inside it', async () => {
    const marker = 'LEAKMARKER-truncated-7f3a';
    fake.put('cut', JSON.stringify({ DD_API_KEY: marker, DD_APP_KEY: `${marker}-app` }));
    fake.fail('cut', 'truncated');
    const err = await bootFailure(aws({ secret: 'cut' }));
    expect(err.kind).toBe('unreachable');
    expectNoLeak(err, marker);
  });

  it('malformed JSON: the message gives the length, and the planted marker appears nowhere', async () => {
    const marker = 'LEAKMARKER-malformed-9c1e';
    const text = `{"DD_API_KEY": "${marker}", "DD_APP_KEY": ${marker}}`;
    fake.put('broken', text);
    const err = await bootFailure(aws({ secret: 'broken' }));
    expect([err.kind, err.exitCode]).toEqual(['malformed', 78]);
    expect(err.message).toContain(`is not valid JSON (length ${text.length})`);
    expectNamed(err.message, 'broken');
    expectNoLeak(err, marker);
  });

  it('missing key: lists the expected keys and the names present, not their values', async () => {
    fake.put('partial', JSON.stringify({ DD_API_KEY: 'value-one-7d2', dd_app_key: 'value-two-7d2' }));
    const err = await bootFailure(aws({ secret: 'partial' }));
    expect([err.kind, err.exitCode]).toEqual(['missing_key', 78]);
    expect(err.message).toContain('has no DD_APP_KEY');
    expect(err.message).toContain('present: DD_API_KEY, dd_app_key');
    expect(err.message).not.toContain('value-one-7d2');
    expect(err.message).not.toContain('value-two-7d2');
  });

  it('empty: an empty string, a secret with no value, or an empty key', async () => {
    fake.put('blank', '  \n');
    fake.put('valueless', undefined);
    fake.put('empty-key', JSON.stringify({ DD_API_KEY: '', DD_APP_KEY: APP }));
    for (const id of ['blank', 'valueless', 'empty-key']) {
      const err = await bootFailure(aws({ secret: id }));
      expect([err.kind, err.exitCode]).toEqual(['empty', 78]);
      expectNamed(err.message, id);
    }
  });

  it('empty: one per-key secret is empty, and the error names that one', async () => {
    fake.put('k/api', API);
    fake.put('k/app', '\n');
    const err = await bootFailure(aws({ keys: { DD_API_KEY: 'k/api', DD_APP_KEY: 'k/app' } }));
    expect(err.kind).toBe('empty');
    expect(err.message).toContain('k/app (DD_APP_KEY)');
  });

  it('bad DD_SITE in the secret: lists the nine sites and never echoes the value', async () => {
    const marker = 'LEAKMARKER-site-41b0';
    fake.put('bad-site', JSON.stringify({ DD_API_KEY: API, DD_APP_KEY: APP, DD_SITE: marker }));
    const err = await bootFailure(aws({ secret: 'bad-site' }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    for (const site of DATADOG_SITES) expect(err.message).toContain(site);
    expectNoLeak(err, marker);
  });

  it('a per-key failure names the key that failed', async () => {
    fake.put('p/api', API);
    fake.fail('p/app', 'denied');
    const err = await bootFailure(aws({ keys: { DD_API_KEY: 'p/api', DD_APP_KEY: 'p/app' } }));
    expect(err.kind).toBe('access_denied');
    expect(err.message).toContain('p/app (DD_APP_KEY)');
  });
});

describe('AWS default credential chain on loopback', () => {
  it('uses the ECS task-role endpoint and its session token reaches the Secrets Manager request', async () => {
    const credentials = await startContainerCredentials({
      authorizationToken: 'test-container-auth-token',
      accessKeyId: 'AKIDFROMCONTAINER',
      secretAccessKey: 'test-container-secret',
      sessionToken: 'test-session-token-from-container',
    });
    const restore = setEnv({
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: credentials.fullUri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'test-container-auth-token',
    });
    try {
      fake.put('chain', KEYS_JSON);
      await expect(boot(aws({ secret: 'chain' }))).resolves.toEqual({ apiKey: API, appKey: APP });
      expect(credentials.requests.map((r) => r.headers.authorization)).toContain('test-container-auth-token');
      // Found by id: an aborted sibling request of an earlier test may still arrive late.
      const call = fake.calls().find((c) => c.secretId === 'chain');
      expect(call?.request.headers['x-amz-security-token']).toBe('test-session-token-from-container');
      expect(call?.request.headers.authorization).toContain('Credential=AKIDFROMCONTAINER/');
    } finally {
      restore();
      await credentials.close();
    }
  });

  it('unauthenticated: the chain finds no credentials at all', async () => {
    const restore = setEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    try {
      fake.put('nobody', KEYS_JSON);
      const err = await bootFailure(aws({ secret: 'nobody' }));
      expect([err.kind, err.exitCode]).toEqual(['unauthenticated', 78]);
      expect(err.message).toContain('no AWS credentials');
      expect(fake.calls().filter((c) => c.secretId === 'nobody')).toEqual([]);
    } finally {
      restore();
    }
  });

  it('unauthenticated: the ECS credentials endpoint refuses', async () => {
    const refusing = await startLoopbackServer((_req, res) => {
      res.writeHead(500);
      res.end('{"message":"no role"}');
    });
    const restore = setEnv({
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${refusing.url}/v2/credentials/task`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'test-container-auth-token',
    });
    try {
      const err = await bootFailure(aws({ secret: 'nobody' }));
      expect(err.kind).toBe('unauthenticated');
      expect(refusing.requests.length).toBeGreaterThan(0);
    } finally {
      restore();
      await refusing.close();
    }
  });
});

describe('AWS failures with one plaintext secret per key (`keys`): the message names the failing one', () => {
  const MARKER = 'LEAKMARKER-aws-keys-2f7d';
  // missing_key belongs to the JSON layout only: with `keys`, a missing secret is not_found.
  it.each<{ kind: string; exitCode: number; setup: (app: string) => void; message: RegExp; timeoutMs?: number }>([
    { kind: 'not_found', exitCode: 78, setup: () => {}, message: /not found in region eu-west-1/ },
    { kind: 'access_denied', exitCode: 78, setup: (app) => fake.fail(app, 'denied'), message: /secretsmanager:GetSecretValue/ },
    { kind: 'unauthenticated', exitCode: 78, setup: (app) => fake.fail(app, 'unauthenticated'), message: /UnrecognizedClientException/ },
    { kind: 'misconfigured', exitCode: 78, setup: (app) => fake.fail(app, 'disabled'), message: /InvalidRequestException/ },
    { kind: 'unreachable', exitCode: 69, setup: (app) => fake.fail(app, 'server_error'), message: /HTTP 500/ },
    // The deadline bounds the whole layout, so a timeout names all of its secrets.
    { kind: 'timeout', exitCode: 69, setup: (app) => fake.fail(app, 'hang'), message: /no answer within 300 ms/, timeoutMs: 300 },
    { kind: 'malformed', exitCode: 78, setup: (app) => fake.put(app, `{"DD_APP_KEY": "${MARKER}"}`), message: /looks like a JSON object/ },
    { kind: 'malformed', exitCode: 78, setup: (app) => fake.put(app, `${MARKER} ${MARKER}`), message: /contains whitespace or control characters/ },
    { kind: 'empty', exitCode: 78, setup: (app) => fake.put(app, undefined), message: /is empty; it should hold DD_APP_KEY as plain text/ },
  ])('$kind ($message)', async ({ kind, exitCode, setup, message, timeoutMs }) => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const [api, app] = [`keys/${suffix}/api`, `keys/${suffix}/app`];
    fake.put(api, API);
    setup(app);
    const err = await bootFailure(aws({ keys: { DD_API_KEY: api, DD_APP_KEY: app }, ...(timeoutMs ? { timeout_ms: timeoutMs } : {}) }));
    expect([err.kind, err.exitCode]).toEqual([kind, exitCode]);
    const ref = kind === 'timeout' ? `DD_API_KEY=${api}, DD_APP_KEY=${app}` : `${app} (DD_APP_KEY)`;
    expect(err.message).toContain(`AWS Secrets Manager secret ${ref} (region eu-west-1 via ${fake.url}): `);
    expect(err.message).toMatch(message);
    expectNoLeak(err, MARKER);
  });

  it('misconfigured: a per-key DD_SITE that is not a Datadog site, never echoed', async () => {
    fake.put('ks/api', API);
    fake.put('ks/app', APP);
    fake.put('ks/site', MARKER);
    const err = await bootFailure(aws({ keys: { DD_API_KEY: 'ks/api', DD_APP_KEY: 'ks/app', DD_SITE: 'ks/site' } }));
    expect([err.kind, err.exitCode]).toEqual(['misconfigured', 78]);
    expect(err.message).toContain('ks/site (DD_SITE)');
    for (const site of DATADOG_SITES) expect(err.message).toContain(site);
    expectNoLeak(err, MARKER);
  });
});
