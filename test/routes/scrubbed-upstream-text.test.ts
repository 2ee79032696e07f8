import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { problemSchema } from '../../src/schemas/common.ts';
import { credentialsFromJson } from '../../src/secrets/payload.ts';
import { REDACTED } from '../../src/secrets/scrub.ts';
import { createCredentialStore } from '../../src/secrets/store.ts';
import { systemClock } from '../../src/clock.ts';
import { capturedLog } from '../helpers/captured-log.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * Upstream text is scrubbed (docs/http-api.md#errors): whatever Datadog says that is passed on to a caller
 * (an error message, a metrics error, a search warning) has every key and secret value replaced
 * by `[redacted]`, in the answer and in the log, through the real server and the simulator.
 */

const OTHER_SECRET = 'client-token-0f3c9a7e';
const SECRETS = [DEFAULT_DEMO_KEYS.apiKey, DEFAULT_DEMO_KEYS.appKey, OTHER_SECRET];
const log = capturedLog('debug');

let stack: Stack;
beforeAll(async () => {
  // The keys as a JSON secret holding one more value beside them, as a secret manager returns it.
  const secret = JSON.stringify({ DD_API_KEY: DEFAULT_DEMO_KEYS.apiKey, DD_APP_KEY: DEFAULT_DEMO_KEYS.appKey, DD_CLIENT_TOKEN: OTHER_SECRET });
  const initial = credentialsFromJson(secret, { provider: 'aws', secretRef: 'test/datadog', location: 'region eu-west-1' });
  const credentials = createCredentialStore({ initial, clock: systemClock, timeoutMs: 0, log: pino({ level: 'silent' }) });
  stack = await startStack({ credentials, server: { logger: log.logger } });
});
afterAll(() => stack.close());
beforeEach(() => {
  stack.sim.faults.clear();
  log.clear();
});

/** Every secret, as sent and upper-cased (an echo may change case). */
function expectNoSecret(where: string): void {
  for (const secret of SECRETS) {
    expect(where.toLowerCase()).not.toContain(secret.toLowerCase());
    expect(where).not.toContain(secret.slice(0, 12));
  }
}

const quoting = `query rejected: key ${DEFAULT_DEMO_KEYS.apiKey} with app key ${DEFAULT_DEMO_KEYS.appKey.toUpperCase()} and token ${OTHER_SECRET}`;

describe('Datadog text passed on to callers', () => {
  it.each([
    ['logs', '/logs?since=5m'],
    ['spans', '/traces?since=5m'],
    ['metrics', '/metrics?metric=system.cpu.user&since=5m'],
  ] as const)('a %s 400 quoting the keys and a secret answers UPSTREAM_BAD_QUERY with [redacted]', async (endpoint, path) => {
    stack.sim.faults.add({ kind: 'status', status: 400, endpoint, message: quoting });
    const res = await stack.app.get(path, { headers: { 'cache-control': 'no-cache' } });
    const raw = await res.text();
    expect(res.status).toBe(400);
    const problem = problemSchema.parse(JSON.parse(raw));
    expect(problem.code).toBe('UPSTREAM_BAD_QUERY');
    expect(problem.detail).toBe(`Datadog rejected the ${endpoint} query: query rejected: key ${REDACTED} with app key ${REDACTED} and token ${REDACTED}`);
    expectNoSecret(raw);
    expectNoSecret(log.text());
  });

  it('scrubs a key that straddles the length cut of a long message: no prefix of it is left', async () => {
    stack.sim.faults.add({ kind: 'status', status: 400, endpoint: 'logs', message: `${'x'.repeat(470)} ${DEFAULT_DEMO_KEYS.apiKey}` });
    const raw = await (await stack.app.get('/logs?since=6m')).text();
    // Cut to 500 characters after scrubbing: `[redacted]` fits whole, where 29 of the key's 32 would have.
    expect(JSON.parse(raw).detail).toMatch(/x \[redacted\]…?$/);
    expectNoSecret(raw);
  });

  it('scrubs the error of a metrics answer with status "error"', async () => {
    stack.sim.faults.add({ kind: 'status', status: 200, endpoint: 'metrics', body: { status: 'error', error: quoting, series: [] } });
    const res = await stack.app.get('/metrics?metric=system.cpu.user&since=7m');
    const raw = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(raw).detail).toContain(`key ${REDACTED} with app key ${REDACTED}`);
    expectNoSecret(raw);
    expectNoSecret(log.text());
  });

  it('scrubs search warnings, and the cached copy too', async () => {
    const warning = { code: 'unknown_index', title: `index ${OTHER_SECRET} not found`, detail: quoting };
    stack.sim.faults.add({ kind: 'status', status: 200, endpoint: 'logs', times: 1, body: { data: [], meta: { status: 'done', warnings: [warning] } } });
    const first = await stack.app.get('/logs?service=checkout&since=8m');
    const raw = await first.text();
    expect(first.status).toBe(200);
    expect(JSON.parse(raw).meta.warnings).toContainEqual({
      code: 'datadog_unknown_index',
      message: `index ${REDACTED} not found: query rejected: key ${REDACTED} with app key ${REDACTED} and token ${REDACTED}`,
    });
    expectNoSecret(raw);
    // The same question again is a cache hit: what was cached was already scrubbed.
    const again = await stack.app.get('/logs?service=checkout&since=8m');
    expect(again.headers.get('x-tinkr-cache')).toBe('hit');
    expectNoSecret(await again.text());
    expectNoSecret(log.text());
  });
});
