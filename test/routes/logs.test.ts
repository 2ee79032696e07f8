import { describe, expect, it } from 'vitest';
import { QUIRKY_SERVICE, type LogEvent } from '@tinkr/datadog-simulator';
import { levelOf } from '../../src/datadog/levels.ts';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * GET /logs against the simulator. Expected answers come from the simulator's ground truth
 * (every log in the range, filtered here in the test), never from what the code returns.
 */
const { clock, stack } = sharedStack({ reset: { faults: true, clock: true } });

/** Every log of the range, newest first, as a complete client would see it. */
function allLogs(fromMs: number, toMs: number): LogEvent[] {
  return stack.sim.truth.logs({ query: '*', from: fromMs, to: toMs });
}

async function getLogs(path: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await stack.app.get(path);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

describe('GET /logs', () => {
  it('returns the newest logs of a service with every documented field', async () => {
    const { status, body, headers } = await getLogs('/logs?service=payments-api&since=1h&limit=20');
    expect(status).toBe(200);
    expect(headers.get('x-tinkr-cache')).toBe('miss');
    expect(body.meta).toMatchObject({ from: '2026-11-25T03:00:00.000Z', to: '2026-11-25T04:00:00.000Z', count: 20, partial: false, warnings: [] });
    const expected = allLogs(NOW - 3_600_000, NOW).filter((l) => l.attributes.service === 'payments-api').slice(0, 20);
    expect(body.data.map((l: { id: string }) => l.id)).toEqual(expected.map((l) => l.id));
    const first = expected[0]!;
    const dd = first.attributes.attributes.dd as { trace_id?: string; span_id?: string } | undefined;
    expect(body.data[0]).toEqual({
      id: first.id,
      timestamp: new Date(first.attributes.timestamp).toISOString(),
      service: 'payments-api',
      level: levelOf(first.attributes.status),
      status: first.attributes.status,
      message: first.attributes.message,
      host: first.attributes.host,
      trace_id: dd?.trace_id ?? null,
      span_id: dd?.span_id ?? null,
      tags: first.attributes.tags,
      attributes: first.attributes.attributes,
    });
  });

  it('carries trace ids from log injection where the logs have them', async () => {
    const { body } = await getLogs('/logs?service=checkout&since=1h&limit=200');
    const withTrace = body.data.filter((l: { trace_id: string | null }) => l.trace_id !== null);
    expect(withTrace.length).toBeGreaterThan(0);
    for (const log of withTrace) expect(log.trace_id).toMatch(/^(\d+|[0-9a-f]{32})$/);
  });

  it('filters by normalized level, covering every raw status of each level', async () => {
    const { body } = await getLogs('/logs?service=payments-api,ledger&level=critical,warn&since=6h&limit=5000');
    const expected = allLogs(NOW - 6 * 3_600_000, NOW).filter(
      (l) => ['payments-api', 'ledger'].includes(l.attributes.service) && ['critical', 'warn'].includes(levelOf(l.attributes.status)),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(body.data.map((l: { id: string }) => l.id)).toEqual(expected.map((l) => l.id));
    const raw = new Set(body.data.map((l: { status: string }) => l.status));
    expect([...raw].some((s) => s !== 'critical' && s !== 'warn')).toBe(true);
  });

  it('pages upstream 1000 at a time to fill a limit of 5000', async () => {
    stack.sim.resetRequests();
    const { body } = await getLogs('/logs?since=24h&limit=2500');
    const expected = allLogs(NOW - 86_400_000, NOW);
    expect(expected.length).toBeGreaterThan(5000);
    expect(body.data.map((l: { id: string }) => l.id)).toEqual(expected.slice(0, 2500).map((l) => l.id));
    expect(stack.sim.requests.map((r) => (r.body as { page: { limit: number } }).page.limit)).toEqual([1000, 1000, 500]);
    expect(body.meta.next_cursor).toEqual(expect.any(String));
  });

  it('continues with next_cursor: no overlap, no gap, even after "now" has moved', async () => {
    const first = await getLogs('/logs?service=checkout&since=2h&limit=300');
    clock.advance(10 * 60_000);
    const second = await getLogs(`/logs?service=checkout&since=2h&limit=300&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`);
    expect(second.status).toBe(200);
    expect(second.body.meta.from).toBe(first.body.meta.from);
    expect(second.body.meta.to).toBe(first.body.meta.to);
    const expected = allLogs(NOW - 7_200_000, NOW).filter((l) => l.attributes.service === 'checkout');
    const ids = [...first.body.data, ...second.body.data].map((l: { id: string }) => l.id);
    expect(ids).toEqual(expected.slice(0, 600).map((l) => l.id));
  });

  it('refuses a cursor with different parameters', async () => {
    const first = await getLogs('/logs?service=checkout&since=1h&limit=10');
    const reused = await getLogs(`/logs?service=ledger&since=1h&limit=10&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`);
    expect(reused.status).toBe(400);
    expect(reused.body.detail).toMatch(/different query/);
  });

  it('sorts oldest first on request', async () => {
    const { body } = await getLogs('/logs?service=ledger&since=30m&sort=asc&limit=50');
    const expected = allLogs(NOW - 1_800_000, NOW).filter((l) => l.attributes.service === 'ledger').reverse().slice(0, 50);
    expect(body.data.map((l: { id: string }) => l.id)).toEqual(expected.map((l) => l.id));
  });

  it('converts offsets and epoch milliseconds to the right instants', async () => {
    const { body } = await getLogs(`/logs?from=${encodeURIComponent('2026-11-25T09:00:00+05:30')}&to=${NOW}&limit=1`);
    expect(body.meta.from).toBe('2026-11-25T03:30:00.000Z');
    expect(body.meta.to).toBe('2026-11-25T04:00:00.000Z');
    const sent = stack.sim.requests.at(-1)!.body as { filter: { from: string; to: string } };
    expect(sent.filter).toMatchObject({ from: '2026-11-25T03:30:00.000Z', to: '2026-11-25T04:00:00.000Z' });
  });

  it("composes the caller's query with the filters by AND", async () => {
    const { body } = await getLogs(`/logs?service=checkout&since=3h&limit=5000&query=${encodeURIComponent('@http.status_code:[500 TO 599] OR status:emerg')}`);
    const expected = allLogs(NOW - 3 * 3_600_000, NOW).filter((l) => {
      const code = (l.attributes.attributes.http as { status_code?: number } | undefined)?.status_code;
      return l.attributes.service === 'checkout' && ((code !== undefined && code >= 500 && code <= 599) || l.attributes.status === 'emerg');
    });
    expect(expected.length).toBeGreaterThan(0);
    expect(body.data.map((l: { id: string }) => l.id)).toEqual(expected.map((l) => l.id));
  });

  it('quotes service names so that no value can change the query', async () => {
    const quirky = await getLogs(`/logs?service=${encodeURIComponent(QUIRKY_SERVICE)}&since=24h&limit=100`);
    expect(quirky.status).toBe(200);
    expect(quirky.body.data.length).toBeGreaterThan(0);
    for (const log of quirky.body.data) expect(log.service).toBe(QUIRKY_SERVICE);

    const hostile = await getLogs(`/logs?service=${encodeURIComponent('x") OR service:("payments-api')}&since=1h&limit=100`);
    expect(hostile.status).toBe(200);
    expect(hostile.body.data).toEqual([]);
  });

  it('passes storage_tier and indexes through, with Datadog warnings in meta', async () => {
    const { body } = await getLogs('/logs?since=1h&limit=5&storage_tier=flex&indexes=main,nope');
    const sent = stack.sim.requests.at(-1)!.body as { filter: Record<string, unknown> };
    expect(sent.filter).toMatchObject({ storage_tier: 'flex', indexes: ['main', 'nope'] });
    expect(body.meta.warnings).toEqual([expect.objectContaining({ code: 'datadog_unknown_index' })]);
    expect(body.data).toHaveLength(5);
  });
});
