import { describe, expect, it } from 'vitest';
import type { AggregateTruthGroup, AggregateTruthQuery } from '@tinkr/datadog-simulator';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * `GET /logs/aggregate` and `GET /traces/aggregate` against the simulator's ground truth: each
 * panel is stated once as a gateway request and once in the simulator's own terms, and the
 * answers must agree to the last number and bucket.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number) => new Date(ms).toISOString();
const FROM = NOW - HOUR;
const RANGE = `from=${iso(FROM)}&to=${iso(NOW)}`;

const { stack } = sharedStack({ reset: { clock: true } });

interface Item {
  group: Record<string, unknown>;
  tags: string[];
  value: number | null;
  points?: Array<[number, number | null]>;
}

/** What the gateway must show for a truth answer: every bucket, empties filled, largest first. */
function expected(groups: AggregateTruthGroup[], options: { count: boolean; intervalMs?: number; fromMs?: number; toMs?: number }): Item[] {
  const empty = options.count ? 0 : null;
  return groups
    .map((g) => {
      const item: Item = { group: g.by, tags: Object.entries(g.by).map(([k, v]) => `${k}:${v}`), value: g.value ?? empty };
      if (options.intervalMs !== undefined) {
        const i = options.intervalMs;
        const values = new Map(g.points);
        item.points = [];
        for (let t = Math.floor(options.fromMs! / i) * i; t < options.toMs!; t += i) item.points.push([t, values.get(t) ?? empty]);
      }
      return item;
    })
    .sort((a, b) => (a.value === b.value ? (a.tags.join('\0') < b.tags.join('\0') ? -1 : 1) : a.value === null ? 1 : b.value === null ? -1 : b.value - a.value));
}

async function panel(path: string): Promise<{ status: number; body: any; cache: string | null }> {
  const res = await stack.app.get(path);
  return { status: res.status, body: await res.json(), cache: res.headers.get('x-tinkr-cache') };
}

describe('GET /logs/aggregate', () => {
  it('counts the logs of a range in one upstream call', async () => {
    stack.sim.resetRequests();
    const { status, body, cache } = await panel(`/logs/aggregate?service=payments-api&${RANGE}`);
    expect(status).toBe(200);
    expect(cache).toBe('miss');
    const truth = stack.sim.truth.logs({ query: 'service:payments-api', from: FROM, to: NOW }).length;
    expect(body.data).toEqual([{ group: {}, tags: [], value: truth }]);
    expect(body.meta).toEqual({ from: iso(FROM), to: iso(NOW), compute: 'count', interval_s: null, partial: false, warnings: [], bucket_s: 0 });
    expect(stack.sim.callCount('logs_aggregate')).toBe(1);
    expect(stack.sim.callCount()).toBe(1);
  });

  it('error count by status over an hour at 1 m: every bucket, zeros where Datadog sent none', async () => {
    const path = `/logs/aggregate?service=checkout&level=error,critical&group_by=status&interval=1m&${RANGE}`;
    const { body } = await panel(path);
    const truth = stack.sim.truth.logsAggregate({
      query: 'service:checkout AND status:(error OR emerg OR emergency OR alert OR critical OR fatal)',
      from: FROM,
      to: NOW,
      groupBy: [{ facet: 'status' }],
      intervalMs: MINUTE,
    });
    expect(truth.length).toBeGreaterThan(2);
    expect(body.data).toEqual(expected(truth, { count: true, intervalMs: MINUTE, fromMs: FROM, toMs: NOW }));
    expect(body.data[0].points).toHaveLength(60);
    // Rare statuses leave most minutes empty: those buckets are 0, not missing.
    const rare = body.data.at(-1);
    expect(rare.points.filter((p: [number, number]) => p[1] === 0).length).toBeGreaterThan(30);
    expect(body.meta).toMatchObject({ compute: 'count', interval_s: 60 });
  });

  it('groups by one, two and three facets, keeping `limit` per facet, largest first', async () => {
    for (const facets of [['service'], ['service', 'status'], ['service', 'env', 'host']]) {
      const { body } = await panel(`/logs/aggregate?group_by=${facets.join(',')}&limit=2&${RANGE}`);
      const truth = stack.sim.truth.logsAggregate({ from: FROM, to: NOW, groupBy: facets.map((facet) => ({ facet, limit: 2 })) });
      expect(truth.length).toBeGreaterThanOrEqual(2 ** (facets.length - 1));
      expect(body.data, facets.join(',')).toEqual(expected(truth, { count: true }));
      for (const item of body.data) expect(Object.keys(item.group)).toEqual(facets);
      // Two values of the first facet, at most two of the next under each.
      expect(new Set(body.data.map((item: Item) => item.group['service'])).size).toBe(2);
    }
  });

  it('the default limit keeps 10 groups; a higher one keeps more', async () => {
    const ten = await panel(`/logs/aggregate?group_by=status&${RANGE}`);
    expect(ten.body.data).toHaveLength(10);
    const all = await panel(`/logs/aggregate?group_by=status&limit=100&${RANGE}`);
    expect(all.body.data).toHaveLength(stack.sim.truth.logsAggregate({ from: FROM, to: NOW, groupBy: [{ facet: 'status', limit: 100 }] }).length);
    expect(all.body.data.length).toBe(12);
    expect(all.body.data.slice(0, 10)).toEqual(ten.body.data);
  });

  it('a query matching nothing: one item of 0 without group_by, no item with one', async () => {
    const { body } = await panel(`/logs/aggregate?query=nothing-matches-this&interval=15m&${RANGE}`);
    expect(body.data).toEqual([{ group: {}, tags: [], value: 0, points: [0, 1, 2, 3].map((k) => [FROM + k * 15 * MINUTE, 0]) }]);
    const grouped = await panel(`/logs/aggregate?query=nothing-matches-this&group_by=status&${RANGE}`);
    expect(grouped.body.data).toEqual([]);
  });

  it('a numeric facet groups under numbers; a measure of logs passes through exactly', async () => {
    const { body } = await panel(`/logs/aggregate?service=ledger&group_by=@http.status_code&compute=max:@duration&${RANGE}`);
    const truth = stack.sim.truth.logsAggregate({
      query: 'service:ledger',
      from: FROM,
      to: NOW,
      compute: { aggregation: 'max', metric: '@duration' },
      groupBy: [{ facet: '@http.status_code' }],
    });
    expect(body.data).toEqual(expected(truth, { count: false }));
    expect(typeof body.data[0].group['@http.status_code']).toBe('number');
    expect(body.meta.compute).toBe('max:@duration');
  });
});

describe('GET /traces/aggregate', () => {
  const computes = ['cardinality:resource_name', 'avg:@duration', 'sum:@duration', 'min:@duration', 'max:@duration', 'median:@duration', 'pc75:@duration', 'pc90:@duration', 'pc95:@duration', 'pc98:@duration', 'pc99:@duration'];

  it.each(computes)('%s by service at 10 m equals the truth', async (compute) => {
    const { body, status } = await panel(`/traces/aggregate?compute=${compute}&group_by=service&interval=10m&${RANGE}`);
    expect(status).toBe(200);
    const [aggregation, metric] = compute.split(':') as [NonNullable<AggregateTruthQuery['compute']>['aggregation'], string];
    const truth = stack.sim.truth.spansAggregate({ from: FROM, to: NOW, compute: { aggregation, metric }, groupBy: [{ facet: 'service' }], intervalMs: 10 * MINUTE });
    expect(truth.length).toBeGreaterThanOrEqual(3);
    expect(body.data).toEqual(expected(truth, { count: false, intervalMs: 10 * MINUTE, fromMs: FROM, toMs: NOW }));
  });

  it('p95 latency of one resource: buckets without spans are null, not 0', async () => {
    const from = NOW - 10 * MINUTE;
    const { body } = await panel(`/traces/aggregate?service=payments-api&resource=${encodeURIComponent('GET /refunds/{id}')}&compute=pc95:@duration&interval=30s&from=${iso(from)}&to=${iso(NOW)}`);
    const truth = stack.sim.truth.spansAggregate({
      query: 'service:payments-api resource_name:"GET /refunds/{id}"',
      from,
      to: NOW,
      compute: { aggregation: 'pc95', metric: '@duration' },
      intervalMs: 30_000,
    });
    const [item] = expected(truth, { count: false, intervalMs: 30_000, fromMs: from, toMs: NOW });
    expect(body.data).toEqual([item]);
    expect(item!.points!.some((p) => p[1] === null)).toBe(true);
  });

  it('counts spans by status and env for a service, with `status` and `env` filters', async () => {
    const { body } = await panel(`/traces/aggregate?service=checkout&env=prod&status=error&group_by=resource_name&${RANGE}`);
    const truth = stack.sim.truth.spansAggregate({ query: 'service:checkout env:prod status:error', from: FROM, to: NOW, groupBy: [{ facet: 'resource_name' }] });
    expect(body.data).toEqual(expected(truth, { count: true }));
    expect(body.data.length).toBeGreaterThan(0);
  });
});

describe('bad panels are a 400 naming what is allowed, and cost nothing upstream', () => {
  it.each([
    ['compute=p95:@duration', 'compute', /count, or one of cardinality, avg, sum, min, max, median, pc75, pc90, pc95, pc98, pc99 followed by :@field/],
    ['compute=avg', 'compute', /followed by :@field/],
    ['compute=count:@duration', 'compute', /compute must be count, or/],
    ['compute=pc95:@du ration', 'compute', /compute must be count/],
    ['group_by=status,service,host,env', 'group_by', /group_by must be up to 3 different facets/],
    ['group_by=status,status', 'group_by', /up to 3 different facets/],
    ['group_by=service:checkout', 'group_by.0', /each an attribute or tag name/],
    ['group_by=@a)%20OR%20(b', 'group_by.0', /each an attribute or tag name/],
    ['limit=0', 'limit', /1/],
    ['limit=101', 'limit', /100/],
    ['interval=10s', 'interval', /from 30s to 1d/],
    ['interval=2d', 'interval', /from 30s to 1d/],
    ['interval=1500ms', 'interval', /from 30s to 1d/],
    ['interval=30s&since=1d', 'interval', /2880 buckets over this range; at most 1500: use 58s or longer/],
    ['group_by=service,env,host&limit=22', 'limit', /with 3 facets .* limit at most 21/],
    ['group_by=service,host&limit=100&interval=1m&since=1h', 'interval', /more than 150000 points/],
  ])('%s', async (query, path, message) => {
    stack.sim.resetRequests();
    const res = await stack.app.get(`/logs/aggregate?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; errors: Array<{ path: string; message: string }> };
    expect(body.code).toBe('BAD_REQUEST');
    expect(body.errors).toContainEqual({ path, message: expect.stringMatching(message) });
    const spans = await stack.app.get(`/traces/aggregate?${query}`);
    expect(spans.status).toBe(400);
    expect(stack.sim.callCount()).toBe(0);
  });

  it('unknown parameters are refused too', async () => {
    const res = await stack.app.get('/logs/aggregate?metric=x');
    expect(res.status).toBe(400);
  });
});
