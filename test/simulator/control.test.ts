import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS, startSimulator, type Simulator } from '@tinkr/datadog-simulator';
import { callDatadog } from '../helpers/datadog-fetch.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const LOGS = '/api/v2/logs/events/search';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ clock: new ManualClock(NOW) });
});
afterAll(() => sim.close());

/** A control call, as the demo or docker compose would make it: plain HTTP, no keys. */
async function control(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(sim.url + path, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('/_sim control endpoints', () => {
  it('report health', async () => {
    expect(await control('GET', '/_sim/health')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('count calls per endpoint and forget them on request; control calls are not recorded', async () => {
    expect((await control('DELETE', '/_sim/requests')).status).toBe(204);
    await callDatadog(sim.url, LOGS, { body: {} });
    await callDatadog(sim.url, LOGS, { body: { filter: { query: 'service:ledger' } } });
    await callDatadog(sim.url, `/api/v1/query?from=${NOW / 1000 - 60}&to=${NOW / 1000}&query=avg:system.cpu.user{*}`);
    const stats = await control('GET', '/_sim/stats');
    expect(stats.body).toEqual({
      calls: { logs: 2, spans: 0, metrics: 1, logs_aggregate: 0, spans_aggregate: 0, validate: 0, other: 0, total: 3 },
      recorded: 3,
      invalid: 0,
      pending_faults: 0,
    });
    const listing = await control('GET', '/_sim/requests?limit=2');
    expect(listing.body.requests.map((r: { endpoint: string }) => r.endpoint)).toEqual(['logs', 'metrics']);
    expect(listing.body.requests[0]).toMatchObject({
      method: 'POST',
      path: LOGS,
      body: { filter: { query: 'service:ledger' } },
      headers: { 'dd-api-key': '<redacted>', 'dd-application-key': '<redacted>', 'content-type': 'application/json' },
      at: NOW,
    });
    expect(listing.body.requests[1].query).toMatchObject({ query: 'avg:system.cpu.user{*}' });
    expect(JSON.stringify(listing.body)).not.toContain(DEFAULT_DEMO_KEYS.apiKey);
    expect(sim.callCount()).toBe(3);
  });

  it('arm, list and disarm faults', async () => {
    const armed = await control('POST', '/_sim/faults', [
      { kind: 'status', status: 503, endpoint: 'logs' },
      { kind: 'latency', delayMs: 10, endpoint: 'spans', times: 'always' },
    ]);
    expect(armed).toEqual({ status: 201, body: { pending: 2 } });
    expect((await control('GET', '/_sim/faults')).body.faults).toHaveLength(2);
    expect((await callDatadog(sim.url, LOGS, { body: {} })).status).toBe(503);
    expect((await control('GET', '/_sim/faults')).body.faults).toEqual([{ kind: 'latency', delayMs: 10, endpoint: 'spans', times: 'always' }]);
    expect((await control('DELETE', '/_sim/faults')).status).toBe(204);
    expect(sim.faults.pending()).toEqual([]);
  });

  it('refuse an invalid fault with a 400 naming the problem', async () => {
    const res = await control('POST', '/_sim/faults', { kind: 'status', status: 'soon' });
    expect(res).toEqual({ status: 400, body: { errors: ['fault.status must be an HTTP status code'] } });
    expect(sim.faults.pending()).toEqual([]);
  });

  it('arm, list and disarm error bursts; the data shows them at once', async () => {
    const query = 'service:ledger status:critical';
    const before = sim.truth.logs({ query, from: NOW - 60_000, to: NOW }).length;
    const burst = { service: 'ledger', fromMs: NOW - 60_000, toMs: NOW, everyMs: 6_000, status: 'critical' };
    expect(await control('POST', '/_sim/bursts', burst)).toEqual({ status: 201, body: { armed: 1 } });
    expect((await control('GET', '/_sim/bursts')).body.bursts).toEqual([{ ...burst, env: 'prod' }]);
    expect(sim.truth.logs({ query, from: NOW - 60_000, to: NOW })).toHaveLength(before + 10);
    expect((await control('POST', '/_sim/bursts', { ...burst, everyMs: 1 })).status).toBe(400);
    expect((await control('DELETE', '/_sim/bursts')).status).toBe(204);
    expect(sim.truth.logs({ query, from: NOW - 60_000, to: NOW })).toHaveLength(before);
  });

  it('arm, list and disarm latency bursts; the spans show them at once', async () => {
    const query = 'service:ledger env:prod';
    const durations = () => sim.truth.spans({ query, from: NOW - 60_000, to: NOW }).map((s) => s.attributes.custom['duration'] as number);
    const before = durations();
    const burst = { service: 'ledger', fromMs: NOW - 60_000, toMs: NOW, addMs: 250 };
    expect(await control('POST', '/_sim/latency-bursts', [burst, { ...burst, factor: 2, addMs: 0 }])).toEqual({ status: 201, body: { armed: 2 } });
    expect((await control('GET', '/_sim/latency-bursts')).body.bursts).toEqual([
      { ...burst, factor: 1, env: 'prod' },
      { ...burst, factor: 2, addMs: 0, env: 'prod' },
    ]);
    expect(before.length).toBeGreaterThan(0);
    expect(durations()).toEqual(before.map((ns) => ns * 2 + 500_000_000));
    expect(await control('POST', '/_sim/latency-bursts', { ...burst, factor: 0 })).toEqual({ status: 400, body: { errors: [expect.stringMatching(/factor/)] } });
    expect((await control('GET', '/_sim/latency-bursts')).body.bursts).toHaveLength(2);
    expect((await control('DELETE', '/_sim/latency-bursts')).status).toBe(204);
    expect(durations()).toEqual(before);
  });

  it('rotate keys', async () => {
    const rotated = { apiKey: 'bbbb0000000000000000000000000001', appKey: 'bbbb000000000000000000000000000000000002' };
    expect((await control('POST', '/_sim/keys', rotated)).status).toBe(204);
    try {
      expect((await callDatadog(sim.url, LOGS, { body: {} })).status).toBe(403);
      expect((await callDatadog(sim.url, LOGS, { body: {}, keys: rotated })).status).toBe(200);
    } finally {
      sim.setKeys(DEFAULT_DEMO_KEYS);
    }
    expect((await control('POST', '/_sim/keys', { apiKey: 'x' })).status).toBe(400);
  });

  it('set, exhaust and reset rate limits', async () => {
    expect((await control('PUT', '/_sim/rate-limits', { logs: { limit: 5, periodS: 60 } })).status).toBe(204);
    expect((await control('GET', '/_sim/rate-limits')).body.logs).toEqual({ limit: 5, periodS: 60, name: 'logs_list' });
    expect((await control('POST', '/_sim/rate-limits/exhaust', { endpoint: 'logs' })).status).toBe(204);
    const limited = await callDatadog(sim.url, LOGS, { body: {} });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('5');
    expect((await control('DELETE', '/_sim/rate-limits')).status).toBe(204);
    expect((await callDatadog(sim.url, LOGS, { body: {} })).status).toBe(200);
    expect((await control('PUT', '/_sim/rate-limits', { events: { limit: 1, periodS: 1 } })).status).toBe(400);
    expect((await control('PUT', '/_sim/rate-limits', { logs: { limit: -1, periodS: 60 } })).status).toBe(400);
  });

  it('hand out ids of real traces', async () => {
    const res = await control('GET', `/_sim/sample-trace?at=${NOW - 3_600_000}&template=checkout&error=true&hex128=false`);
    expect(res.status).toBe(200);
    expect(res.body.trace_id).toMatch(/^\d+$/);
    const spans = sim.truth.trace(res.body.trace_id);
    expect(spans.length).toBe(6);
    expect(spans.some((s) => s.attributes.attributes['status'] === 'error')).toBe(true);
    expect((await control('GET', '/_sim/sample-trace?template=nope')).status).toBe(400);
  });

  it('answer unknown control paths and non-JSON bodies with a 4xx', async () => {
    expect((await control('GET', '/_sim/nothing')).status).toBe(404);
    const res = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: '{' });
    expect(res.status).toBe(400);
  });
});
