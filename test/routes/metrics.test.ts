import { describe, expect, it } from 'vitest';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/** GET /metrics against the simulator; expected series come from its ground truth. */
const { stack } = sharedStack();

async function getMetrics(path: string): Promise<{ status: number; body: any }> {
  const res = await stack.app.get(path);
  return { status: res.status, body: await res.json() };
}

/** What a faithful normalization of the simulator's own answer looks like. */
function expectedSeries(query: string, fromS: number, toS: number) {
  return stack.sim.truth.metrics(query, fromS, toS).series!.map((s) => ({
    metric: s.metric,
    expression: s.expression,
    scope: s.scope,
    // Every tag of the scope, filters and groups alike; a negated filter is no tag of the series.
    tags: s.scope === '*' ? [] : s.scope.split(',').filter((t) => !t.startsWith('!')),
    unit: s.unit[0]?.name ?? null,
    interval_s: s.interval,
    points: s.pointlist,
  }));
}

describe('GET /metrics', () => {
  it('builds a v1 query from metric, service, aggregation and group_by; sends epoch seconds', async () => {
    const { status, body } = await getMetrics('/metrics?metric=trace.web.request.hits&service=payments-api&aggregation=sum&group_by=host&since=1h');
    expect(status).toBe(200);
    const query = 'sum:trace.web.request.hits{service:payments-api} by {host}';
    expect(body.meta).toEqual({ from: '2026-11-25T03:00:00.000Z', to: '2026-11-25T04:00:00.000Z', query, partial: false, warnings: [], bucket_s: 30 });
    const sent = stack.sim.requests.at(-1)!;
    expect(sent.query).toEqual({ from: String((NOW - 3_600_000) / 1000), to: String(NOW / 1000), query });
    const expected = expectedSeries(query, (NOW - 3_600_000) / 1000, NOW / 1000);
    expect(expected.length).toBeGreaterThan(1);
    expect(body.series).toEqual(expected);
    for (const series of body.series) {
      const times = series.points.map((p: [number, number | null]) => p[0]);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(times[0]).toBeGreaterThan(1e12);
    }
  });

  it('lists every tag of the scope in tags, the filters and the groups alike', async () => {
    const query = 'avg:trace.web.request.hits{env:prod,!host:nope} by {service}';
    const { status, body } = await getMetrics(`/metrics?query=${encodeURIComponent(query)}&since=1h`);
    expect(status).toBe(200);
    const truth = stack.sim.truth.metrics(query, (NOW - 3_600_000) / 1000, NOW / 1000).series!;
    expect(truth.length).toBe(3);
    expect(body.series.map((s: { tags: string[] }) => s.tags)).toEqual(truth.map((s) => ['env:prod', ...s.tag_set]));
    expect(body.series).toEqual(expectedSeries(query, (NOW - 3_600_000) / 1000, NOW / 1000));
  });

  it.each(['aws.ecs.cpuutilization', 'aws.ecs.memory_utilization', 'system.mem.used'])('serves %s from the simulator, grouped', async (metric) => {
    const groupBy = metric.startsWith('aws.ecs') ? 'task_family' : 'host';
    const { status, body } = await getMetrics(`/metrics?metric=${metric}&service=checkout&group_by=${groupBy}&since=1h`);
    expect(status).toBe(200);
    const query = `avg:${metric}{service:checkout} by {${groupBy}}`;
    expect(body.meta.query).toBe(query);
    const expected = expectedSeries(query, (NOW - 3_600_000) / 1000, NOW / 1000);
    expect(expected.length).toBeGreaterThan(1);
    expect(body.series).toEqual(expected);
    expect(body.series[0].tags).toContain('service:checkout');
    expect(body.series[0].points.filter((p: [number, number | null]) => p[1] !== null).length).toBeGreaterThan(100);
  });

  it('keeps null points as null', async () => {
    const { body } = await getMetrics('/metrics?metric=system.cpu.user&service=ledger&since=24h');
    const values = body.series.flatMap((s: { points: Array<[number, number | null]> }) => s.points.map((p) => p[1]));
    expect(values).toContain(null);
    expect(values.some((v: number | null) => typeof v === 'number')).toBe(true);
  });

  it('sends a raw query exactly as given and reports it in meta.query', async () => {
    const query = 'avg:trace.web.request.duration{service:checkout,env:prod}.as_count()';
    const { status, body } = await getMetrics(`/metrics?query=${encodeURIComponent(query)}&from=${NOW - 900_000}&to=${NOW}`);
    expect(status).toBe(200);
    expect(body.meta.query).toBe(query);
    expect(stack.sim.requests.at(-1)!.query.query).toBe(query);
    expect(body.series).toEqual(expectedSeries(query, (NOW - 900_000) / 1000, NOW / 1000));
  });

  it("passes Datadog's parse error on as UPSTREAM_BAD_QUERY", async () => {
    const { status, body } = await getMetrics(`/metrics?query=${encodeURIComponent('avg:trace.web.request.hits{service:checkout')}`);
    expect(status).toBe(400);
    expect(body.code).toBe('UPSTREAM_BAD_QUERY');
    expect(body.detail).toMatch(/Datadog rejected the metrics query: .*pars/i);
  });

  it('answers an unknown metric with no series', async () => {
    const { status, body } = await getMetrics('/metrics?metric=no.such.metric');
    expect(status).toBe(200);
    expect(body.series).toEqual([]);
  });
});
