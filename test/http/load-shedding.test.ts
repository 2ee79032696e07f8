import { afterEach, describe, expect, it } from 'vitest';
import { DRAIN_RETRY_AFTER_S, SHED_RETRY_AFTER_S, type LoadSheddingOptions } from '../../src/http/load-shedding.ts';
import { createPrometheusTelemetry, type PrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { startApp, TEST_TOKEN, type TestApp } from '../helpers/app.ts';
import { eventually } from '../helpers/eventually.ts';
import { parsePrometheus, valueOf } from '../helpers/prometheus.ts';
import { openSocket, rawGet, readResponses } from '../helpers/raw-http.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * Load shedding, crossed on purpose: thresholds the test process is sure to exceed (a heap
 * ceiling of 1 byte), or an event loop blocked in-process for a measured moment. Assertions are
 * on statuses and headers only; waits are bounded polls, never timing assertions.
 */

const OFF: LoadSheddingOptions = { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0, maxRssBytes: 0 };
/** Pressure is sampled this often in these tests, instead of every second. */
const SAMPLE_MS = 10;

let app: TestApp | undefined;
let stack: Stack | undefined;
afterEach(async () => {
  await app?.close();
  await stack?.close();
  app = undefined;
  stack = undefined;
});

async function shedCount(telemetry: PrometheusTelemetry, reason: string): Promise<number> {
  return valueOf(parsePrometheus(await telemetry.metrics()), 'tinkr_http_requests_shed_total', { reason });
}

async function expectShed(res: Response, retryAfterS: number, detail: RegExp): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.headers.get('retry-after')).toBe(String(retryAfterS));
  const body = (await res.json()) as { detail: string };
  expect(body).toMatchObject({ status: 503, code: 'NOT_READY', title: 'Not ready' });
  expect(body.detail).toMatch(detail);
  // No internals (memory figures, thresholds, stack frames) in what the caller sees.
  expect(body.detail).not.toMatch(/heap|rss|\d{4,}|\.ts\b/i);
  expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'request_id', 'status', 'title', 'type']);
}

describe('under memory pressure', () => {
  it.each<[string, Partial<LoadSheddingOptions>, string]>([
    ['heap', { maxHeapUsedBytes: 1 }, 'heap_used'],
    ['RSS', { maxRssBytes: 1 }, 'rss'],
  ])('over the %s ceiling: 503 NOT_READY with Retry-After; /healthz still 200, /readyz 503', async (_what, limits, reason) => {
    const telemetry = createPrometheusTelemetry({ version: 't', defaultMetrics: false });
    app = await startApp({ telemetry, loadShedding: { ...OFF, ...limits, sampleIntervalMs: SAMPLE_MS } });
    await eventually(() => app!.app.isUnderPressure(), 'the first pressure sample');

    await expectShed(await app.get('/logs?since=5m'), SHED_RETRY_AFTER_S, /the server is overloaded/);
    // Shedding comes before authentication: refusing work must stay cheap.
    await expectShed(await app.get('/logs', { headers: { authorization: 'Bearer nope' } }), SHED_RETRY_AFTER_S, /overloaded/);
    await expectShed(await app.post('/api/v1/logs', { service: 'checkout' }), SHED_RETRY_AFTER_S, /overloaded/);
    // Readiness says "send traffic elsewhere"; liveness must not flap, or the orchestrator restarts a busy server.
    await expectShed(await app.get('/readyz'), SHED_RETRY_AFTER_S, /overloaded/);
    const live = await app.get('/healthz');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    expect(await shedCount(telemetry, reason)).toBe(4);
  });

  it('sheds a browser call with its CORS headers, so the page can read the 503 and its Retry-After', async () => {
    const origin = 'https://grafana.example.com';
    app = await startApp({ corsOrigins: [origin], loadShedding: { ...OFF, maxHeapUsedBytes: 1, sampleIntervalMs: SAMPLE_MS } });
    await eventually(() => app!.app.isUnderPressure(), 'the first pressure sample');
    const res = await app.get('/logs?since=5m', { headers: { origin } });
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-expose-headers')).toMatch(/retry-after/);
    await expectShed(res, SHED_RETRY_AFTER_S, /overloaded/);
  });

  it('serves normally with the checks off (0), whatever the heap', async () => {
    app = await startApp({ loadShedding: { ...OFF, sampleIntervalMs: SAMPLE_MS } });
    expect(app.app.isUnderPressure()).toBe(false);
    expect((await app.get('/readyz')).status).toBe(200);
  });
});

describe('under event-loop lag', () => {
  it('sheds while the loop lags and serves again once it catches up', async () => {
    const telemetry = createPrometheusTelemetry({ version: 't', defaultMetrics: false });
    // A 1 s block within a 200 ms sample yields a mean delay of at least (1000 - 10) / 21 ≈ 47 ms.
    const sampleIntervalMs = 200;
    app = await startApp({ telemetry, loadShedding: { ...OFF, maxEventLoopDelayMs: 30, sampleIntervalMs } });
    expect((await app.get('/readyz')).status).toBe(200);

    let shed: Response | undefined;
    for (let attempt = 0; attempt < 5 && !shed; attempt++) {
      const until = performance.now() + 1_000;
      while (performance.now() < until) {
        // Blocks the event loop, as a runaway synchronous computation would.
      }
      await eventually(() => app!.app.isUnderPressure(), 'the lag to be sampled', 5_000);
      const res = await app.get('/readyz');
      if (res.status === 503) shed = res;
    }
    expect(shed).toBeDefined();
    await expectShed(shed!, SHED_RETRY_AFTER_S, /overloaded/);
    expect(await shedCount(telemetry, 'event_loop_delay')).toBeGreaterThanOrEqual(1);

    await eventually(() => !app!.app.isUnderPressure(), 'the loop to catch up', 5_000);
    expect((await app.get('/readyz')).status).toBe(200);
  });
});

describe('while draining for shutdown', () => {
  it('finishes in-flight requests; a request arriving on an open connection gets 503 NOT_READY, except /healthz', async () => {
    const telemetry = createPrometheusTelemetry({ version: 't', defaultMetrics: false });
    stack = await startStack({ telemetry });
    const { port } = new URL(stack.app.url);
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs', times: 3 });

    // Three keep-alive connections, each busy with a slow request when the drain starts.
    const sockets = await Promise.all([0, 1, 2].map(() => openSocket(Number(port))));
    const answers = sockets.map(readResponses);
    // Three different queries: identical ones would share one upstream call.
    sockets.forEach((s, i) => s.write(rawGet(`/logs?since=5m&limit=${i + 2}`, TEST_TOKEN)));
    await eventually(() => stack!.sim.callCount('logs') === 3, 'all three are in flight');

    const closing = stack.app.app.close();
    sockets[0]!.write(rawGet('/readyz'));
    sockets[1]!.write(rawGet('/logs?since=5m&limit=2', TEST_TOKEN));
    sockets[2]!.write(rawGet('/healthz'));
    const [readyz, logs, healthz] = await Promise.all(answers);
    await closing;

    [readyz!, logs!, healthz!].forEach((pair, i) => {
      expect(pair[0]!.status).toBe(200);
      expect(JSON.parse(pair[0]!.body).data).toHaveLength(i + 2);
    });
    for (const late of [readyz![1]!, logs![1]!]) {
      expect(late.status).toBe(503);
      expect(late.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(late.headers['retry-after']).toBe(String(DRAIN_RETRY_AFTER_S));
      expect(late.headers.connection).toBe('close');
      expect(JSON.parse(late.body)).toMatchObject({ code: 'NOT_READY', detail: expect.stringMatching(/shutting down/) });
    }
    expect(healthz![1]!.status).toBe(200);
    expect(await shedCount(telemetry, 'shutting_down')).toBe(2);
    // No new connections once the drain has begun.
    await expect(openSocket(Number(port))).rejects.toThrow(/ECONNREFUSED/);
  });
});
