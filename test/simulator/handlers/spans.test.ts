import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroundTruth } from '@tinkr/datadog-simulator/truth';
import { startSimulator, type Simulator, type SpanEvent } from '@tinkr/datadog-simulator';
import { callDatadog } from '../../helpers/datadog-fetch.ts';
import { validateDatadogResponse } from '../../helpers/datadog-openapi.ts';
import { ManualClock, TEST_NOW as NOW } from '../../helpers/manual-clock.ts';
import { sharedTestSimulator } from '../../helpers/simulator.ts';

const HOUR = 3_600_000;
const SEARCH = '/api/v2/spans/events/search';

const { clock, sim } = sharedTestSimulator({ rateLimits: { spans: { limit: 100_000, periodS: 3_600 } } });

function body(attributes: Record<string, unknown>) {
  return { data: { type: 'search_request', attributes } };
}

async function pageAll(filter: Record<string, unknown>, limit: number, sort: string): Promise<SpanEvent[]> {
  const spans: SpanEvent[] = [];
  let cursor: string | undefined;
  do {
    const res = await callDatadog(sim.url, SEARCH, { body: body({ filter, page: { limit, ...(cursor ? { cursor } : {}) }, sort }) });
    expect(res.status).toBe(200);
    expect(validateDatadogResponse('ListSpans', 200, res.body)).toEqual([]);
    spans.push(...res.body.data);
    cursor = res.body.meta.page?.after;
  } while (cursor);
  return spans;
}

describe('POST /api/v2/spans/events/search', () => {
  it('answers in the SpansListResponse shape, as application/vnd.api+json', async () => {
    const res = await callDatadog(sim.url, SEARCH, { body: body({ filter: { from: 'now-5m', to: 'now' }, page: { limit: 25 } }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(validateDatadogResponse('ListSpans', 200, res.body)).toEqual([]);
    const span = res.body.data[0];
    expect(span).toMatchObject({
      type: 'spans',
      attributes: {
        trace_id: expect.stringMatching(/^(\d+|[0-9a-f]{32})$/),
        span_id: expect.stringMatching(/^\d+$/),
        service: expect.any(String),
        resource_name: expect.any(String),
        attributes: { operation_name: expect.any(String), status: expect.stringMatching(/^(ok|error)$/) },
        custom: { duration: expect.any(Number) },
      },
    });
    expect(res.body.meta).toMatchObject({ status: 'done', elapsed: expect.any(Number), request_id: expect.any(String) });
  });

  it('pages over two hours to exactly the ground truth in both orders', async () => {
    const filter = { query: '*', from: String(NOW - 2 * HOUR), to: String(NOW) };
    const truth = sim.truth.spans({ from: NOW - 2 * HOUR, to: NOW });
    expect(truth.length).toBeGreaterThan(3_000);
    expect((await pageAll(filter, 1000, '-timestamp')).map((s) => s.id)).toEqual(truth.map((s) => s.id));
    expect((await pageAll(filter, 1000, 'timestamp')).map((s) => s.id)).toEqual([...truth].reverse().map((s) => s.id));
  });

  it('filters on reserved fields, attributes and the error status', async () => {
    const query = 'service:ledger operation_name:web.request status:error @http.status_code:[500 TO 599]';
    const spans = await pageAll({ query, from: 'now-6h' }, 50, '-timestamp');
    expect(spans.length).toBeGreaterThan(0);
    expect(spans.map((s) => s.id)).toEqual(sim.truth.spans({ query, from: 'now-6h', to: 'now' }).map((s) => s.id));
    for (const s of spans) {
      expect(s.attributes.custom['error']).toMatchObject({ type: expect.any(String), message: expect.any(String) });
    }
  });

  it('answers a reversed range with the 422 Datadog sends', async () => {
    const res = await callDatadog(sim.url, SEARCH, { body: body({ filter: { from: 'now', to: 'now-15m' } }) });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(res.body).toEqual({
      errors: [{ status: '422', title: 'Generic Error', detail: "invalid_argument(Field 'filter.from,to' is invalid: 'from' should be anterior to 'to')" }],
    });
    expect(validateDatadogResponse('ListSpans', 422, res.body)).toEqual([]);
  });

  it('answers a malformed query with a JSON:API 400', async () => {
    const res = await callDatadog(sim.url, SEARCH, { body: body({ filter: { query: 'service:"ledger' } }) });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ status: '400', title: 'Bad Request', detail: expect.stringMatching(/unterminated quoted string/) });
    expect(validateDatadogResponse('ListSpans', 400, res.body)).toEqual([]);
  });

  it('finds a whole trace by trace_id over a day, 64-bit decimal and 128-bit hex alike', async () => {
    for (const hex128 of [false, true]) {
      const traceId = sim.truth.sampleTraceId(NOW - 20 * HOUR, { template: 'checkout', hex128 });
      expect(traceId).toMatch(hex128 ? /^[0-9a-f]{32}$/ : /^\d{1,20}$/);
      const spans = await pageAll({ query: `trace_id:${traceId}`, from: 'now-1d', to: 'now' }, 100, 'timestamp');
      expect(spans.map((s) => s.attributes.span_id)).toEqual(sim.truth.trace(traceId).map((s) => s.attributes.span_id));
    }
  });

  it('serves the GET form', async () => {
    const res = await callDatadog(sim.url, `/api/v2/spans/events?${new URLSearchParams({ 'filter[query]': 'service:checkout', 'filter[from]': 'now-10m', 'page[limit]': '3', sort: '-timestamp' })}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(3);
    expect(res.body.data.every((s: SpanEvent) => s.attributes.service === 'checkout')).toBe(true);
    expect(new URL(res.body.links.next).pathname).toBe('/api/v2/spans/events');
  });
});

describe('traces', () => {
  const DAY_AGO = NOW - 24 * HOUR;

  it('link spans across services through parent_id, with consistent timing', () => {
    const traceId = sim.truth.sampleTraceId(DAY_AGO, { template: 'checkout', error: false });
    const spans = sim.truth.trace(traceId);
    expect(spans.map((s) => s.attributes.service)).toEqual(['checkout', 'checkout', 'payments-api', 'payments-api', 'ledger', 'ledger']);
    const [root, ...children] = spans;
    expect(root!.attributes).not.toHaveProperty('parent_id');
    const byId = new Map(spans.map((s) => [s.attributes.span_id, s]));
    for (const child of children) {
      const parent = byId.get(child.attributes.parent_id!);
      expect(parent).toBeDefined();
      expect(Date.parse(child.attributes.start_timestamp)).toBeGreaterThanOrEqual(Date.parse(parent!.attributes.start_timestamp));
      expect(Date.parse(child.attributes.end_timestamp)).toBeLessThanOrEqual(Date.parse(parent!.attributes.end_timestamp));
    }
    for (const s of spans) {
      const ms = Date.parse(s.attributes.end_timestamp) - Date.parse(s.attributes.start_timestamp);
      expect(s.attributes.custom['duration']).toBe(ms * 1_000_000);
      expect(s.attributes.trace_id).toBe(traceId);
      expect(s.attributes.attributes['status']).toBe('ok');
    }
    expect(new Set(spans.map((s) => s.attributes.span_id)).size).toBe(spans.length);
  });

  it('propagate a database failure up the call chain', () => {
    const spans = sim.truth.trace(sim.truth.sampleTraceId(DAY_AGO, { template: 'checkout', error: true }));
    const errored = spans.filter((s) => s.attributes.attributes['status'] === 'error').map((s) => `${s.attributes.service}/${s.attributes.attributes['operation_name']}`);
    expect(errored).toEqual(['checkout/web.request', 'checkout/http.request', 'payments-api/web.request', 'payments-api/http.request', 'ledger/web.request', 'ledger/postgresql.query']);
    expect(spans[0]!.attributes.custom['http']).toMatchObject({ status_code: '502' });
  });

  it('include a staging environment and the quirky batch service', () => {
    const spans = sim.truth.spans({ from: NOW - HOUR, to: NOW });
    expect(new Set(spans.map((s) => s.attributes.env))).toEqual(new Set(['prod', 'staging']));
    expect(new Set(spans.map((s) => s.attributes.service))).toEqual(new Set(['checkout', 'payments-api', 'ledger', 'batch "nightly" jobs:eu\\west']));
  });

  it('are unknown for ids that were never generated', () => {
    expect(sim.truth.trace('1')).toEqual([]);
    expect(sim.truth.trace('not-an-id')).toEqual([]);
    // A 128-bit id with a valid low half but a different time prefix is another trace.
    const hex = sim.truth.sampleTraceId(DAY_AGO, { hex128: true });
    expect(sim.truth.trace(`00000000${hex.slice(8)}`)).toEqual([]);
  });

  it('only appear once finished', () => {
    const traceId = sim.truth.sampleTraceId(NOW);
    const [root] = sim.truth.trace(traceId);
    const start = Date.parse(root!.attributes.start_timestamp);
    const end = Date.parse(root!.attributes.end_timestamp);
    // The ground truth depends on nothing but the clock, so a second one can look at another "now".
    expect(createGroundTruth(new ManualClock(start)).trace(traceId)).toEqual([]);
    expect(createGroundTruth(new ManualClock(end - 1)).trace(traceId)).toEqual([]);
    expect(createGroundTruth(new ManualClock(end)).trace(traceId)).toHaveLength(sim.truth.trace(traceId).length);
  });
});

describe('checks the simulator makes itself (without the spec validator)', () => {
  let plain: Simulator;
  beforeAll(async () => {
    plain = await startSimulator({ clock });
  });
  afterAll(() => plain.close());

  it.each([
    [undefined, /Missing request body/],
    [{}, /Missing data/],
    [{ data: { type: 'aggregate_request' } }, /data.type must be search_request/],
    [body({ page: { limit: 1001 } }), /page.limit must be less than or equal to 1000/],
    [body({ sort: 'desc' }), /sort must be one of/],
    [body({ filter: { from: 1 } }), /filter.from must be a string/],
    [body({ options: { timezone: 'GMT', timeOffset: 3600 } }), /timezone or timeOffset/],
  ])('rejects %j', async (payload, detail) => {
    const res = await callDatadog(plain.url, SEARCH, { method: 'POST', body: payload });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].detail).toMatch(detail);
    expect(validateDatadogResponse('ListSpans', 400, res.body)).toEqual([]);
  });
});
