import { afterEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { DEFAULT_LOOKBACK_MS, DEFAULT_OVERLAP_MS, MIN_POLL_INTERVAL_MS } from '../../src/tail/options.ts';
import { createPrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { DEFAULT_KEYS } from '../helpers/app.ts';
import { eventually } from '../helpers/eventually.ts';
import { openSse } from '../helpers/sse.ts';
import { sharedStack } from '../helpers/stack.ts';
import { tailHarness } from '../helpers/tail.ts';

/**
 * GET /logs/tail through the real server and simulator. The simulator's logs are a pure function
 * of its clock, so new logs "arrive" as the test moves the shared ManualClock; what each
 * subscriber must get is the simulator's ground truth of the logs that appeared meanwhile.
 */
const INTERVAL = MIN_POLL_INTERVAL_MS;
const SCOPED_TOKEN = 'tail-test-scoped-token';
const QUOTA_TOKEN = 'tail-test-quota-token';
const OTHER_TOKEN = 'tail-test-other-viewer-token';
const ORIGIN = 'https://grafana.example.com';
const REQUEST_TIMEOUT_MS = 10_000;

const telemetry = createPrometheusTelemetry({ version: 'test', defaultMetrics: false });
const { clock, stack } = sharedStack({
  telemetry,
  // A budget no test here reaches: pacing has its own tests.
  simulator: { rateLimits: { logs: { limit: 1_000_000, periodS: 3_600 } } },
  keys: [
    ...DEFAULT_KEYS,
    { hash: sha256Hex(SCOPED_TOKEN), subject: 'team-checkout', roles: ['viewer'], services: ['checkout'] },
    { hash: sha256Hex(QUOTA_TOKEN), subject: 'quota', roles: ['viewer'], quota: { requests: 2, per: '1h' } },
    { hash: sha256Hex(OTHER_TOKEN), subject: 'other-viewer', roles: ['viewer'] },
  ],
  server: { corsOrigins: [ORIGIN], requestTimeoutMs: REQUEST_TIMEOUT_MS },
  reset: { faults: true },
});
const tail = tailHarness(() => stack, clock, telemetry);
// Registered after the shared stack's hook, so it runs before it: streams close, then the check.
afterEach(() => tail.closeAll());
const { subscribe, step } = tail;
const gauge = tail.metric;

const ids = (logs: LogEvent[]) => logs.map((l) => l.id);
const visible = tail.visible;
/** The logs that appeared after a stream started at `startedAt`, as its subscribers must get them. */
const arrivedSince = (query: string, startedAt: number, before: ReadonlySet<string>) => tail.arrivedSince(query, startedAt - DEFAULT_LOOKBACK_MS, before);

describe('GET /logs/tail', () => {
  it('sends five subscribers every new log exactly once, for one upstream poll per interval', async () => {
    const query = 'service:payments-api';
    const startedAt = clock.now();
    const before = new Set(visible(query, startedAt - DEFAULT_LOOKBACK_MS));
    stack.sim.resetRequests();
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => subscribe('?service=payments-api')));
    for (const client of clients) {
      expect(client.status).toBe(200);
      expect(client.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(client.headers.get('x-request-id')).toBeTruthy();
    }
    expect(stack.sim.callCount('logs')).toBe(1);
    expect(await gauge('tinkr_tail_subscribers')).toBe(5);
    expect(await gauge('tinkr_tail_streams')).toBe(1);

    // Past the request deadline and two keep-alive periods: the streams must outlive both.
    const steps = 16;
    for (let i = 1; i <= steps; i++) {
      await step();
      expect(stack.sim.callCount('logs')).toBe(1 + i);
    }
    expect(steps * INTERVAL).toBeGreaterThan(REQUEST_TIMEOUT_MS);

    const expected = arrivedSince(query, startedAt, before);
    expect(expected.size).toBeGreaterThan(4);
    for (const client of clients) {
      await client.until((c) => c.logIds().length >= expected.size, 'every new log arrived');
      expect(client.logIds()).toHaveLength(expected.size);
      expect(new Set(client.logIds())).toEqual(expected);
      expect(client.retry).toBe(2_000);
      expect(client.comments).toContain('keep-alive');
      expect(client.ended).toBe(false);
      for (const log of client.data('log')) expect(log.service).toBe('payments-api');
    }
    // The same order for everyone, and the fields of GET /logs.
    expect(new Set(clients.map((c) => c.logIds().join()))).toHaveProperty('size', 1);
    const first = stack.sim.truth.logs({ query: `${query} AND -@dd.trace_id:*`, from: startedAt, to: clock.now(), sort: 'timestamp' })[0]!;
    expect(clients[0]!.data('log').find((l) => l.id === first.id)).toEqual(
      expect.objectContaining({ id: first.id, timestamp: first.attributes.timestamp, message: first.attributes.message, trace_id: null, tags: first.attributes.tags }),
    );

    // Each poll is one search of the shared window, newest first, as Datadog's default order.
    const bodies = stack.sim.requests.filter((r) => r.endpoint === 'logs').map((r) => r.body as any);
    expect(bodies.every((b) => b.filter.query === 'service:"payments-api"' && b.sort === '-timestamp')).toBe(true);
    expect(Date.parse(bodies[2]!.filter.from)).toBe(Date.parse(bodies[1]!.filter.to) - DEFAULT_OVERLAP_MS);

    // The last subscriber gone, the poll stops.
    for (const client of clients) client.close();
    await eventually(async () => (await gauge('tinkr_tail_streams')) === 0, 'the stream stops polling');
    const calls = stack.sim.callCount('logs');
    clock.advance(5 * INTERVAL);
    expect(stack.sim.callCount('logs')).toBe(calls);
    expect(await gauge('tinkr_tail_events_total', { event: 'log' })).toBeGreaterThanOrEqual(5 * expected.size);
  });

  it('resumes after Last-Event-ID from the shared stream: no gap, no repeat', async () => {
    const query = 'service:checkout';
    const startedAt = clock.now();
    const before = new Set(visible(query, startedAt - DEFAULT_LOOKBACK_MS));
    const [a, b] = [await subscribe('?service=checkout'), await subscribe('?service=checkout')];
    while (a!.logIds().length < 3) {
      await step();
      await a!.until((c) => c.logIds().length === b!.logIds().length && c.logIds().length === arrivedSince(query, startedAt, before).size, 'a and b have every log so far');
    }
    a!.close();
    const seenByA = a!.logIds();
    for (let i = 0; i < 5; i++) await step();
    await b!.until((c) => c.logIds().length === arrivedSince(query, startedAt, before).size, 'b has every log so far');
    expect(b!.logIds().length).toBeGreaterThan(seenByA.length);

    const resumed = await subscribe('?service=checkout', { 'last-event-id': a!.lastEventId! });
    await resumed.until((c) => seenByA.length + c.logIds().length === b!.logIds().length, 'the resumed subscriber caught up');
    expect([...seenByA, ...resumed.logIds()]).toEqual(b!.logIds());
    // And it goes on live with the others.
    await step();
    await step();
    const all = arrivedSince(query, startedAt, before);
    await b!.until((c) => c.logIds().length === all.size, 'b has every log');
    await resumed.until((c) => seenByA.length + c.logIds().length === all.size, 'the resumed subscriber has every log');
    expect([...seenByA, ...resumed.logIds()]).toEqual(b!.logIds());
  });

  it('resumes after Last-Event-ID when the subscriber was alone: the poll stopped and picks up where it left off', async () => {
    const query = 'service:ledger';
    const startedAt = clock.now();
    const before = new Set(visible(query, startedAt - DEFAULT_LOOKBACK_MS));
    const a = await subscribe('?service=ledger');
    while (a.logIds().length < 2) {
      await step();
      await a.until((c) => c.logIds().length === arrivedSince(query, startedAt, before).size, 'a has every log so far');
    }
    a.close();
    await eventually(async () => (await gauge('tinkr_tail_streams')) === 0, 'the poll stops with its last subscriber');
    const calls = stack.sim.callCount('logs');
    clock.advance(10 * INTERVAL);
    expect(stack.sim.callCount('logs')).toBe(calls);

    const resumed = await subscribe('?service=ledger', { 'last-event-id': a.lastEventId! });
    const all = arrivedSince(query, startedAt, before);
    expect(all.size).toBeGreaterThan(a.logIds().length);
    await resumed.until((c) => a.logIds().length + c.logIds().length === all.size, 'the logs of the pause arrive');
    const together = [...a.logIds(), ...resumed.logIds()];
    expect(together).toHaveLength(all.size);
    expect(new Set(together)).toEqual(all);
    expect(resumed.data('warning')).toEqual([]);
  });

  it('sends the last N lines first when asked, and warns when a Last-Event-ID is no longer held', async () => {
    const newest = stack.sim.truth.logs({ query: 'service:checkout AND status:error', from: clock.now() - DEFAULT_LOOKBACK_MS, to: clock.now() });
    const client = await subscribe('?service=checkout&level=error&limit=3');
    expect(client.status).toBe(200);
    await client.until((c) => c.logIds().length === 3, 'three past lines');
    expect(client.logIds()).toEqual(ids(newest.slice(0, 3)).reverse());

    const stranger = await subscribe('?service=checkout&level=error&limit=2', { 'last-event-id': 'not-an-id-this-server-sent' });
    await stranger.until((c) => c.events.length >= 3, 'a warning, then two past lines');
    expect(stranger.events[0]).toMatchObject({ event: 'warning' });
    expect(stranger.data('warning')[0]).toMatchObject({ code: 'resume_gap' });
    expect(stranger.logIds()).toEqual(ids(newest.slice(0, 2)).reverse());
  });

  it('refuses a scoped key another service (403, before any stream) and keeps scopes apart', async () => {
    stack.sim.resetRequests();
    const refused = await subscribe('?service=payments-api', {}, SCOPED_TOKEN);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'FORBIDDEN' });
    const sneaky = await subscribe('?query=service:payments-api', {}, SCOPED_TOKEN);
    expect(sneaky.status).toBe(403);
    expect(stack.sim.callCount('logs')).toBe(0);

    // The same composed query for two scopes: two streams, two polls, never one shared answer.
    const scoped = await subscribe('?level=warn', {}, SCOPED_TOKEN);
    const unrestricted = await subscribe('?service=checkout&level=warn');
    expect([scoped.status, unrestricted.status]).toEqual([200, 200]);
    expect(stack.sim.callCount('logs')).toBe(2);
    const queries = stack.sim.requests.map((r) => (r.body as any).filter.query);
    expect(queries[0]).toBe(queries[1]);
    expect(queries[0]).toMatch(/^service:"checkout" AND status:/);
    await step(2);
    expect(stack.sim.callCount('logs')).toBe(4);
  });

  it("spends a shared poll from the key of the viewer connected longest, within that key's fair share", async () => {
    const spent = (subject: string) => gauge('tinkr_upstream_spend_total', { subject, family: 'logs' });
    const first = await subscribe('?service=checkout&level=info');
    const second = await subscribe('?service=checkout&level=info', {}, OTHER_TOKEN);
    expect([first.status, second.status]).toEqual([200, 200]);
    const [tester, other] = [await spent('tester'), await spent('other-viewer')];
    await step();
    await step();
    expect([(await spent('tester')) - tester, (await spent('other-viewer')) - other]).toEqual([2, 0]);
    first.close();
    await eventually(async () => (await gauge('tinkr_tail_subscribers')) === 1, 'the first viewer has left');
    await step();
    expect([(await spent('tester')) - tester, (await spent('other-viewer')) - other]).toEqual([2, 1]);
  });

  it('answers bad input with 400 and no upstream call', async () => {
    stack.sim.resetRequests();
    const bad = await subscribe('?service=checkout&level=loud');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).errors[0].path).toBe('level.0');
    const tooMany = await subscribe('?service=checkout&limit=1001');
    expect(tooMany.status).toBe(400);
    const unknown = await subscribe('?service=checkout&since=5m');
    expect(unknown.status).toBe(400);
    const badId = await subscribe('?service=checkout', { 'last-event-id': 'x'.repeat(300) });
    expect(badId.status).toBe(400);
    expect(JSON.parse(badId.text).errors[0].path).toBe('last-event-id');
    const anonymous = await openSse(`${stack.app.url}/logs/tail?service=checkout`);
    expect(anonymous.status).toBe(401);
    const head = await stack.app.get('/logs/tail?service=checkout', { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(stack.sim.callCount('logs')).toBe(0);

    // A query Datadog rejects is refused as GET /logs refuses it, not streamed as warnings forever.
    stack.sim.faults.add({ kind: 'status', status: 400, endpoint: 'logs', message: 'unknown facet' });
    const rejected = await subscribe('?service=checkout&query=@odd.facet:1');
    expect(rejected.status).toBe(400);
    expect(JSON.parse(rejected.text)).toMatchObject({ code: 'UPSTREAM_BAD_QUERY', detail: expect.stringContaining('unknown facet') });
    expect(await gauge('tinkr_tail_streams')).toBe(0);
  });

  it('carries CORS headers and the request id, and counts a stream as one request of the quota', async () => {
    const client = await subscribe('?service=checkout', { origin: ORIGIN, 'x-request-id': 'tail-req-1' }, QUOTA_TOKEN);
    expect(client.status).toBe(200);
    expect(client.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(client.headers.get('x-request-id')).toBe('tail-req-1');
    expect(client.headers.get('cache-control')).toBe('no-store');
    for (let i = 0; i < 3; i++) await step();
    const second = await stack.app.get('/logs?service=checkout&since=5m&limit=1', { headers: { authorization: `Bearer ${QUOTA_TOKEN}` } });
    expect(second.status).toBe(200);
    const third = await stack.app.get('/logs?service=checkout&since=5m&limit=1', { headers: { authorization: `Bearer ${QUOTA_TOKEN}` } });
    expect(third.status).toBe(429);
    expect(client.ended).toBe(false);
  });
});
