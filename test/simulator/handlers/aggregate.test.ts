import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type LogEvent, type SpanEvent } from '@tinkr/datadog-simulator';
import { callDatadog } from '../../helpers/datadog-fetch.ts';
import { validateDatadogResponse } from '../../helpers/datadog-openapi.ts';
import { TEST_NOW as NOW } from '../../helpers/manual-clock.ts';
import { sharedTestSimulator } from '../../helpers/simulator.ts';

/**
 * The simulator's analytics endpoints against a naive recount of the ground truth's events:
 * the numbers here are computed in the test from `truth.logs()` / `truth.spans()`, not taken
 * from the engine the endpoints use.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const LOGS = '/api/v2/logs/analytics/aggregate';
const SPANS = '/api/v2/spans/analytics/aggregate';
const iso = (ms: number) => new Date(ms).toISOString();

const { clock, sim } = sharedTestSimulator();
afterEach(() => {
  sim.faults.clear();
  sim.bursts.clear();
  sim.rateLimit.reset();
});

const logs = (body: unknown) => callDatadog(sim.url, LOGS, { body });
const spans = (attributes: unknown) => callDatadog(sim.url, SPANS, { body: { data: { type: 'aggregate_request', attributes } } });

function countBy<T>(events: readonly T[], key: (e: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) out.set(key(e), (out.get(key(e)) ?? 0) + 1);
  return out;
}

/** Top `limit` entries by count, largest first, ties alphabetical. */
function top(counts: Map<string, number>, limit: number): Array<[string, number]> {
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit);
}

function nearestRank(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

const durationNs = (s: SpanEvent) => s.attributes.custom['duration'] as number;

describe('POST /api/v2/logs/analytics/aggregate', () => {
  it('counts every matching log, in the LogsAggregateResponse shape, on its own rate limit', async () => {
    const filter = { query: 'service:payments-api', from: iso(NOW - HOUR), to: iso(NOW) };
    const res = await logs({ filter, compute: [{ aggregation: 'count', type: 'total' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(validateDatadogResponse('AggregateLogs', 200, res.body)).toEqual([]);
    expect(res.headers.get('x-ratelimit-name')).toBe('logs_aggregate');
    expect(res.body.meta).toMatchObject({ status: 'done', request_id: expect.any(String), elapsed: expect.any(Number) });
    const expected = sim.truth.logs({ query: filter.query, from: NOW - HOUR, to: NOW }).length;
    expect(expected).toBeGreaterThan(500);
    expect(res.body.data.buckets).toEqual([{ by: {}, computes: { c0: expected } }]);
  });

  it('a timeseries has epoch-aligned buckets, only those holding logs, and sums to the total', async () => {
    // Emergencies of one service are rare: most minutes hold none.
    const query = 'service:checkout status:emerg';
    const from = NOW - HOUR + 20_000;
    const res = await logs({
      filter: { query, from: iso(from), to: iso(NOW) },
      compute: [{ aggregation: 'count', type: 'total' }, { aggregation: 'count', type: 'timeseries', interval: '1m' }],
    });
    expect(res.status).toBe(200);
    expect(validateDatadogResponse('AggregateLogs', 200, res.body)).toEqual([]);
    const events = sim.truth.logs({ query, from, to: NOW });
    const perMinute = countBy(events, (e) => iso(Math.floor(Date.parse(e.attributes.timestamp) / MINUTE) * MINUTE));
    const [bucket] = res.body.data.buckets;
    expect(bucket.computes.c0).toBe(events.length);
    expect(bucket.computes.c1).toEqual([...perMinute.entries()].sort().map(([time, value]) => ({ time, value })));
    expect(bucket.computes.c1.length).toBeLessThan(60);
    expect(bucket.computes.c1.length).toBeGreaterThan(0);
  });

  it('groups by one facet: the top `limit` values by count, largest first', async () => {
    const filter = { query: 'service:ledger', from: iso(NOW - HOUR), to: iso(NOW) };
    const sort = { type: 'measure', aggregation: 'count', order: 'desc' };
    const res = await logs({ filter, compute: [{ aggregation: 'count' }], group_by: [{ facet: 'status', limit: 4, sort }] });
    expect(res.status).toBe(200);
    const expected = top(countBy(sim.truth.logs({ query: filter.query, from: NOW - HOUR, to: NOW }), (e) => e.attributes.status), 4);
    expect(res.body.data.buckets).toEqual(expected.map(([status, n]) => ({ by: { status }, computes: { c0: n } })));
  });

  it('nests top lists over several facets, and sorts alphabetically when asked', async () => {
    const filter = { query: '*', from: iso(NOW - HOUR), to: iso(NOW) };
    const sort = { type: 'measure', aggregation: 'count', order: 'desc' };
    const res = await logs({
      filter,
      compute: [{ aggregation: 'count' }],
      group_by: [
        { facet: 'service', limit: 2, sort },
        { facet: 'env', limit: 1, sort },
      ],
    });
    const events = sim.truth.logs({ from: NOW - HOUR, to: NOW });
    const tag = (e: LogEvent, key: string) => e.attributes.tags.find((t) => t.startsWith(`${key}:`))!.slice(key.length + 1);
    const expected = top(countBy(events, (e) => e.attributes.service), 2).flatMap(([service]) => {
      const [[env, n]] = top(countBy(events.filter((e) => e.attributes.service === service), (e) => tag(e, 'env')), 1) as [[string, number]];
      return [{ by: { service, env }, computes: { c0: n } }];
    });
    expect(res.body.data.buckets).toEqual(expected);

    const alpha = await logs({ filter, compute: [{ aggregation: 'count' }], group_by: [{ facet: 'service', sort: { type: 'alphabetical', order: 'desc' } }] });
    const names = alpha.body.data.buckets.map((b: { by: { service: string } }) => b.by.service);
    expect(names).toEqual([...new Set(events.map((e) => e.attributes.service))].sort().reverse());
  });

  it('leaves out logs without the facet unless `missing` names a group for them', async () => {
    const filter = { query: 'service:checkout', from: iso(NOW - HOUR), to: iso(NOW) };
    const events = sim.truth.logs({ query: filter.query, from: NOW - HOUR, to: NOW });
    const withCode = events.filter((e) => (e.attributes.attributes['http'] as { status_code?: number } | undefined)?.status_code !== undefined);
    const without = await logs({ filter, group_by: [{ facet: '@http.status_code', limit: 100 }] });
    const sum = (buckets: Array<{ computes: { c0: number } }>) => buckets.reduce((n, b) => n + b.computes.c0, 0);
    expect(sum(without.body.data.buckets)).toBe(withCode.length);
    // Numeric attributes group under numbers.
    expect(without.body.data.buckets.every((b: { by: Record<string, unknown> }) => typeof b.by['@http.status_code'] === 'number')).toBe(true);
    const withMissing = await logs({ filter, group_by: [{ facet: '@http.status_code', limit: 100, missing: 'none' }] });
    expect(sum(withMissing.body.data.buckets)).toBe(events.length);
    expect(withMissing.body.data.buckets).toContainEqual({ by: { '@http.status_code': 'none' }, computes: { c0: events.length - withCode.length } });
  });

  it('answers no bucket at all when nothing matches', async () => {
    const res = await logs({ filter: { query: 'service:nobody', from: 'now-1h', to: 'now' }, compute: [{ aggregation: 'count', type: 'timeseries', interval: '5m' }] });
    expect(res.status).toBe(200);
    expect(res.body.data.buckets).toEqual([]);
  });

  it('asked again, the same panel gives the same answer; a burst armed since is counted', async () => {
    const body = { filter: { query: 'service:checkout', from: iso(NOW - HOUR), to: iso(NOW) }, group_by: [{ facet: 'status', limit: 20 }] };
    const first = await logs(body);
    expect((await logs(body)).body.data).toEqual(first.body.data);
    sim.bursts.add({ service: 'checkout', fromMs: NOW - 2 * MINUTE, toMs: NOW, everyMs: 4_000 });
    const after = await logs(body);
    const count = (res: { body: { data: { buckets: Array<{ by: { status: string }; computes: { c0: number } }> } } }) =>
      res.body.data.buckets.find((b) => b.by.status === 'error')!.computes.c0;
    expect(count(after)).toBe(count(first) + 30);
  });

  it('sees injected error bursts, as the searches and the truth do', async () => {
    const window = { fromMs: NOW - 10 * MINUTE, toMs: NOW - 5 * MINUTE };
    const query = 'service:payments-api status:error';
    const before = sim.truth.logs({ query, from: NOW - HOUR, to: NOW }).length;
    sim.bursts.add({ service: 'payments-api', ...window, everyMs: 2_000 });
    const after = sim.truth.logs({ query, from: NOW - HOUR, to: NOW });
    expect(after.length).toBe(before + 150);
    const res = await logs({ filter: { query, from: iso(NOW - HOUR), to: iso(NOW) } });
    expect(res.body.data.buckets[0].computes.c0).toBe(after.length);
    const search = await callDatadog(sim.url, '/api/v2/logs/events/search', {
      body: { filter: { query: `${query} "card_declined"`, from: iso(window.fromMs), to: iso(window.toMs) }, page: { limit: 1000 } },
    });
    expect(search.body.data).toHaveLength(75);
  });
});

describe('POST /api/v2/spans/analytics/aggregate', () => {
  const from = NOW - HOUR;
  const window = { from: iso(from), to: iso(NOW) };

  it('answers buckets of type "bucket" as application/vnd.api+json, `compute` and `computes` alike', async () => {
    const res = await spans({ filter: { query: 'service:checkout', ...window }, compute: [{ aggregation: 'count' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(res.headers.get('x-ratelimit-name')).toBe('spans_aggregate');
    expect(validateDatadogResponse('AggregateSpans', 200, res.body)).toEqual([]);
    const [bucket] = res.body.data;
    expect(bucket).toMatchObject({ type: 'bucket', id: expect.any(String), attributes: { by: {} } });
    expect(bucket.attributes.compute).toEqual(bucket.attributes.computes);
    expect(bucket.attributes.computes.c0).toBe(sim.truth.spans({ query: 'service:checkout', from, to: NOW }).length);
  });

  it('computes every measure of @duration exactly (nearest-rank percentiles)', async () => {
    const query = 'service:payments-api';
    const durations = sim.truth.spans({ query, from, to: NOW }).map(durationNs);
    const expected: Record<string, number> = {
      sum: durations.reduce((a, b) => a + b, 0),
      min: Math.min(...durations),
      max: Math.max(...durations),
      avg: durations.reduce((a, b) => a + b, 0) / durations.length,
      median: nearestRank(durations, 50),
      pc75: nearestRank(durations, 75),
      pc90: nearestRank(durations, 90),
      pc95: nearestRank(durations, 95),
      pc98: nearestRank(durations, 98),
      pc99: nearestRank(durations, 99),
    };
    const names = Object.keys(expected);
    const res = await spans({ filter: { query, ...window }, compute: names.map((aggregation) => ({ aggregation, metric: '@duration' })) });
    const computes = res.body.data[0].attributes.computes;
    names.forEach((name, i) => expect(computes[`c${i}`], name).toBeCloseTo(expected[name]!, 6));
    expect(new Set(names.map((_, i) => computes[`c${i}`])).size).toBeGreaterThan(5);
  });

  it('counts distinct values with cardinality, and groups by a measure, largest first', async () => {
    const events = sim.truth.spans({ from, to: NOW });
    const res = await spans({
      filter: { query: '*', ...window },
      compute: [{ aggregation: 'cardinality', metric: 'resource_name' }, { aggregation: 'pc95', metric: '@duration' }],
      group_by: [{ facet: 'service', limit: 2, sort: { type: 'measure', aggregation: 'pc95', metric: '@duration', order: 'desc' } }],
    });
    const byService = new Map<string, SpanEvent[]>();
    for (const e of events) byService.set(e.attributes.service, [...(byService.get(e.attributes.service) ?? []), e]);
    const ranked = [...byService.entries()]
      .map(([service, list]) => ({ service, p95: nearestRank(list.map(durationNs), 95), resources: new Set(list.map((s) => s.attributes.resource_name)).size }))
      .sort((a, b) => b.p95 - a.p95 || (a.service < b.service ? -1 : 1))
      .slice(0, 2);
    expect(res.body.data.map((b: { attributes: unknown }) => b.attributes)).toEqual(
      ranked.map((r) => ({ by: { service: r.service }, compute: { c0: r.resources, c1: r.p95 }, computes: { c0: r.resources, c1: r.p95 } })),
    );
  });

  it('leaves a measure without values out of `computes` and its empty buckets out of a timeseries', async () => {
    const res = await spans({
      filter: { query: 'service:checkout', ...window },
      compute: [{ aggregation: 'avg', metric: '@no.such.field' }, { aggregation: 'max', metric: '@duration', type: 'timeseries', interval: '10m' }],
    });
    const { computes } = res.body.data[0].attributes;
    expect(computes.c0).toBeUndefined();
    expect(computes.c1.map((p: { time: string }) => p.time)).toEqual([0, 1, 2, 3, 4, 5].map((k) => iso(from + k * 10 * MINUTE)));
  });
});

describe('request checks and failures', () => {
  it.each([
    [{ compute: [{ aggregation: 'avg' }] }, /compute\[0\]\.metric is required for aggregation avg/],
    [{ compute: [{ aggregation: 'count', type: 'timeseries', interval: 'soon' }] }, /interval "soon" is not a duration/],
    [{ compute: [{ aggregation: 'count', type: 'timeseries', interval: '1s' }] }, /too fine: 3600 buckets over this range; at most 1500/],
    [{ group_by: [{ facet: 'host', limit: 200 }, { facet: 'service', limit: 100 }] }, /product of the limits must not exceed 10000/],
    [{ group_by: [{ facet: 'host', histogram: { interval: 10, min: 0, max: 100 } }] }, /histogram is not supported/],
    [{ filter: { query: 'service:(a OR', from: 'now-1h' } }, /^Invalid query: /],
    [{ filter: { from: 'now', to: 'now-1h' } }, /'from' should be anterior to 'to'/],
  ])('%j is a 400 with Datadog\'s plain error shape', async (body, message) => {
    const res = await logs({ filter: { from: 'now-1h', to: 'now' }, ...body });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.stringMatching(message)]);
    const span = await spans({ filter: { from: 'now-1h', to: 'now' }, ...body });
    expect(span.status).toBe(400);
    expect(span.body.errors).toEqual([expect.stringMatching(message)]);
  });

  it('the simulator checks what the spec cannot say, and what it can (without the spec validator)', async () => {
    const plain = await startSimulator({ clock });
    try {
      const res = await callDatadog(plain.url, LOGS, { body: { compute: [{ aggregation: 'p95', metric: '@duration' }] } });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.stringMatching(/compute\[0\]\.aggregation must be one of count, cardinality/)]);
      const noBody = await callDatadog(plain.url, SPANS, { method: 'POST' });
      expect(noBody.status).toBe(400);
      expect(noBody.body.errors).toEqual(['Missing request body']);
    } finally {
      await plain.close();
    }
  });

  it('an injected status fault and a timeout fault apply to the aggregates', async () => {
    sim.faults.add({ kind: 'status', status: 503, endpoint: 'spans_aggregate' });
    expect((await spans({ filter: { from: 'now-1h' } })).status).toBe(503);
    const full = await logs({ filter: { from: iso(NOW - HOUR), to: iso(NOW) } });
    sim.faults.add({ kind: 'timeout', endpoint: 'logs_aggregate' });
    const cut = await logs({ filter: { from: iso(NOW - HOUR), to: iso(NOW) } });
    expect(cut.body.meta.status).toBe('timeout');
    expect(cut.body.data.buckets[0].computes.c0).toBe(sim.truth.logs({ from: NOW - HOUR, to: NOW - HOUR / 2 }).length);
    expect(cut.body.data.buckets[0].computes.c0).toBeLessThan(full.body.data.buckets[0].computes.c0);
  });

  it('each aggregate has a budget of its own, apart from the searches', async () => {
    sim.rateLimit.exhaust('logs');
    expect((await logs({})).status).toBe(200);
    sim.rateLimit.exhaust('logs_aggregate');
    const refused = await logs({});
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ratelimit-name')).toBe('logs_aggregate');
    expect((await spans({})).status).toBe(200);
    expect(sim.rateLimit.remaining('spans')).toBe(sim.rateLimit.get('spans').limit);
  });
});
