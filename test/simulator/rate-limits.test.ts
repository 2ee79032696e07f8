import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS, DEFAULT_RATE_LIMITS } from '@tinkr/datadog-simulator';
import { callDatadog, type DatadogAnswer } from '../helpers/datadog-fetch.ts';
import { validateDatadogResponse } from '../helpers/datadog-openapi.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';

// 10 s into a calendar minute and 10 s into an hour.
const START = Date.parse('2026-11-25T04:00:10.000Z');

let sim: TestSimulator;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(START);
  sim = await startTestSimulator({ clock, rateLimits: { logs: { limit: 3, periodS: 60 }, spans: { limit: 2, periodS: 60 } } });
});
afterEach(async () => {
  sim.assertNoViolations();
  await sim.close();
});

const logs = (keys = DEFAULT_DEMO_KEYS): Promise<DatadogAnswer> =>
  callDatadog(sim.url, '/api/v2/logs/events/search', { body: { filter: { from: 'now-1m' } }, keys });
const spans = (): Promise<DatadogAnswer> =>
  callDatadog(sim.url, '/api/v2/spans/events/search', { body: { data: { type: 'search_request', attributes: {} } } });
const metrics = (): Promise<DatadogAnswer> =>
  callDatadog(sim.url, `/api/v1/query?from=${START / 1000 - 600}&to=${START / 1000}&query=avg:system.cpu.user{*}`);

function limitHeaders(res: DatadogAnswer): Record<string, string | null> {
  return Object.fromEntries(['limit', 'period', 'remaining', 'reset', 'name'].map((h) => [h, res.headers.get(`x-ratelimit-${h}`)]));
}

describe('rate limits', () => {
  it('count down on every answer and 429 once spent, until the calendar period rolls over', async () => {
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await logs());
    expect(seen.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(seen.map((r) => limitHeaders(r))).toEqual(
      [2, 1, 0, 0].map((remaining) => ({ limit: '3', period: '60', remaining: String(remaining), reset: '50', name: 'logs_list' })),
    );
    expect(seen[3]!.body).toEqual({ errors: ['Too many requests'] });
    expect(validateDatadogResponse('ListLogs', 429, seen[3]!.body)).toEqual([]);

    clock.advance(49_500);
    const stillSpent = await logs();
    expect(stillSpent.status).toBe(429);
    expect(stillSpent.headers.get('x-ratelimit-reset')).toBe('1');

    clock.advance(500);
    const fresh = await logs();
    expect(fresh.status).toBe(200);
    expect(limitHeaders(fresh)).toMatchObject({ remaining: '2', reset: '60' });
  });

  it('keep separate budgets per endpoint family, in each family\'s error shape', async () => {
    expect((await spans()).status).toBe(200);
    expect((await spans()).status).toBe(200);
    const limited = await spans();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(limited.body.errors[0]).toMatchObject({ status: '429', title: 'Too Many Requests' });
    expect(validateDatadogResponse('ListSpans', 429, limited.body)).toEqual([]);
    expect((await logs()).status).toBe(200);
    const m = await metrics();
    expect(m.status).toBe(200);
    expect(limitHeaders(m)).toEqual({
      limit: String(DEFAULT_RATE_LIMITS.metrics.limit),
      period: '3600',
      remaining: String(DEFAULT_RATE_LIMITS.metrics.limit - 1),
      reset: '3590',
      name: 'query',
    });
  });

  it('keep separate budgets per API key', async () => {
    sim.rateLimit.exhaust('logs');
    expect((await logs()).status).toBe(429);
    const rotated = { apiKey: 'ffff0000000000000000000000000001', appKey: 'ffff000000000000000000000000000000000002' };
    sim.setKeys(rotated);
    const res = await logs(rotated);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('2');
  });

  it('can be changed, inspected and reset at run time', async () => {
    sim.rateLimit.set('logs', { limit: 1, periodS: 3_600 });
    expect(sim.rateLimit.remaining('logs')).toBe(1);
    expect(sim.rateLimit.resetSeconds('logs')).toBe(3_590);
    expect((await logs()).status).toBe(200);
    expect(sim.rateLimit.remaining('logs')).toBe(0);
    expect((await logs()).status).toBe(429);
    sim.rateLimit.reset();
    expect((await logs()).status).toBe(200);
    expect(() => sim.rateLimit.set('logs', { limit: 1, periodS: 0 })).toThrow(TypeError);
  });

  it('carry headers on 400s as well, which also spend the budget', async () => {
    const bad = await callDatadog(sim.url, '/api/v2/logs/events/search', { body: { filter: { query: '(' } } });
    expect(bad.status).toBe(400);
    expect(limitHeaders(bad)).toMatchObject({ remaining: '2', name: 'logs_list' });
  });
});
