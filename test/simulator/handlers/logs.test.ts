import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHIVE_MIN_AGE_MS, INDEX_RETENTION_MS } from '@tinkr/datadog-simulator/data/log-indexes';
import { startSimulator, type LogEvent, type Simulator } from '@tinkr/datadog-simulator';
import { callDatadog } from '../../helpers/datadog-fetch.ts';
import { validateDatadogResponse } from '../../helpers/datadog-openapi.ts';
import { TEST_NOW as NOW } from '../../helpers/manual-clock.ts';
import { sharedTestSimulator, startTestSimulator } from '../../helpers/simulator.ts';

const HOUR = 3_600_000;
const SEARCH = '/api/v2/logs/events/search';

const { clock, sim } = sharedTestSimulator({ rateLimits: { logs: { limit: 100_000, periodS: 3_600 } } });

async function search(body: unknown) {
  return callDatadog(sim.url, SEARCH, { body });
}

/** Follows `meta.page.after` until it runs out; returns every event and the number of calls. */
async function pageAll(filter: Record<string, unknown>, limit: number, sort: string): Promise<{ events: LogEvent[]; calls: number }> {
  const events: LogEvent[] = [];
  let cursor: string | undefined;
  let calls = 0;
  do {
    const res = await search({ filter, page: { limit, ...(cursor ? { cursor } : {}) }, sort });
    expect(res.status).toBe(200);
    expect(validateDatadogResponse('ListLogs', 200, res.body)).toEqual([]);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    events.push(...res.body.data);
    cursor = res.body.meta.page?.after;
    calls++;
  } while (cursor);
  return { events, calls };
}

describe('POST /api/v2/logs/events/search', () => {
  it('answers in the LogsListResponse shape', async () => {
    const res = await search({ filter: { from: 'now-5m', to: 'now' }, page: { limit: 50 } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(validateDatadogResponse('ListLogs', 200, res.body)).toEqual([]);
    expect(res.body.meta).toMatchObject({ status: 'done', request_id: expect.any(String), elapsed: expect.any(Number) });
    const log = res.body.data[0];
    expect(log).toMatchObject({ id: expect.any(String), type: 'log' });
    expect(Object.keys(log.attributes).sort()).toEqual(['attributes', 'host', 'message', 'service', 'status', 'tags', 'timestamp']);
    expect(log.attributes.tags).toEqual(expect.arrayContaining([expect.stringMatching(/^env:/), expect.stringMatching(/^version:/)]));
  });

  it('pages over an hour to exactly the ground truth, newest first and oldest first', async () => {
    const filter = { query: '*', from: new Date(NOW - HOUR).toISOString(), to: new Date(NOW).toISOString() };
    const truth = sim.truth.logs({ from: NOW - HOUR, to: NOW });
    expect(truth.length).toBeGreaterThan(3_000);
    const desc = await pageAll(filter, 1000, '-timestamp');
    expect(desc.events.map((e) => e.id)).toEqual(truth.map((e) => e.id));
    expect(desc.calls).toBe(Math.ceil(truth.length / 1000));
    const asc = await pageAll(filter, 1000, 'timestamp');
    expect(asc.events.map((e) => e.id)).toEqual([...truth].reverse().map((e) => e.id));
    for (const e of desc.events) {
      const t = Date.parse(e.attributes.timestamp);
      expect(t).toBeGreaterThanOrEqual(NOW - HOUR);
      expect(t).toBeLessThan(NOW);
    }
  });

  it('pages a filtered query with small pages without overlap or gap', async () => {
    const filter = { query: 'service:checkout AND (status:error OR status:warn*)', from: 'now-2h', to: 'now' };
    const truth = sim.truth.logs({ query: filter.query, from: 'now-2h', to: 'now' });
    expect(truth.length).toBeGreaterThan(20);
    const { events } = await pageAll(filter, 7, '-timestamp');
    expect(events.map((e) => e.id)).toEqual(truth.map((e) => e.id));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.every((e) => e.attributes.service === 'checkout')).toBe(true);
  });

  it('defaults to the last 15 minutes, 10 logs, newest first when the body is absent', async () => {
    const res = await callDatadog(sim.url, SEARCH, { method: 'POST' });
    expect(res.status).toBe(200);
    const truth = sim.truth.logs({ from: 'now-15m', to: 'now' }).slice(0, 10);
    expect(res.body.data.map((e: LogEvent) => e.id)).toEqual(truth.map((e) => e.id));
  });

  it('never returns logs from the future', async () => {
    const res = await search({ filter: { from: 'now-1m', to: 'now+1h' }, page: { limit: 1000 } });
    expect(res.body.data.length).toBeGreaterThan(0);
    expect(Math.max(...res.body.data.map((e: LogEvent) => Date.parse(e.attributes.timestamp)))).toBeLessThanOrEqual(NOW);
  });

  it('carries every raw status the gateway normalises', () => {
    const statuses = new Set(sim.truth.logs({ from: 'now-10m', to: 'now' }).map((e) => e.attributes.status));
    expect([...statuses].sort()).toEqual(
      ['alert', 'critical', 'debug', 'emerg', 'error', 'fatal', 'info', 'notice', 'ok', 'trace', 'warn', 'warning'].sort(),
    );
  });

  it('puts trace correlation in attributes.dd, pointing at real spans', () => {
    const logs = sim.truth.logs({ query: '@dd.trace_id:*', from: 'now-10m', to: 'now' });
    expect(logs.length).toBeGreaterThan(50);
    for (const log of logs.slice(0, 50)) {
      const dd = log.attributes.attributes['dd'] as Record<string, string>;
      expect(dd).toMatchObject({ trace_id: expect.stringMatching(/^(\d+|[0-9a-f]{32})$/), span_id: expect.stringMatching(/^\d+$/), env: expect.any(String), version: expect.any(String) });
      const span = sim.truth.trace(dd['trace_id']!).find((s) => s.attributes.span_id === dd['span_id']);
      expect(span?.attributes.service).toBe(log.attributes.service);
    }
    expect(sim.truth.logs({ query: '-@dd.trace_id:*', from: 'now-10m', to: 'now' }).length).toBeGreaterThan(50);
  });

  it('finds all logs of one trace through trace_id over a whole day', async () => {
    const traceId = sim.truth.sampleTraceId(NOW - 6 * HOUR, { template: 'checkout', error: true });
    const res = await search({ filter: { query: `trace_id:${traceId}`, from: 'now-1d', to: 'now' }, page: { limit: 100 } });
    const truth = sim.truth.logs({ query: `@dd.trace_id:${traceId}`, from: 'now-1d', to: 'now' });
    expect(truth.length).toBeGreaterThanOrEqual(5);
    expect(res.body.data.map((e: LogEvent) => e.id)).toEqual(truth.map((e) => e.id));
    expect(truth.some((e) => e.attributes.status === 'error' && (e.attributes.attributes['error'] as { kind: string }).kind)).toBe(true);
  });

  it('warns about unknown indexes and searches the known ones', async () => {
    const res = await search({ filter: { from: 'now-1m', indexes: ['main', 'web', 'audit'] }, page: { limit: 5 } });
    expect(res.body.data).toHaveLength(5);
    expect(res.body.meta.warnings).toEqual([
      { code: 'unknown_index', title: 'One or several indexes are missing or invalid, results hold data from the other indexes', detail: 'indexes: web, audit' },
    ]);
    const none = await search({ filter: { from: 'now-1m', indexes: ['web'] } });
    expect(none.body.data).toEqual([]);
    expect(none.body.meta.warnings[0].code).toBe('unknown_index');
    expect(validateDatadogResponse('ListLogs', 200, none.body)).toEqual([]);
  });

  it('serves storage tiers over their documented windows', async () => {
    const count = async (tier: string, from: number, to: number) => {
      const res = await search({ filter: { from: String(from), to: String(to), storage_tier: tier }, page: { limit: 1000 } });
      return res.body.data as LogEvent[];
    };
    // Archives hold only logs older than a day.
    const archived = await count('online-archives', NOW - ARCHIVE_MIN_AGE_MS - 10 * 60_000, NOW - ARCHIVE_MIN_AGE_MS + 10 * 60_000);
    expect(archived.length).toBeGreaterThan(0);
    expect(archived.every((e) => Date.parse(e.attributes.timestamp) <= NOW - ARCHIVE_MIN_AGE_MS)).toBe(true);
    expect(await count('online-archives', NOW - 60_000, NOW)).toEqual([]);
    // Indexes stop at 15 days; Flex goes further back.
    const old = [NOW - INDEX_RETENTION_MS - 20 * 60_000, NOW - INDEX_RETENTION_MS - 10 * 60_000] as const;
    expect(await count('indexes', ...old)).toEqual([]);
    expect((await count('flex', ...old)).length).toBeGreaterThan(0);
    const recent = [NOW - 60_000, NOW] as const;
    expect((await count('flex', ...recent)).map((e) => e.id)).toEqual((await count('indexes', ...recent)).map((e) => e.id));
  });

  it('rejects a cursor reused with another query, and a forged one', async () => {
    const first = await search({ filter: { query: 'service:ledger', from: 'now-10m' }, page: { limit: 2 } });
    const cursor = first.body.meta.page.after;
    const other = await search({ filter: { query: 'service:checkout', from: 'now-10m' }, page: { limit: 2, cursor } });
    expect(other.status).toBe(400);
    expect(other.body.errors[0]).toMatch(/cursor/);
    const resorted = await search({ filter: { query: 'service:ledger', from: 'now-10m' }, page: { limit: 2, cursor }, sort: 'timestamp' });
    expect(resorted.status).toBe(400);
    const forged = await search({ filter: { query: 'service:ledger', from: 'now-10m' }, page: { limit: 2, cursor: 'not-a-cursor' } });
    expect(forged.status).toBe(400);
    expect(validateDatadogResponse('ListLogs', 400, forged.body)).toEqual([]);
  });

  it('pins the first page\'s range in the cursor, so pages do not drift as time passes', async () => {
    const body = { filter: { query: 'service:ledger', from: 'now-5m', to: 'now' }, page: { limit: 5 } };
    const first = await search(body);
    clock.advance(60_000);
    try {
      const second = await search({ ...body, page: { limit: 5, cursor: first.body.meta.page.after } });
      const truth = sim.truth.logs({ query: 'service:ledger', from: NOW - 5 * 60_000, to: NOW }).slice(5, 10);
      expect(second.body.data.map((e: LogEvent) => e.id)).toEqual(truth.map((e) => e.id));
    } finally {
      clock.set(NOW);
    }
  });

  it('answers a malformed query with a 400 in the APIErrorResponse shape', async () => {
    const res = await search({ filter: { query: 'service:(checkout OR ledger' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [expect.stringMatching(/^Invalid query: unbalanced parentheses: missing "\)"/)] });
  });

  it('answers a reversed or unreadable time range with a 400', async () => {
    expect((await search({ filter: { from: 'now', to: 'now-15m' } })).body.errors[0]).toMatch(/anterior/);
    expect((await search({ filter: { from: 'yesterday' } })).body.errors[0]).toMatch(/Invalid time "yesterday"/);
    expect((await search({ filter: { from: '2026-11-25T03:00:00+01:00', to: '2026-11-25T03:10:00+01:00' } })).status).toBe(200);
  });
});

describe('checks the simulator makes itself (without the spec validator)', () => {
  let plain: Simulator;
  beforeAll(async () => {
    plain = await startSimulator({ clock });
  });
  afterAll(() => plain.close());

  it.each([
    [{ page: { limit: 1001 } }, /page.limit must be less than or equal to 1000/],
    [{ page: { limit: 0 } }, /page.limit/],
    [{ sort: 'desc' }, /sort must be one of timestamp, -timestamp/],
    [{ filter: { storage_tier: 'cold' } }, /storage_tier/],
    [{ filter: { from: 1700000000000 } }, /filter.from must be a string/],
    [[1, 2], /JSON object/],
  ])('rejects %j', async (body, message) => {
    const res = await callDatadog(plain.url, SEARCH, { body });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatch(message);
    expect(validateDatadogResponse('ListLogs', 400, res.body)).toEqual([]);
  });

  // GET /api/v2/logs/events is real Datadog but not in the OpenAPI subset, so the validator refuses it.
  it('serves the GET form that links.next points at, continuing the same pages', async () => {
    const body = { filter: { query: 'status:info', from: 'now-30m', to: 'now' }, page: { limit: 20 }, sort: '-timestamp' };
    const first = await callDatadog(plain.url, SEARCH, { body });
    const next = new URL(first.body.links.next);
    expect(next.pathname).toBe('/api/v2/logs/events');
    const viaLink = await callDatadog(plain.url, next.pathname + next.search);
    const viaCursor = await callDatadog(plain.url, SEARCH, { body: { ...body, page: { limit: 20, cursor: first.body.meta.page.after } } });
    expect(viaLink.body.data.map((e: LogEvent) => e.id)).toEqual(viaCursor.body.data.map((e: LogEvent) => e.id));
    expect(viaLink.body.data[0].id).not.toBe(first.body.data[0].id);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await callDatadog(plain.url, SEARCH, { body: '{"filter":' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: ['Invalid JSON in request body'] });
  });
});

describe('with the spec validator wired in', () => {
  it('records an invalid request as a violation and answers 400', async () => {
    const strict = await startTestSimulator({ clock });
    try {
      const res = await callDatadog(strict.url, SEARCH, { body: { page: { limit: 5000 } } });
      expect(res.status).toBe(400);
      expect(res.body.errors.join()).toMatch(/limit/);
      expect(strict.invalidCount).toBe(1);
      expect(strict.requests[0]?.violations.join()).toMatch(/<= 1000/);
      expect(() => strict.assertNoViolations()).toThrow(/broke the Datadog API spec[\s\S]*POST \/api\/v2\/logs\/events\/search/);
    } finally {
      await strict.close();
    }
  });
});
