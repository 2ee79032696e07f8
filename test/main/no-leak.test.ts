import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiKeys } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { awsSecretLines, secretsProfileToml } from '../helpers/profile-file.ts';
import { parseLogLines, type CliResult, runCli, type Scratch, scratchDirs, startCli, VIOLATIONS_MARKER } from '../helpers/cli.ts';
import { untilNotReady } from '../helpers/ready.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager } from '../secrets/fakes/aws.ts';
import { offlineDefaults } from '../secrets/helpers/env.ts';

/**
 * The log-capture test through `node src/main.ts`: everything the process writes (stdout and
 * stderr, logging at `trace`) and everything it answers must be free of every planted secret —
 * the Datadog keys in the secret, the same names in the environment, the bearer tokens, the
 * cursor secret, the cloud credentials — through successes, upstream faults, bad callers, a key
 * rotation and failing boots. Every planted secret contains CANARY.
 */

const CANARY = 'c4n4ry';
const OLD: ApiKeys = { apiKey: `${CANARY}-cli-old-api-3e1d`, appKey: `${CANARY}-cli-old-app-8a4c` };
const NEW: ApiKeys = { apiKey: `${CANARY}-cli-new-api-5b7f`, appKey: `${CANARY}-cli-new-app-0d2e` };
const TOKEN = `${CANARY}-cli-bearer-4f9a`;
const SECRET_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDNOLEAKCLI',
  AWS_SECRET_ACCESS_KEY: `${CANARY}-cli-aws-secret-7c3b`,
  AWS_SESSION_TOKEN: `${CANARY}-cli-aws-session-1e6d`,
  TINKR_CURSOR_SECRET: `${CANARY}-cli-cursor-secret-2a9f`,
  // Set, though the profile reads its keys from the secret manager: they must not show either.
  DD_API_KEY: `${CANARY}-cli-env-api-9d3e`,
  DD_APP_KEY: `${CANARY}-cli-env-app-6f1b`,
  TINKR_API_KEYS: JSON.stringify([{ hash: sha256Hex(TOKEN), subject: 'no-leak', roles: ['viewer'] }]),
  TINKR_LOG_LEVEL: 'trace',
};
const secretOf = (keys: ApiKeys, extra: Record<string, string> = {}) => JSON.stringify({ DD_API_KEY: keys.apiKey, DD_APP_KEY: keys.appKey, ...extra });

let fake: AwsSecretsManagerFake;
let sim: TestSimulator;
const scratches: Scratch[] = [];

beforeAll(async () => {
  fake = await startAwsSecretsManager({ region: 'eu-west-1' });
  sim = await startTestSimulator({ keys: OLD });
});

afterAll(async () => {
  sim.assertNoViolations();
  await sim.close();
  await fake.close();
  for (const s of scratches) s.cleanup();
});

/** A scratch HOME with a config file whose profile reads the keys from `secretId` at the fake. */
function profile(secretId: string, timeoutMs = 10_000): { scratch: Scratch; env: Record<string, string> } {
  const scratch = scratchDirs('tinkr-no-leak-cli-');
  scratches.push(scratch);
  scratch.write(
    'home/.tinkr/config.toml',
    secretsProfileToml({ apiUrl: sim.url, server: ['request_timeout_ms = 1000'], secrets: awsSecretLines(secretId, fake.url, timeoutMs) }),
  );
  return { scratch, env: { ...offlineDefaults(scratch.home), ...SECRET_ENV, HOST: '127.0.0.1', PORT: '0' } };
}

function expectNoCanary(result: CliResult, responses: string[] = []): void {
  expect(result.stdout).not.toContain(CANARY);
  expect(result.stderr).not.toContain(CANARY);
  expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
  for (const response of responses) expect(response).not.toContain(CANARY);
}

describe('node src/main.ts writes no secret, whatever happens', () => {
  it('while serving: successes, upstream faults, bad callers and a key rotation', async () => {
    fake.put('cli/rotating', secretOf(OLD));
    const { scratch, env } = profile('cli/rotating');
    const cli = await startCli([], { scratch, env });
    const responses: string[] = [];
    // no-cache: every call must reach the simulator and meet the fault planted there.
    const call = async (path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
      const res = await fetch(`${cli.url}${path}`, { headers: { 'cache-control': 'no-cache', ...headers } });
      responses.push(`${res.status}\n${JSON.stringify([...res.headers])}\n${await res.text()}`);
      return res.status;
    };
    let result: CliResult;
    try {
      // The boot key check is done before any fault is planted (from the log, so that every
      // request the server logs is one of this test's).
      await vi.waitFor(() => expect(cli.logLines().some((l) => String(l.msg).endsWith('accepted the keys'))).toBe(true), { timeout: 30_000, interval: 20 });
      expect(await call('/logs?since=15m&limit=2')).toBe(200);
      expect(await call('/metrics?metric=system.cpu.user&since=1h')).toBe(200);
      expect(await call('/traces?since=15m&limit=2')).toBe(200);
      const faults: Array<[object, number]> = [
        [{ kind: 'status', status: 502 }, 200],
        [{ kind: 'status', status: 503, times: 3 }, 502],
        [{ kind: 'malformed' }, 502],
        [{ kind: 'drop', times: 3 }, 502],
        [{ kind: 'latency', delayMs: 5_000 }, 504],
        // Last: the 429 closes the logs budget gate until its reset, so nothing after it would reach Datadog.
        [{ kind: 'status', status: 429, resetS: 30 }, 429],
      ];
      for (const [fault, status] of faults) {
        sim.faults.add(fault as never);
        expect(await call('/logs?since=15m&limit=1'), JSON.stringify(fault)).toBe(status);
        sim.faults.clear();
      }
      expect(await call('/logs?since=15m', { authorization: `Bearer ${CANARY}-cli-wrong-token` })).toBe(401);
      expect(await call('/logs?since=15m', {})).toBe(401);
      expect(await call('/logs?since=last-tuesday')).toBe(400);

      fake.put('cli/rotating', secretOf(NEW));
      sim.setKeys(NEW);
      // Spans, not logs: the 429 above keeps the logs budget gate closed until its reset.
      expect(await call('/traces?since=15m&limit=1')).toBe(200);
    } finally {
      result = await cli.stop();
      sim.setKeys(OLD);
    }
    // The capture is real: an access-log line per request, and the rotation.
    const lines = parseLogLines(result.stdout);
    expect(lines.filter((l) => l.msg === 'request').length).toBe(responses.length);
    expect(lines.some((l) => l.reason === 'auth_failure' && l.msg === 'Datadog keys re-read from the secret manager: new keys in use')).toBe(true);
    expect(result.code).toBe(0);
    expectNoCanary(result, responses);
  });

  it('when Datadog rejects the keys: one error line naming the site, /readyz 503, and no key anywhere', async () => {
    // The secret holds keys the simulator refuses.
    fake.put('cli/rejected', secretOf(NEW));
    const { scratch, env } = profile('cli/rejected');
    const cli = await startCli([], { scratch, env });
    const responses: string[] = [];
    let result: CliResult;
    try {
      const problem = await untilNotReady(cli.url, /^the Datadog keys were rejected by datadoghq\.com: the API key \(HTTP 403\)/);
      responses.push(JSON.stringify(problem));
      const health = await fetch(`${cli.url}/health`);
      expect(health.status).toBe(200);
      responses.push(await health.text());
    } finally {
      result = await cli.stop();
    }
    expect(result.code).toBe(0);
    const errors = parseLogLines(result.stdout).filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ site: 'datadoghq.com', api_url: sim.url, key: 'api', status: 403 });
    expectNoCanary(result, responses);
  });

  describe.concurrent('when the boot read fails', () => {
    it.each<{ what: string; id: string; plant: () => void; code: number; message: RegExp; timeoutMs?: number }>([
      {
        what: 'malformed JSON',
        id: 'cli/malformed',
        plant: () => fake.put('cli/malformed', `{"DD_API_KEY": "${OLD.apiKey}", "DD_APP_KEY": ${OLD.appKey}}`),
        code: 78,
        message: /is not valid JSON \(length \d+\)/,
      },
      {
        what: 'a missing key',
        id: 'cli/missing',
        plant: () => fake.put('cli/missing', JSON.stringify({ DD_API_KEY: OLD.apiKey, DD_APP_KEYS: OLD.appKey })),
        code: 78,
        message: /has no DD_APP_KEY; .* present: DD_API_KEY, DD_APP_KEYS/,
      },
      {
        what: 'an empty key',
        id: 'cli/empty',
        plant: () => fake.put('cli/empty', JSON.stringify({ DD_API_KEY: ' ', DD_APP_KEY: OLD.appKey })),
        code: 78,
        message: /DD_API_KEY is empty/,
      },
      {
        what: 'a bad DD_SITE',
        id: 'cli/site',
        plant: () => fake.put('cli/site', secretOf(OLD, { DD_SITE: `${CANARY}.datadoghq.com` })),
        code: 78,
        message: /DD_SITE is not one of the nine Datadog sites/,
      },
      { what: 'access denied', id: 'cli/denied', plant: () => fake.fail('cli/denied', 'denied'), code: 78, message: /access denied to this identity/ },
      {
        what: 'a truncated answer',
        id: 'cli/truncated',
        plant: () => (fake.put('cli/truncated', secretOf(OLD)), fake.fail('cli/truncated', 'truncated')),
        code: 69,
        message: /answered HTTP 200 with a body that is not Secrets Manager JSON/,
      },
      {
        what: 'no answer within timeout_ms',
        id: 'cli/hang',
        plant: () => fake.fail('cli/hang', 'hang'),
        code: 69,
        message: /no answer within 500 ms \(secrets\.timeout_ms\)/,
        timeoutMs: 500,
      },
    ])('$what exits $code', async ({ id, plant, code, message, timeoutMs }) => {
      plant();
      const { scratch, env } = profile(id, timeoutMs);
      const result = await runCli([], { scratch, env });
      expect(result.code).toBe(code);
      expect(result.stderr).toContain(`tinkr-server: AWS Secrets Manager secret ${id} (region eu-west-1 via ${fake.url}): `);
      expect(result.stderr).toMatch(message);
      expectNoCanary(result);
    });
  });
});
