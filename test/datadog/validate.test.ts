import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatadogTransport, type DatadogTransport } from '../../src/datadog/client.ts';
import { APP_KEY_PROBE_QUERY, validateKeys } from '../../src/datadog/validate.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { closedPort } from '../secrets/fakes/server.ts';

/**
 * The key check's two calls against the simulator (every request checked against Datadog's
 * spec), through the real transport: which answers mean accepted, which key was refused, and
 * what counts as unreachable.
 */

const WRONG_API = { ...DEFAULT_DEMO_KEYS, apiKey: 'ffff0000000000000000000000000001' };
const WRONG_APP = { ...DEFAULT_DEMO_KEYS, appKey: 'ffff000000000000000000000000000000000002' };

let sim: TestSimulator;
let transport: DatadogTransport;
beforeAll(async () => {
  sim = await startTestSimulator();
  transport = createDatadogTransport({ baseUrl: sim.url, userAgent: 'tinkr-server-test' });
});
afterEach(() => {
  sim.faults.clear();
  sim.resetRequests();
});
afterAll(async () => {
  sim.assertNoViolations();
  await transport.close();
  await sim.close();
});

const check = (keys = DEFAULT_DEMO_KEYS, signal = new AbortController().signal) => validateKeys(transport, keys, signal, sim.clock.now());

describe('validateKeys', () => {
  it('accepts good keys with one validate (API key only) and one one-minute query of system.cpu.user', async () => {
    expect(await check()).toEqual({ outcome: 'accepted' });
    const [validate, query] = sim.requests;
    expect(sim.requests).toHaveLength(2);
    expect(validate).toMatchObject({ endpoint: 'validate', method: 'GET', path: '/api/v1/validate' });
    expect(validate!.headers['dd-api-key']).toBe(DEFAULT_DEMO_KEYS.apiKey);
    // Datadog's validate is about the API key alone: the application key is not sent.
    expect(validate!.headers['dd-application-key']).toBeUndefined();
    expect(query).toMatchObject({ endpoint: 'metrics', method: 'GET', path: '/api/v1/query' });
    expect(query!.query.query).toBe(APP_KEY_PROBE_QUERY);
    expect(Number(query!.query.to) - Number(query!.query.from)).toBe(60);
    expect(query!.headers['dd-application-key']).toBe(DEFAULT_DEMO_KEYS.appKey);
  });

  it('names the API key when validate refuses it, without trying the application key', async () => {
    expect(await check(WRONG_API)).toEqual({ outcome: 'rejected', key: 'api', status: 403 });
    expect(sim.requests.map((r) => r.endpoint)).toEqual(['validate']);
  });

  it('names the application key when only the query refuses it', async () => {
    expect(await check(WRONG_APP)).toEqual({ outcome: 'rejected', key: 'application', status: 403 });
    expect(sim.requests.map((r) => r.endpoint)).toEqual(['validate', 'metrics']);
  });

  it('takes a 429 as accepted: Datadog recognised the key before counting it against the limit', async () => {
    sim.rateLimit.exhaust('metrics');
    try {
      expect(await check()).toEqual({ outcome: 'accepted' });
    } finally {
      sim.rateLimit.reset();
    }
  });

  it.each([
    ['a 5xx from validate', { kind: 'status', status: 503, endpoint: 'validate' } as const, /\/api\/v1\/validate answered HTTP 503/],
    ['a 5xx from the query', { kind: 'status', status: 500, endpoint: 'metrics' } as const, /\/api\/v1\/query answered HTTP 500/],
    ['a 200 that is not Datadog\'s answer', { kind: 'malformed', variant: 'non-json', endpoint: 'validate' } as const, /without Datadog's \{"valid": true\}/],
    ['a dropped connection', { kind: 'drop', endpoint: 'validate' } as const, /could not reach \/api\/v1\/validate \(\w+\)/],
  ])('calls %s unreachable, with a reason that holds no key', async (_what, fault, reason) => {
    sim.faults.add(fault);
    const verdict = await check();
    expect(verdict).toMatchObject({ outcome: 'unreachable', reason: expect.stringMatching(reason) });
    expect(JSON.stringify(verdict)).not.toContain(DEFAULT_DEMO_KEYS.apiKey);
  });

  it('calls a refused connection or an aborted check unreachable', async () => {
    const nowhere = createDatadogTransport({ baseUrl: `http://127.0.0.1:${await closedPort()}`, userAgent: 'tinkr-server-test' });
    try {
      expect(await validateKeys(nowhere, DEFAULT_DEMO_KEYS, new AbortController().signal, Date.now())).toEqual({
        outcome: 'unreachable',
        reason: 'could not reach /api/v1/validate (ECONNREFUSED)',
      });
    } finally {
      await nowhere.close();
    }
    sim.faults.add({ kind: 'latency', delayMs: 60_000, endpoint: 'validate' });
    const deadline = new AbortController();
    const pending = check(DEFAULT_DEMO_KEYS, deadline.signal);
    deadline.abort();
    expect(await pending).toEqual({ outcome: 'unreachable', reason: 'no answer to /api/v1/validate in time' });
  });
});
