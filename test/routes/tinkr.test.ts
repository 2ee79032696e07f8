import { describe, expect, it } from 'vitest';
import { levelOf } from '../../src/datadog/levels.ts';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * The routes the public Tinkr CLI calls, with the request bodies it was seen to send
 * (including fields our models do not know) and the exact field names it reads back.
 */
const { stack } = sharedStack();

/** Python's isoformat() with microseconds and +00:00, as the CLI sends. */
const pyIso = (ms: number) => new Date(ms).toISOString().replace('Z', '000+00:00');

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await stack.app.post(path, body);
  return { status: res.status, body: await res.json() };
}

describe('POST /api/v1/logs', () => {
  it('answers entries newest first in Tinkr shape, ignoring unknown fields', async () => {
    const { status, body } = await post('/api/v1/logs', {
      service: 'payments-api',
      query: '*',
      start: pyIso(NOW - 1_800_000),
      end: pyIso(NOW),
      limit: 50,
      resource_type: 'ecs',
      extra_field_from_a_newer_cli: true,
    });
    expect(status).toBe(200);
    const expected = stack.sim.truth
      .logs({ query: '*', from: NOW - 1_800_000, to: NOW })
      .filter((l) => l.attributes.service === 'payments-api')
      .slice(0, 50);
    expect(body.entries).toHaveLength(50);
    expect(body.entries.map((e: { timestamp: string }) => e.timestamp)).toEqual(expected.map((l) => new Date(l.attributes.timestamp).toISOString()));
    for (const [i, entry] of body.entries.entries()) {
      const log = expected[i]!;
      const dd = log.attributes.attributes.dd as { trace_id?: string; span_id?: string } | undefined;
      expect(entry).toEqual({
        timestamp: new Date(log.attributes.timestamp).toISOString(),
        level: levelOf(log.attributes.status).toUpperCase(),
        message: log.attributes.message,
        service: 'payments-api',
        trace_id: dd?.trace_id ?? '',
        span_id: dd?.span_id ?? '',
        extra: { id: log.id, tags: log.attributes.tags.join(', '), host: log.attributes.host, status: log.attributes.status },
      });
    }
  });

  it('rounds a start with microseconds up, so `tinkr tail` does not get its last line again', async () => {
    const end = NOW - 600_000;
    const first = await post('/api/v1/logs', { service: 'ledger', start: pyIso(end - 600_000), end: pyIso(end), limit: 5 });
    const newest = first.body.entries[0] as { timestamp: string; message: string };
    // The CLI's next poll starts at the newest time it has seen, a few microseconds on.
    const start = new Date(newest.timestamp).toISOString().replace('Z', '064+00:00');
    for (const until of [end, NOW]) {
      // An end in the past is searched as asked; one at now as its time bucket, cut at start.
      const next = await post('/api/v1/logs', { service: 'ledger', start, end: pyIso(until), limit: 200 });
      expect(next.status).toBe(200);
      // Nothing newer came before the first end; ten minutes of newer lines came before now.
      expect(next.body.entries.length > 0).toBe(until === NOW);
      expect(next.body.entries.map((e: { timestamp: string }) => e.timestamp)).not.toContain(newest.timestamp);
      for (const e of next.body.entries as Array<{ timestamp: string }>) expect(Date.parse(e.timestamp)).toBeGreaterThan(Date.parse(newest.timestamp));
    }
    const asked = stack.sim.requests.filter((r) => r.endpoint === 'logs').map((r) => (r.body as { filter: { from: string } }).filter.from);
    expect(asked.map(Date.parse)).toContain(Date.parse(newest.timestamp) + 1);
  });

  it("understands the CLI's level aliases (tinkr diff)", async () => {
    const { body } = await post('/api/v1/logs', {
      service: 'checkout',
      query: 'level:ERROR OR level:CRITICAL',
      start: pyIso(NOW - 6 * 3_600_000),
      end: pyIso(NOW),
      limit: 1000,
    });
    const expected = stack.sim.truth
      .logs({ query: '*', from: NOW - 6 * 3_600_000, to: NOW })
      .filter((l) => l.attributes.service === 'checkout' && ['error', 'critical'].includes(levelOf(l.attributes.status)));
    expect(expected.length).toBeGreaterThan(0);
    expect(body.entries.length).toBe(Math.min(1000, expected.length));
    expect(new Set(body.entries.map((e: { level: string }) => e.level))).toEqual(new Set(['ERROR', 'CRITICAL']));
  });

  it('reports a naive timestamp under its Tinkr name', async () => {
    const { status, body } = await post('/api/v1/logs', { service: 'checkout', start: '2026-11-25T03:00:00', end: pyIso(NOW) });
    expect(status).toBe(400);
    expect(body.errors).toEqual([expect.objectContaining({ path: 'body.start', message: expect.stringMatching(/offset/) })]);
    expect(typeof body.detail).toBe('string');
  });
});

describe('POST /api/v1/metrics', () => {
  it('scopes a bare metric name to the service and flattens series into points without nulls', async () => {
    const { status, body } = await post('/api/v1/metrics', { service: 'ledger', metric: 'system.cpu.user', start: pyIso(NOW - 86_400_000), end: pyIso(NOW), resource_type: 'ec2' });
    expect(status).toBe(200);
    expect(stack.sim.requests.at(-1)!.query.query).toBe('avg:system.cpu.user{service:ledger}');
    const truth = stack.sim.truth.metrics('avg:system.cpu.user{service:ledger}', (NOW - 86_400_000) / 1000, NOW / 1000);
    const expected = truth.series!.flatMap((s) => s.pointlist.filter((p) => p[1] !== null).map((p) => p[0]));
    expect(body.points.map((p: { timestamp: string }) => Date.parse(p.timestamp))).toEqual(expected.sort((a, b) => a - b));
    for (const point of body.points) {
      expect(typeof point.value).toBe('number');
      expect(point.unit).toBe('percent');
      expect(point.dimensions).toMatchObject({ service: 'ledger' });
    }
  });

  it('sends a full query as given', async () => {
    const query = 'sum:trace.web.request.errors{service:checkout} by {host}';
    const { status, body } = await post('/api/v1/metrics', { service: 'checkout', metric: query, start: pyIso(NOW - 3_600_000), end: pyIso(NOW) });
    expect(status).toBe(200);
    expect(stack.sim.requests.at(-1)!.query.query).toBe(query);
    expect(new Set(body.points.map((p: { dimensions: { host: string } }) => p.dimensions.host)).size).toBeGreaterThan(1);
  });
});

describe('POST /api/v1/traces', () => {
  it('answers the newest traces of a service with their real spans, in two upstream calls', async () => {
    stack.sim.resetRequests();
    const { status, body } = await post('/api/v1/traces', { service: 'ledger', since: '30m', limit: 5, tags: null });
    expect(status).toBe(200);
    expect(stack.sim.callCount('spans')).toBe(2);
    expect(body.traces).toHaveLength(5);
    for (const trace of body.traces) {
      const truth = stack.sim.truth.trace(trace.trace_id);
      expect(trace.span_count).toBe(truth.length);
      expect(trace.spans).toHaveLength(truth.length);
      expect(trace.service).toBe('ledger');
      expect(['ok', 'error']).toContain(trace.status);
      expect(trace.status).toBe(truth.some((s) => s.attributes.attributes.status === 'error') ? 'error' : 'ok');
      expect(typeof trace.duration_ms).toBe('number');
      const root = trace.spans.find((s: { parent_span_id: string }) => s.parent_span_id === '');
      expect(root).toBeDefined();
      expect(trace.operation_name).toBe(root.operation_name);
      for (const span of trace.spans) expect(Number.isFinite(Date.parse(span.start_time))).toBe(true);
    }
    const starts = body.traces.map((t: { start_time: string }) => t.start_time);
    expect(starts).toEqual([...starts].sort().reverse());
  });

  it('filters by tags', async () => {
    const { status, body } = await post('/api/v1/traces', { service: 'checkout', since: '1h', limit: 3, tags: { env: 'staging' } });
    expect(status).toBe(200);
    expect(body.traces.length).toBeGreaterThan(0);
    for (const trace of body.traces) {
      for (const span of trace.spans.filter((s: { service: string }) => s.service === 'checkout')) expect(span.tags.env).toBe('staging');
    }
  });

  it('refuses a malformed since', async () => {
    const { status, body } = await post('/api/v1/traces', { service: 'checkout', since: '1.5h' });
    expect(status).toBe(400);
    expect(body.errors[0].path).toBe('body.since');
  });
});

describe("the bodies' rules, read before anything is asked", () => {
  const refused = async (path: string, body: unknown) => {
    const before = stack.sim.requests.length;
    const answer = await post(path, body);
    expect(answer.status).toBe(400);
    expect(stack.sim.requests.length).toBe(before);
    return answer.body.errors as Array<{ path: string; message: string }>;
  };

  it('reports a reversed or too long range under start, in the body\'s own names', async () => {
    expect(await refused('/api/v1/logs', { service: 'checkout', start: pyIso(NOW), end: pyIso(NOW - 60_000) })).toEqual([
      { path: 'body.start', message: 'start must be before end' },
    ]);
    const long = await refused('/api/v1/logs', { service: 'checkout', start: pyIso(NOW - 40 * 86_400_000), end: pyIso(NOW - 3_600_000) });
    expect(long).toEqual([{ path: 'body.start', message: expect.stringMatching(/longer than this profile allows/) }]);
  });

  it('needs a tag value for the service a bare metric name is scoped to', async () => {
    const errors = await refused('/api/v1/metrics', { service: 'ledger west', metric: 'system.cpu.user', start: pyIso(NOW - 60_000), end: pyIso(NOW) });
    expect(errors).toEqual([{ path: 'body.service', message: expect.stringMatching(/^service must be letters, .* to scope a metric name/) }]);
  });

  it('names a tag filter that is not a tag key, and a since of nothing', async () => {
    expect(await refused('/api/v1/traces', { service: 'checkout', tags: { '9lives': 'x' } })).toEqual([
      { path: 'body.tags.9lives', message: expect.stringMatching(/^each tag name must be a tag key/) },
    ]);
    expect(await refused('/api/v1/traces', { service: 'checkout', since: '0m' })).toEqual([
      { path: 'body.since', message: expect.stringMatching(/^since must be a positive duration such as 30m, 1h or 2d/) },
    ]);
  });
});
