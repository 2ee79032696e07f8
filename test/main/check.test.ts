import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeys } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { type CliResult, runCli, type Scratch, scratchDirs, VIOLATIONS_MARKER } from '../helpers/cli.ts';
import { awsSecretLines, secretsProfileToml } from '../helpers/profile-file.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager } from '../secrets/fakes/aws.ts';
import { closedPort } from '../secrets/fakes/server.ts';
import { offlineDefaults } from '../secrets/helpers/env.ts';

/**
 * `tinkr-server --check` as a real child process (docs/configuration.md#checking-a-configuration):
 * configuration, secrets and the keys checked with Datadog (the simulator), one line each, and the
 * exit code: 0 all good, 78 something was rejected, 69 something could not be reached. It never
 * listens, and never prints a key or a secret.
 */

const KEYS: ApiKeys = { apiKey: 'check-api-key-c4n4ry-1a2b', appKey: 'check-app-key-c4n4ry-3c4d' };
const CANARY = 'c4n4ry';
const TOKEN = 'check-test-bearer-token';
const TINKR_API_KEYS = JSON.stringify([{ hash: sha256Hex(TOKEN), subject: 'check', roles: ['viewer'] }]);

let sim: TestSimulator;
let fake: AwsSecretsManagerFake;
const scratches: Scratch[] = [];
const scratch = (): Scratch => {
  const s = scratchDirs('tinkr-check-');
  scratches.push(s);
  return s;
};

beforeAll(async () => {
  sim = await startTestSimulator({ keys: KEYS });
  fake = await startAwsSecretsManager({ region: 'eu-west-1' });
});
afterAll(async () => {
  sim.assertNoViolations();
  await sim.close();
  await fake.close();
  for (const s of scratches) s.cleanup();
});

/** Environment-only keys in front of `url` (the simulator unless given). */
const envStart = (keys: ApiKeys, url = sim.url): Record<string, string> => ({
  TINKR_BACKEND: 'datadog',
  DD_API_KEY: keys.apiKey,
  DD_APP_KEY: keys.appKey,
  DD_API_URL: url,
  TINKR_API_KEYS,
});

function expectClean(result: CliResult): void {
  expect(result.stdout + result.stderr).not.toContain(CANARY);
  expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
  // A check, not a start: nothing listened.
  expect(result.stdout).not.toContain('listening');
}

describe.concurrent('tinkr-server --check', () => {
  it('exits 0 and says so when the configuration, the secrets and the keys are good', async () => {
    const result = await runCli(['--check'], { scratch: scratch(), env: envStart(KEYS) });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        'tinkr-server --check',
        '  configuration ok: environment, profile default',
        '  secrets       ok: the keys come from the environment',
        `  Datadog keys  ok: accepted by datadoghq.com via ${sim.url}`,
        'all good',
        '',
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expectClean(result);
  });

  it.each<[string, ApiKeys, RegExp]>([
    ['the API key', { ...KEYS, apiKey: `${CANARY}-wrong-api` }, /refused the API key \(HTTP 403\); check DD_API_KEY and the site$/m],
    ['the application key', { ...KEYS, appKey: `${CANARY}-wrong-app` }, /refused the application key \(HTTP 403\); check DD_APP_KEY and the site$/m],
  ])('exits 78 when Datadog rejects %s, naming the site and the key', async (_what, keys, message) => {
    const result = await runCli(['--check'], { scratch: scratch(), env: envStart(keys) });
    expect(result.code).toBe(78);
    expect(result.stdout).toContain(`  Datadog keys  rejected: datadoghq.com via ${sim.url} refused the`);
    expect(result.stdout).toMatch(message);
    expect(result.stdout).not.toContain('all good');
    expectClean(result);
  });

  it('exits 69 when nothing answers at the Datadog address', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const result = await runCli(['--check'], { scratch: scratch(), env: envStart(KEYS, url) });
    expect(result.code).toBe(69);
    expect(result.stdout).toContain(`  Datadog keys  unreachable: datadoghq.com via ${url}: could not reach /api/v1/validate (ECONNREFUSED)`);
    expectClean(result);
  });

  it('exits 78 on a configuration error, naming the variable, before anything is fetched', async () => {
    const result = await runCli(['--check'], { scratch: scratch(), env: { ...envStart(KEYS), DD_SITE: `${CANARY}.example.com` } });
    expect(result.code).toBe(78);
    expect(result.stdout).toMatch(/^ {2}configuration error: environment: DD_SITE: /m);
    expect(result.stdout).not.toContain('Datadog keys');
    expectClean(result);
  });

  describe('with the keys in AWS Secrets Manager (the loopback fake, through the real SDK)', () => {
    function profile(secretId: string, endpoint: string): { scratch: Scratch; env: Record<string, string> } {
      const s = scratch();
      s.write('home/.tinkr/config.toml', secretsProfileToml({ apiUrl: sim.url, caller: { token: TOKEN, subject: 'check' }, secrets: awsSecretLines(secretId, endpoint, 2_000) }));
      return { scratch: s, env: { ...offlineDefaults(s.home), AWS_ACCESS_KEY_ID: 'AKIDCHECKTEST', AWS_SECRET_ACCESS_KEY: `${CANARY}-aws-secret` } };
    }

    it('exits 0 with the secret named and its keys accepted', async () => {
      fake.put('check/good', JSON.stringify({ DD_API_KEY: KEYS.apiKey, DD_APP_KEY: KEYS.appKey }));
      const { scratch: s, env } = profile('check/good', fake.url);
      const result = await runCli(['--check'], { scratch: s, env });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`  secrets       ok: AWS Secrets Manager secret check/good (region eu-west-1 via ${fake.url})`);
      expect(result.stdout).toContain('all good');
      expectClean(result);
    });

    it('exits 78 when the secret does not exist', async () => {
      const { scratch: s, env } = profile('check/missing', fake.url);
      const result = await runCli(['--check'], { scratch: s, env });
      expect(result.code).toBe(78);
      expect(result.stdout).toContain(`  secrets       error: AWS Secrets Manager secret check/missing (region eu-west-1 via ${fake.url}): `);
      expect(result.stdout).not.toContain('Datadog keys');
      expectClean(result);
    });

    it('exits 69 when the secret manager cannot be reached', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const { scratch: s, env } = profile('check/unreachable', endpoint);
      const result = await runCli(['--check'], { scratch: s, env });
      expect(result.code).toBe(69);
      expect(result.stdout).toContain(`  secrets       unreachable: AWS Secrets Manager secret check/unreachable (region eu-west-1 via ${endpoint}): `);
      expectClean(result);
    });
  });

  it('is a usage error (64) with demo', async () => {
    const result = await runCli(['demo', '--check'], { scratch: scratch(), env: {} });
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('--check checks the server');
  });
});
