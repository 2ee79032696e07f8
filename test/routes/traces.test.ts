import { describe, expect, it } from 'vitest';
import type { SpanEvent } from '@tinkr/datadog-simulator';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/** GET /traces and GET /traces/{id} against the simulator's ground truth. */
const { clock, stack } = sharedStack({ reset: { clock: true } });

async function get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await stack.app.get(path);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

const allSpans = (fromMs: number, toMs: number): SpanEvent[] => stack.sim.truth.spans({ query: '*', from: fromMs, to: toMs });
const attr = (s: SpanEvent, key: string) => s.attributes.attributes[key];

describe('GET /traces', () => {
  it('searches spans by service, operation and status, newest first, with every field', async () => {
    const { status, body, headers } = await get('/traces?service=payments-api&status=error&since=6h&limit=100');
    expect(status).toBe(200);
    expect(headers.get('x-tinkr-cache')).toBe('miss');
    const expected = allSpans(NOW - 6 * 3_600_000, NOW).filter((s) => s.attributes.service === 'payments-api' && attr(s, 'status') === 'error');
    expect(expected.length).toBeGreaterThan(0);
    expect(body.data.map((s: { span_id: string }) => s.span_id)).toEqual(expected.slice(0, 100).map((s) => s.attributes.span_id));
    const first = expected[0]!;
    expect(body.data[0]).toMatchObject({
      trace_id: first.attributes.trace_id,
      span_id: first.attributes.span_id,
      parent_id: first.attributes.parent_id ?? null,
      service: 'payments-api',
      name: attr(first, 'operation_name'),
      resource: first.attributes.resource_name,
      type: first.attributes.type,
      env: first.attributes.env,
      host: first.attributes.host,
      start: new Date(first.attributes.start_timestamp).toISOString(),
      end: new Date(first.attributes.end_timestamp).toISOString(),
      duration_ms: (first.attributes.custom.duration as number) / 1e6,
      status: 'error',
      tags: first.attributes.tags,
    });
  });

  it('filters by env, operation and resource (quoted values)', async () => {
    const sample = allSpans(NOW - 3_600_000, NOW).find((s) => s.attributes.resource_name.includes(' '))!;
    const resource = sample.attributes.resource_name;
    const op = attr(sample, 'operation_name') as string;
    const { body } = await get(`/traces?env=${sample.attributes.env}&operation=${encodeURIComponent(op)}&resource=${encodeURIComponent(resource)}&since=1h&limit=500`);
    const expected = allSpans(NOW - 3_600_000, NOW).filter(
      (s) => s.attributes.env === sample.attributes.env && attr(s, 'operation_name') === op && s.attributes.resource_name === resource,
    );
    expect(body.data.map((s: { span_id: string }) => s.span_id)).toEqual(expected.slice(0, 500).map((s) => s.attributes.span_id));
  });

  it('pages and continues with a cursor, without overlap or gap', async () => {
    const first = await get('/traces?since=2h&limit=1500');
    clock.advance(5 * 60_000);
    const second = await get(`/traces?since=2h&limit=1500&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`);
    const expected = allSpans(NOW - 7_200_000, NOW);
    const ids = [...first.body.data, ...second.body.data].map((s: { span_id: string }) => s.span_id);
    expect(ids).toEqual(expected.slice(0, 3000).map((s) => s.attributes.span_id));
  });
});

describe('GET /traces/{trace_id}', () => {
  it('returns every span of a trace across services, by start time, with a summary', async () => {
    const traceId = stack.sim.truth.sampleTraceId(NOW - 60_000, { template: 'checkout', error: true });
    const truth = stack.sim.truth.trace(traceId);
    expect(truth.length).toBeGreaterThan(2);
    const { status, body } = await get(`/traces/${traceId}`);
    expect(status).toBe(200);
    const root = truth.find((s) => s.attributes.parent_id === undefined)!;
    expect(body).toMatchObject({
      trace_id: traceId,
      root_span_id: root.attributes.span_id,
      start: new Date(root.attributes.start_timestamp).toISOString(),
      span_count: truth.length,
      error_count: truth.filter((s) => attr(s, 'status') === 'error').length,
      duration_ms: (root.attributes.custom.duration as number) / 1e6,
      meta: { partial: false, warnings: [] },
    });
    expect(body.error_count).toBeGreaterThan(0);
    expect(new Set(body.services)).toEqual(new Set(truth.map((s) => s.attributes.service)));
    expect(body.spans.map((s: { span_id: string }) => s.span_id).sort()).toEqual(truth.map((s) => s.attributes.span_id).sort());
    const starts = body.spans.map((s: { start: string }) => s.start);
    expect(starts).toEqual([...starts].sort());
  });

  it('finds a trace with a 128-bit hex id, in any letter case', async () => {
    const traceId = stack.sim.truth.sampleTraceId(NOW - 60_000, { hex128: true });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const { status, body } = await get(`/traces/${traceId.toUpperCase()}`);
    expect(status).toBe(200);
    expect(body.trace_id).toBe(traceId);
    expect(body.span_count).toBe(stack.sim.truth.trace(traceId).length);
  });

  it('looks back 24 h by default and honours an explicit range', async () => {
    const traceId = stack.sim.truth.sampleTraceId(NOW - 20 * 3_600_000);
    expect((await get(`/traces/${traceId}`)).status).toBe(200);
    const narrow = await get(`/traces/${traceId}?since=1h`);
    expect(narrow.status).toBe(404);
    expect(narrow.body.code).toBe('NOT_FOUND');
  });

  it('answers 404 for an unknown trace', async () => {
    const { status, body } = await get('/traces/12345');
    expect(status).toBe(404);
    expect(body).toMatchObject({ code: 'NOT_FOUND', detail: expect.stringContaining('12345') });
  });
});
