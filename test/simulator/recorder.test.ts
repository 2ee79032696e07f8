import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RECORDED_REQUESTS, MAX_RECORDED_VIOLATIONS, Recorder, type RecordedRequest } from '@tinkr/datadog-simulator/recorder';
import { startSimulator, type Simulator } from '@tinkr/datadog-simulator';
import { ManualClock } from '../helpers/manual-clock.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');

describe('recorded requests', () => {
  let sim: Simulator;
  const seen: RecordedRequest[] = [];
  beforeAll(async () => {
    sim = await startSimulator({
      clock: new ManualClock(NOW),
      validateRequest: (r) => {
        seen.push(r);
        return r.query['fail'] ? ['told to fail'] : [];
      },
    });
  });
  afterAll(() => sim.close());

  it('keep a flat query, lower-cased headers and the parsed body', async () => {
    await fetch(`${sim.url}/api/v2/spans/events?filter%5Bquery%5D=service%3Aledger&page%5Blimit%5D=5&page%5Blimit%5D=6`, {
      headers: { 'DD-API-KEY': 'a', 'X-Multi': 'one' },
    });
    await fetch(`${sim.url}/api/v2/logs/events/search`, { method: 'POST', body: '{"filter":{"query":"*"}}', headers: { 'content-type': 'application/json' } });
    await fetch(`${sim.url}/api/v2/logs/events/search`, { method: 'POST', body: 'not json' });
    const [get, post, raw] = sim.requests;
    expect(get).toMatchObject({
      endpoint: 'spans',
      method: 'GET',
      path: '/api/v2/spans/events',
      query: { 'filter[query]': 'service:ledger', 'page[limit]': '6' },
      headers: { 'dd-api-key': 'a', 'x-multi': 'one' },
      body: undefined,
      at: NOW,
      violations: [],
    });
    expect(post).toMatchObject({ endpoint: 'logs', body: { filter: { query: '*' } } });
    expect(raw!.body).toBe('not json');
    expect(seen).toHaveLength(3);
  });

  it('keep what the validator objected to and answer 400', async () => {
    const res = await fetch(`${sim.url}/api/v1/query?fail=1`, { headers: { 'DD-API-KEY': sim.keys.apiKey, 'DD-APPLICATION-KEY': sim.keys.appKey } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ errors: ['told to fail'] });
    expect(sim.invalidCount).toBe(1);
    expect(sim.invalidRequests[0]).toMatchObject({ endpoint: 'metrics', violations: ['told to fail'] });
    sim.resetRequests();
    expect([sim.requests.length, sim.invalidCount, sim.callCount()]).toEqual([0, 0, 0]);
  });
});

describe('Recorder bounds', () => {
  it('keeps the latest requests and violations but counts them all', () => {
    const recorder = new Recorder();
    const base = { method: 'GET', path: '/', query: {}, headers: {}, body: undefined, at: 0 } as const;
    const total = MAX_RECORDED_REQUESTS + 5;
    for (let i = 0; i < total; i++) {
      recorder.record({ ...base, endpoint: 'metrics', at: i, violations: i % 2 === 0 ? ['bad'] : [] });
    }
    expect(recorder.requests).toHaveLength(MAX_RECORDED_REQUESTS);
    expect(recorder.requests[0]!.at).toBe(5);
    expect(recorder.count('metrics')).toBe(total);
    expect(recorder.invalid).toHaveLength(MAX_RECORDED_VIOLATIONS);
    expect(recorder.invalidCount).toBe(Math.ceil(total / 2));
  });
});
