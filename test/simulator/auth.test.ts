import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS, startSimulator, type Simulator } from '@tinkr/datadog-simulator';
import { callDatadog } from '../helpers/datadog-fetch.ts';
import { validateDatadogResponse } from '../helpers/datadog-openapi.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

const LOGS = '/api/v2/logs/events/search';
const SPANS = '/api/v2/spans/events/search';
const spansBody = { data: { type: 'search_request', attributes: {} } };

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ clock: new ManualClock() });
});
afterAll(() => sim.close());

describe('Datadog keys', () => {
  it('default to the demo key pair', async () => {
    expect(DEFAULT_DEMO_KEYS.apiKey).toMatch(/^[0-9a-f]{32}$/);
    expect(DEFAULT_DEMO_KEYS.appKey).toMatch(/^[0-9a-f]{40}$/);
    expect(sim.keys).toEqual(DEFAULT_DEMO_KEYS);
    expect((await callDatadog(sim.url, LOGS, { body: {} })).status).toBe(200);
  });

  it.each([
    ['no keys', null],
    ['a wrong API key', { ...DEFAULT_DEMO_KEYS, apiKey: 'ffff0000000000000000000000000000' }],
    ['a wrong application key', { ...DEFAULT_DEMO_KEYS, appKey: 'ffff000000000000000000000000000000000000' }],
  ])('are refused with 403 Forbidden: %s', async (_name, keys) => {
    const remaining = sim.rateLimit.remaining('logs');
    const res = await callDatadog(sim.url, LOGS, { body: {}, keys });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errors: ['Forbidden'] });
    expect(validateDatadogResponse('ListLogs', 403, res.body)).toEqual([]);
    expect(res.headers.get('x-ratelimit-name')).toBe('logs_list');
    // A refused request does not spend the org's budget.
    expect(sim.rateLimit.remaining('logs')).toBe(remaining);
  });

  it('are refused in the JSON:API shape on spans', async () => {
    const res = await callDatadog(sim.url, SPANS, { body: spansBody, keys: null });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errors: [{ status: '403', title: 'Forbidden', detail: 'Forbidden' }] });
    expect(validateDatadogResponse('ListSpans', 403, res.body)).toEqual([]);
  });

  it('rotate with setKeys: the old pair stops working at once', async () => {
    const rotated = { apiKey: 'abcd0000000000000000000000000001', appKey: 'abcd000000000000000000000000000000000002' };
    sim.setKeys(rotated);
    try {
      expect((await callDatadog(sim.url, LOGS, { body: {} })).status).toBe(403);
      expect((await callDatadog(sim.url, LOGS, { body: {}, keys: rotated })).status).toBe(200);
      expect(sim.keys).toEqual(rotated);
    } finally {
      sim.setKeys(DEFAULT_DEMO_KEYS);
    }
    expect(() => sim.setKeys({ apiKey: '', appKey: 'x' })).toThrow(TypeError);
  });
});

describe('GET /api/v1/validate (the API key check)', () => {
  const VALIDATE = '/api/v1/validate';
  const noAppKey = async (apiKey: string) => {
    const res = await fetch(sim.url + VALIDATE, { headers: { 'DD-API-KEY': apiKey } });
    return { status: res.status, body: (await res.json()) as unknown, headers: res.headers };
  };

  it('answers {"valid":true} to the right API key, with no application key needed, and spends no budget', async () => {
    const before = { validate: sim.callCount('validate'), metrics: sim.rateLimit.remaining('metrics') };
    const res = await noAppKey(DEFAULT_DEMO_KEYS.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: true });
    expect(validateDatadogResponse('Validate', 200, res.body)).toEqual([]);
    expect(res.headers.get('x-ratelimit-name')).toBeNull();
    // A wrong application key does not matter to it either: only the API key is checked.
    const withWrongAppKey = await callDatadog(sim.url, VALIDATE, { keys: { ...DEFAULT_DEMO_KEYS, appKey: 'ffff000000000000000000000000000000000000' } });
    expect(withWrongAppKey.status).toBe(200);
    expect(sim.callCount('validate')).toBe(before.validate + 2);
    expect(sim.rateLimit.remaining('metrics')).toBe(before.metrics);
  });

  it.each([
    ['a wrong API key', 'ffff0000000000000000000000000000'],
    ['no API key', ''],
  ])('is 403 Forbidden with %s', async (_name, apiKey) => {
    const res = await noAppKey(apiKey);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errors: ['Forbidden'] });
    expect(validateDatadogResponse('Validate', 403, res.body)).toEqual([]);
  });

  it('follows setKeys: the new API key passes, the old one is refused', async () => {
    const rotated = { apiKey: 'abcd0000000000000000000000000003', appKey: 'abcd000000000000000000000000000000000004' };
    sim.setKeys(rotated);
    try {
      expect((await noAppKey(DEFAULT_DEMO_KEYS.apiKey)).status).toBe(403);
      expect((await noAppKey(rotated.apiKey)).status).toBe(200);
    } finally {
      sim.setKeys(DEFAULT_DEMO_KEYS);
    }
  });

  it('takes faults aimed at it, like any endpoint', async () => {
    sim.faults.add({ kind: 'status', status: 503, endpoint: 'validate' });
    try {
      expect((await noAppKey(DEFAULT_DEMO_KEYS.apiKey)).status).toBe(503);
      expect((await noAppKey(DEFAULT_DEMO_KEYS.apiKey)).status).toBe(200);
    } finally {
      sim.faults.clear();
    }
  });
});

describe('unknown paths', () => {
  it('are a 404 in the APIErrorResponse shape, counted as "other"', async () => {
    const before = sim.callCount('other');
    const res = await callDatadog(sim.url, '/api/v2/logs/events/searchx', { body: {} });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: ['Not found'] });
    expect(sim.callCount('other')).toBe(before + 1);
  });
});
