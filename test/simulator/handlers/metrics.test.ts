import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type MetricSeries, type Simulator } from '@tinkr/datadog-simulator';
import { callDatadog } from '../../helpers/datadog-fetch.ts';
import { validateDatadogResponse } from '../../helpers/datadog-openapi.ts';
import { TEST_NOW as NOW } from '../../helpers/manual-clock.ts';
import { sharedTestSimulator } from '../../helpers/simulator.ts';

const NOW_S = NOW / 1000;

const { clock, sim } = sharedTestSimulator();

async function query(q: string, fromS: number, toS: number) {
  return callDatadog(sim.url, `/api/v1/query?${new URLSearchParams({ from: String(fromS), to: String(toS), query: q })}`);
}

describe('GET /api/v1/query', () => {
  it('answers in the MetricsQueryResponse shape with ms points in ascending order', async () => {
    const q = 'avg:trace.web.request.duration{service:payments-api,env:prod}';
    const res = await query(q, NOW_S - 3_600, NOW_S);
    expect(res.status).toBe(200);
    expect(validateDatadogResponse('QueryMetrics', 200, res.body)).toEqual([]);
    expect(res.body).toMatchObject({ status: 'ok', res_type: 'time_series', query: q, from_date: (NOW_S - 3_600) * 1000, to_date: NOW, group_by: [], message: '' });
    const [series] = res.body.series as MetricSeries[];
    expect(series).toMatchObject({
      metric: 'trace.web.request.duration',
      display_name: 'trace.web.request.duration',
      expression: 'avg:trace.web.request.duration{service:payments-api,env:prod}',
      scope: 'service:payments-api,env:prod',
      tag_set: [],
      aggr: 'avg',
      interval: 20,
      query_index: 0,
      unit: [{ family: 'time', name: 'second', plural: 'seconds', short_name: 's', scale_factor: 1 }, null],
    });
    const times = series!.pointlist.map(([t]) => t);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times.every((t) => t % 20_000 === 0 && t >= (NOW_S - 3_600) * 1000 && t <= NOW)).toBe(true);
    expect(series!.length).toBe(series!.pointlist.length);
    expect(series!.length).toBe(181);
    expect(series!.start).toBe(times[0]);
    expect(series!.pointlist.every(([, v]) => v === null || (v > 0 && v < 1))).toBe(true);
  });

  it('groups by tags, one series per group, and the groups add up to the whole', async () => {
    const from = NOW_S - 4 * 3_600;
    const whole = (await query('sum:trace.web.request.hits{env:prod}.as_count()', from, NOW_S)).body;
    const grouped = (await query('sum:trace.web.request.hits{env:prod} by {service}.as_count()', from, NOW_S)).body;
    expect(validateDatadogResponse('QueryMetrics', 200, grouped)).toEqual([]);
    expect(grouped.group_by).toEqual(['service']);
    const series = grouped.series as MetricSeries[];
    expect(series.map((s) => s.tag_set)).toEqual([['service:checkout'], ['service:ledger'], ['service:payments-api']]);
    expect(series.map((s) => s.scope)).toEqual(['env:prod,service:checkout', 'env:prod,service:ledger', 'env:prod,service:payments-api']);
    expect(series[0]!.expression).toBe('sum:trace.web.request.hits{env:prod,service:checkout}.as_count()');
    expect(series.every((s) => s.interval === 60)).toBe(true);
    const total = whole.series[0] as MetricSeries;
    total.pointlist.forEach(([t, v], i) => {
      const parts = series.map((s) => s.pointlist[i]!);
      expect(parts.every(([pt]) => pt === t)).toBe(true);
      if (v === null) expect(parts.every(([, pv]) => pv === null)).toBe(true);
      else expect(parts.reduce((sum, [, pv]) => sum + (pv ?? 0), 0)).toBeCloseTo(v, 6);
    });
  });

  it('filters scope with negation and wildcards', async () => {
    const all = (await query('avg:system.cpu.user{service:checkout} by {host}', NOW_S - 900, NOW_S)).body.series as MetricSeries[];
    expect(all.map((s) => s.tag_set[0])).toEqual(['host:ip-10-0-1-12', 'host:ip-10-0-1-13', 'host:ip-10-1-1-12']);
    const notOne = (await query('avg:system.cpu.user{service:checkout,!host:ip-10-0-1-12} by {host}', NOW_S - 900, NOW_S)).body.series as MetricSeries[];
    expect(notOne.map((s) => s.tag_set[0])).toEqual(['host:ip-10-0-1-13', 'host:ip-10-1-1-12']);
    const wildcard = (await query('avg:system.cpu.user{host:ip-10-1-*} by {host}', NOW_S - 900, NOW_S)).body.series as MetricSeries[];
    expect(wildcard.map((s) => s.tag_set[0])).toEqual(['host:ip-10-1-1-12', 'host:ip-10-1-1-7', 'host:ip-10-1-2-21']);
    expect(notOne[0]!.pointlist).toEqual(all[1]!.pointlist);
  });

  it('grows the interval with the range and leaves a few gaps', async () => {
    for (const [range, interval] of [[3_600, 20], [4 * 3_600, 60], [86_400, 300], [7 * 86_400, 3_600], [30 * 86_400, 14_400]] as const) {
      const series = (await query('avg:system.cpu.user{*}', NOW_S - range, NOW_S)).body.series[0] as MetricSeries;
      expect(series.interval).toBe(interval);
      expect(series.pointlist.length).toBe(Math.floor(range / interval) + 1);
    }
    const day = (await query('avg:system.cpu.user{*}', NOW_S - 86_400, NOW_S)).body.series[0] as MetricSeries;
    const gaps = day.pointlist.filter(([, v]) => v === null).length;
    expect(gaps).toBeGreaterThan(0);
    expect(gaps).toBeLessThan(day.pointlist.length / 10);
    const filled = (await query('avg:system.cpu.user{*}.fill(zero)', NOW_S - 86_400, NOW_S)).body.series[0] as MetricSeries;
    expect(filled.pointlist.filter(([, v]) => v === null)).toEqual([]);
  });

  it('answers counts per interval, or per second with .as_rate()', async () => {
    const count = (await query('sum:trace.web.request.hits{service:ledger}.as_count()', NOW_S - 3_600, NOW_S)).body.series[0] as MetricSeries;
    const rate = (await query('sum:trace.web.request.hits{service:ledger}.as_rate()', NOW_S - 3_600, NOW_S)).body.series[0] as MetricSeries;
    expect(count.unit).toEqual([expect.objectContaining({ name: 'request' }), null]);
    expect(rate.unit).toEqual([expect.objectContaining({ name: 'request' }), expect.objectContaining({ name: 'second' })]);
    count.pointlist.forEach(([, v], i) => {
      const r = rate.pointlist[i]![1];
      if (v === null) expect(r).toBeNull();
      else expect(Math.abs(v - r! * 20)).toBeLessThan(20);
    });
  });

  it('answers several queries with their query_index', async () => {
    const res = (await query('avg:system.cpu.user{host:ip-10-0-1-7},sum:trace.web.request.errors{service:ledger}', NOW_S - 600, NOW_S)).body;
    expect(res.series.map((s: MetricSeries) => [s.metric, s.query_index])).toEqual([['system.cpu.user', 0], ['trace.web.request.errors', 1]]);
  });

  it('answers an unknown metric with no series', async () => {
    const res = await query('avg:no.such.metric{*}', NOW_S - 600, NOW_S);
    expect(res.status).toBe(200);
    expect(res.body.series).toEqual([]);
  });

  it('has no points in the future', async () => {
    const series = (await query('avg:system.cpu.user{*}', NOW_S - 1_800, NOW_S + 1_800)).body.series[0] as MetricSeries;
    expect(Math.max(...series.pointlist.map(([t]) => t))).toBeLessThanOrEqual(NOW);
  });

  // Datadog's common metrics, the ones users try first: each answers real series with its unit and tags.
  it.each([
    ['trace.web.request', 'request', ['env', 'host', 'resource_name', 'service', 'version'], [1, 100_000]],
    ['trace.web.request.duration', 'second', ['env', 'host', 'resource_name', 'service', 'version'], [0.001, 1]],
    ['trace.web.request.errors', 'request', ['env', 'host', 'resource_name', 'service', 'version'], [0, 100_000]],
    ['aws.ecs.cpuutilization', 'percent', ['cluster_name', 'env', 'host', 'service', 'task_family'], [0.5, 100]],
    ['aws.ecs.memory_utilization', 'percent', ['cluster_name', 'env', 'host', 'service', 'task_family'], [5, 100]],
    ['system.cpu.user', 'percent', ['env', 'host', 'service'], [0.5, 100]],
    ['system.mem.used', 'byte', ['env', 'host', 'service'], [100 * 1024 ** 2, 8 * 1024 ** 3]],
  ] as const)('serves %s in %s, tagged %j, with values in a realistic range', async (metric, unitName, tagKeys, [low, high]) => {
    const q = `avg:${metric}{env:prod} by {host}`;
    const res = await query(q, NOW_S - 3_600, NOW_S);
    expect(res.status).toBe(200);
    expect(validateDatadogResponse('QueryMetrics', 200, res.body)).toEqual([]);
    expect(res.body).toEqual(sim.truth.metrics(q, NOW_S - 3_600, NOW_S));
    const series = res.body.series as MetricSeries[];
    expect(series.length).toBe(6);
    for (const s of series) {
      expect(s.unit[0]?.name).toBe(unitName);
      const values = s.pointlist.map(([, v]) => v).filter((v): v is number => v !== null);
      expect(values.length).toBeGreaterThan(100);
      expect(Math.min(...values)).toBeGreaterThanOrEqual(low);
      expect(Math.max(...values)).toBeLessThanOrEqual(high);
    }
    // Every series carries the tags the metric is known by: grouping by each works.
    for (const key of tagKeys) {
      const grouped = (await query(`avg:${metric}{env:prod} by {${key}}`, NOW_S - 600, NOW_S)).body.series as MetricSeries[];
      expect(grouped.length, key).toBeGreaterThan(0);
    }
  });

  it('tags ECS series with their cluster and task family', async () => {
    const q = 'avg:aws.ecs.cpuutilization{service:payments-api} by {cluster_name,task_family}';
    const series = (await query(q, NOW_S - 600, NOW_S)).body.series as MetricSeries[];
    expect(series.map((s) => s.tag_set)).toEqual([
      ['cluster_name:prod-main', 'task_family:payments-api-prod'],
      ['cluster_name:staging-main', 'task_family:payments-api-staging'],
    ]);
  });

  it('matches the ground truth', async () => {
    const q = 'max:trace.web.request.duration{env:prod} by {service,resource_name}';
    expect((await query(q, NOW_S - 7_200, NOW_S)).body).toEqual(sim.truth.metrics(q, NOW_S - 7_200, NOW_S));
  });

  it('answers an unparsable query with a 400 "Error parsing query"', async () => {
    const res = await query('avg:system.cpu.user{host:a', NOW_S - 600, NOW_S);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [expect.stringMatching(/^Error parsing query: /)] });
    expect(validateDatadogResponse('QueryMetrics', 400, res.body)).toEqual([]);
  });
});

describe('parameter checks (without the spec validator)', () => {
  let plain: Simulator;
  beforeAll(async () => {
    plain = await startSimulator({ clock });
  });
  afterAll(() => plain.close());

  it.each([
    ['from=1&to=2', /'query'/],
    ['to=2&query=avg:x{*}', /'from'/],
    ['from=1&query=avg:x{*}', /'to'/],
    ['from=1.5&to=2&query=avg:x{*}', /'from' is invalid/],
    ['from=now-1h&to=2&query=avg:x{*}', /'from' is invalid/],
    ['from=5&to=2&query=avg:x{*}', /before/],
  ])('%s → 400', async (qs, message) => {
    const res = await callDatadog(plain.url, `/api/v1/query?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.stringMatching(message)]);
  });
});
