import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeys } from '@tinkr/datadog-simulator';
import { startServer, type Running } from '../../src/boot.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';
import { awsSecretLines, secretsProfileToml } from '../helpers/profile-file.ts';
import { parseLogLines } from '../helpers/cli.ts';
import { untilReady } from '../helpers/ready.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager } from '../secrets/fakes/aws.ts';
import { openCloudSandbox, type CloudSandbox } from '../secrets/helpers/sandbox.ts';

/**
 * A log-capture test (docs/http-api.md#errors: no response, log line or error ever contains a key): the
 * real server, its keys in AWS Secrets Manager (the loopback fake, real SDK), logging at
 * `trace` into a captured destination, driven through every path that could leak a key —
 * success, key rotation, refresh failures, 5xx with retries, 429, malformed JSON, timeouts,
 * dropped connections, bad tokens, bad input, boot failures. Every secret planted here contains
 * CANARY; it must appear in no log line, no response body and no response header.
 * test/main/no-leak.test.ts does the same through `node src/main.ts`, capturing stdout and stderr.
 */

const CANARY = 'c4n4ry';
const OLD: ApiKeys = { apiKey: `${CANARY}-old-api-key-5f1e`, appKey: `${CANARY}-old-app-key-9b2d` };
const NEW: ApiKeys = { apiKey: `${CANARY}-new-api-key-07ac`, appKey: `${CANARY}-new-app-key-e43b` };
const TOKEN = `${CANARY}-bearer-token-2c8f`;
const WRONG_TOKEN = `${CANARY}-wrong-bearer-6d0a`;
const CURSOR_SECRET = `${CANARY}-cursor-secret-value-81f3`;
const AWS_SECRET = `${CANARY}-aws-secret-access-key-b7e9`;
const secretOf = (keys: ApiKeys, extra: Record<string, string> = {}) => JSON.stringify({ DD_API_KEY: keys.apiKey, DD_APP_KEY: keys.appKey, ...extra });

let sandbox: CloudSandbox;
let home: string;
let fake: AwsSecretsManagerFake;
let sim: TestSimulator;
/** Every log line of every server in this file. */
let logText = '';
/** Every response: status line, headers and body. */
const responses: string[] = [];
const servers: Running[] = [];

beforeAll(async () => {
  sandbox = openCloudSandbox('tinkr-no-leak-');
  home = sandbox.home;
  sandbox.isolateEnv({ AWS_ACCESS_KEY_ID: 'AKIDNOLEAKTEST', AWS_SECRET_ACCESS_KEY: AWS_SECRET });
  fake = await startAwsSecretsManager({ region: 'eu-west-1' });
  sim = await startTestSimulator({ keys: OLD });
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await sim.close();
  await fake.close();
  sandbox.close();
});

/**
 * The server, booted through loadConfig from a TOML profile as main.ts does, logging at trace
 * into logText; resolves once Datadog accepted its keys, so no key check is in flight when a
 * test plants a fault or changes the keys.
 */
async function boot(secretId: string): Promise<Running> {
  const file = join(home, `${secretId.replaceAll('/', '-')}.toml`);
  writeFileSync(
    file,
    secretsProfileToml({
      apiUrl: sim.url,
      server: ['request_timeout_ms = 1000', 'cursor_secret = "env:NO_LEAK_CURSOR_SECRET"'],
      caller: { token: TOKEN, subject: 'no-leak' },
      secrets: awsSecretLines(secretId, fake.url, 5_000),
    }),
  );
  const config = loadConfig({
    args: parseCommandLine(['--config', file, '--host', '127.0.0.1', '--port', '0']),
    env: { NO_LEAK_CURSOR_SECRET: CURSOR_SECRET, TINKR_METRICS_PORT: '0' },
    homeDir: home,
    cwd: home,
  });
  const logger = createLogger('trace', { write: (line: string) => void (logText += line) });
  const running = await startServer(config, { logger });
  servers.push(running);
  await untilReady(running.url);
  return running;
}

/** Calls the server and records everything it answered. */
async function call(server: Running, path: string, init: RequestInit & { token?: string | null } = {}): Promise<{ status: number; body: any }> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set('authorization', `Bearer ${init.token ?? TOKEN}`);
  // Every call reaches the simulator (and the faults planted there), never the cache.
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-cache');
  const res = await fetch(`${server.url}${path}`, { ...init, headers });
  const text = await res.text();
  responses.push(`${res.status}\n${JSON.stringify([...res.headers])}\n${text}`);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (the docs page): kept as text.
  }
  return { status: res.status, body };
}

function expectNoCanary(): void {
  expect(logText).not.toContain(CANARY);
  for (const response of responses) expect(response).not.toContain(CANARY);
}

describe('no key, token or secret in any log line or response', () => {
  it('across successes, upstream faults, bad callers and a key rotation', async () => {
    fake.put('no-leak/rotating', secretOf(OLD));
    const server = await boot('no-leak/rotating');

    // Success on every route, a followed cursor, the public routes.
    const logs = await call(server, '/logs?service=checkout&since=15m&limit=2');
    expect(logs.status).toBe(200);
    expect((await call(server, `/logs?service=checkout&since=15m&limit=2&cursor=${encodeURIComponent(logs.body.meta.next_cursor)}`)).status).toBe(200);
    expect((await call(server, '/metrics?metric=trace.web.request.hits&service=checkout&since=1h')).status).toBe(200);
    expect((await call(server, '/traces?service=checkout&since=15m&limit=2')).status).toBe(200);
    expect((await call(server, `/traces/${sim.truth.sampleTraceId()}`)).status).toBe(200);
    expect((await call(server, '/api/v1/logs', { method: 'POST', body: JSON.stringify({ service: 'ledger', start: new Date(Date.now() - 900_000).toISOString(), end: new Date().toISOString(), limit: 3 }), headers: { 'content-type': 'application/json' } })).status).toBe(200);
    for (const path of ['/health', '/healthz', '/readyz', '/openapi.json']) expect((await call(server, path, { token: null })).status).toBe(200);

    // Upstream faults, each answered with its problem.
    const faults: Array<[object, string, number]> = [
      [{ kind: 'status', status: 502 }, '/logs?since=15m&limit=1', 200], // retried, then fine
      [{ kind: 'status', status: 503, times: 3 }, '/logs?since=15m&limit=1', 502],
      [{ kind: 'status', status: 400, message: 'bad query' }, '/logs?since=15m&limit=1', 400],
      [{ kind: 'malformed', variant: 'truncated' }, '/logs?since=15m&limit=1', 502],
      [{ kind: 'malformed', variant: 'non-json', endpoint: 'metrics' }, '/metrics?metric=system.cpu.user&since=1h', 502],
      [{ kind: 'drop', times: 3 }, '/logs?since=15m&limit=1', 502],
      [{ kind: 'latency', delayMs: 5_000 }, '/logs?since=15m&limit=1', 504],
      // Last: the 429 closes the logs budget gate until its reset, so nothing after it would reach Datadog.
      [{ kind: 'status', status: 429, resetS: 30 }, '/logs?since=15m&limit=1', 429],
    ];
    for (const [fault, path, status] of faults) {
      sim.faults.add(fault as never);
      expect((await call(server, path)).status, JSON.stringify(fault)).toBe(status);
      sim.faults.clear();
    }

    // Bad callers and bad input.
    expect((await call(server, '/logs?since=15m', { token: WRONG_TOKEN })).status).toBe(401);
    expect((await call(server, '/logs?since=15m', { token: null, headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
    expect((await call(server, '/logs?since=15m', { token: null })).status).toBe(401);
    expect((await call(server, '/logs?since=yesterday')).status).toBe(400);
    expect((await call(server, '/logs?cursor=not-a-cursor')).status).toBe(400);
    expect((await call(server, '/api/v1/logs', { method: 'POST', body: '{"service": ', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await call(server, `/no/such/route/${WRONG_TOKEN.slice(0, 3)}`)).status).toBe(404);

    // Rotation: the secret changes, Datadog refuses the old keys, the server re-reads and carries on.
    fake.put('no-leak/rotating', secretOf(NEW));
    sim.setKeys(NEW);
    // Spans, not logs: the 429 above keeps the logs budget gate closed until its reset.
    expect((await call(server, '/traces?since=15m&limit=1')).status).toBe(200);
    expect((await call(server, '/readyz', { token: null })).body.secrets.refreshes).toBe(1);

    // The capture saw all of it: one access-log line per request, the rotation, the upstream faults.
    const lines = parseLogLines(logText);
    expect(lines.filter((l) => l.msg === 'request').length).toBeGreaterThanOrEqual(responses.length);
    expect(lines.some((l) => l.reason === 'auth_failure')).toBe(true);
    expectNoCanary();
  });

  it('when re-reading the secret fails: truncated answers and malformed secrets', async () => {
    // Each needs its own server: re-reads after a refusal are rate-limited to one a minute.
    for (const [id, breakIt] of [
      ['no-leak/truncated', () => fake.fail('no-leak/truncated', 'truncated')],
      ['no-leak/malformed', () => fake.put('no-leak/malformed', `{"DD_API_KEY": "${NEW.apiKey}", "DD_APP_KEY": ${NEW.appKey}}`)],
      ['no-leak/bad-site', () => fake.put('no-leak/bad-site', secretOf(NEW, { DD_SITE: `${CANARY}.example.com` }))],
      ['no-leak/denied', () => fake.fail('no-leak/denied', 'denied')],
    ] as const) {
      sim.setKeys(OLD);
      fake.put(id, secretOf(OLD));
      const server = await boot(id);
      // The secret now holds the new keys, but reading it fails; Datadog wants the new keys.
      fake.put(id, secretOf(NEW));
      breakIt();
      sim.setKeys(NEW);
      const res = await call(server, '/logs?since=15m&limit=1');
      expect(res.status).toBe(502);
      expect(res.body.code).toBe('UPSTREAM_AUTH');
      const ready = await call(server, '/readyz', { token: null });
      expect(ready.body.secrets.last_error).toContain(`secret ${id}`);
      expect(parseLogLines(logText)).toContainEqual(
        expect.objectContaining({ level: 'warn', reason: 'auth_failure', source: expect.stringContaining(`secret ${id} `) }),
      );
    }
    expect(parseLogLines(logText).filter((l) => l.msg === 're-reading the Datadog keys failed; keeping the current keys')).toHaveLength(4);
    expectNoCanary();
  });

  it('when the boot read fails: the error names the secret and holds none of it', async () => {
    const cases: Array<[string, () => void, string]> = [
      ['boot/malformed', () => fake.put('boot/malformed', `{"DD_API_KEY": "${OLD.apiKey}" "DD_APP_KEY": "${OLD.appKey}"}`), 'malformed'],
      ['boot/missing', () => fake.put('boot/missing', JSON.stringify({ dd_api_key: OLD.apiKey, DD_APP_KEY: OLD.appKey })), 'missing_key'],
      ['boot/site', () => fake.put('boot/site', secretOf(OLD, { DD_SITE: `${CANARY}.datadoghq.com` })), 'misconfigured'],
      ['boot/spaces', () => fake.put('boot/spaces', secretOf({ apiKey: `${OLD.apiKey} ${OLD.appKey}`, appKey: OLD.appKey })), 'malformed'],
      ['boot/truncated', () => (fake.put('boot/truncated', secretOf(OLD)), fake.fail('boot/truncated', 'truncated')), 'unreachable'],
    ];
    for (const [id, plant, kind] of cases) {
      plant();
      const error = await boot(id).then(
        () => undefined,
        (e: unknown) => e as Error & { kind?: string },
      );
      expect(error?.kind, id).toBe(kind);
      expect(error?.message).toContain(`AWS Secrets Manager secret ${id} (region eu-west-1`);
      for (const text of [error?.message ?? '', error?.stack ?? '', JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })]) {
        expect(text).not.toContain(CANARY);
      }
    }
    expectNoCanary();
  });
});
