import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS, RATE_LIMIT_NAMES } from '@tinkr/datadog-simulator';
import { systemClock } from '../../src/clock.ts';
import { createCredentialStore } from '../../src/secrets/store.ts';
import type { SecretSource } from '../../src/secrets/source.ts';
import type { DatadogCredentials } from '../../src/secrets/types.ts';
import { startMetricsListener, type MetricsListener } from '../../src/telemetry/metrics-listener.ts';
import { createPrometheusTelemetry, MAX_RATE_LIMIT_NAMES, type PrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { eventually } from '../helpers/eventually.ts';
import { parsePrometheus, scrape, valueOf, type Sample } from '../helpers/prometheus.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * The Prometheus exporter wired into the real stack (simulator → pipeline → server), scraped
 * over its own listener after traffic: every counter moves by exactly the traffic sent.
 */

const ROTATED: DatadogCredentials = { apiKey: 'rotated-api-key-0000000000000000', appKey: 'rotated-app-key-00000000000000000000000' };

/** Short, so the timeout case ends quickly; above the 1.5 s latency the in-flight case injects. */
const REQUEST_TIMEOUT_MS = 3_000;

let exporter: PrometheusTelemetry;
let listener: MetricsListener;
let stack: Stack;
let secretKeys: DatadogCredentials = { ...DEFAULT_DEMO_KEYS };
/**
 * A number no other request of this file used: each request that must reach Datadog asks
 * something new, so the response cache and coalescing (tested on their own) answer none of them.
 */
let lastUnique = 1;
const unique = () => ++lastUnique;

beforeAll(async () => {
  exporter = createPrometheusTelemetry({ version: '9.9.9-test' });
  listener = await startMetricsListener(exporter, { host: '127.0.0.1', port: 0 });
  // A secret source whose value the test changes, so a Datadog 403 leads to a real refresh.
  const source: SecretSource = {
    provider: 'aws',
    secretRef: 'test/datadog',
    location: 'region test-1',
    describe: () => 'aws test/datadog',
    fetch: async () => ({ ...secretKeys }),
    close: async () => {},
  };
  const credentials = createCredentialStore({
    initial: { ...DEFAULT_DEMO_KEYS },
    source,
    clock: systemClock,
    timeoutMs: 5_000,
    minRefreshIntervalMs: 0,
    log: pino({ level: 'silent' }),
    onRefresh: (outcome) => exporter.secretsRefresh(outcome),
  });
  stack = await startStack({ telemetry: exporter, credentials, server: { requestTimeoutMs: REQUEST_TIMEOUT_MS } });
});
afterAll(async () => {
  await stack.close();
  await listener.close();
});
beforeEach(async () => {
  // Real time passes here: a panel asked again after its step is refreshed in the background.
  await stack.settle();
  stack.sim.faults.clear();
});

/** Scrapes before and after `traffic`; returns a function giving the change of one series. */
async function delta(traffic: () => Promise<void>): Promise<(name: string, labels?: Record<string, string>) => number> {
  const before = await scrape(listener.url);
  await traffic();
  const after = await scrape(listener.url);
  return (name, labels = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
}

describe('HTTP metrics', () => {
  it('count requests by method, route pattern and status, with a latency histogram', async () => {
    const d = await delta(async () => {
      for (let i = 0; i < 3; i++) expect((await stack.app.get(`/logs?since=5m&limit=${unique()}`)).status).toBe(200);
      expect((await stack.app.get('/traces/123')).status).toBe(404);
      expect((await stack.app.get('/traces/456')).status).toBe(404);
      expect((await stack.app.get('/logs', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await stack.app.get('/no-such-route-a')).status).toBe(404);
      expect((await stack.app.get('/no-such-route-b?x=1')).status).toBe(404);
      expect((await stack.app.post('/api/v1/logs', { service: 'checkout', limit: 1 })).status).toBe(400);
    });
    expect(d('tinkr_http_requests_total', { method: 'GET', route: '/logs', status: '200' })).toBe(3);
    expect(d('tinkr_http_requests_total', { method: 'GET', route: '/logs', status: '401' })).toBe(1);
    // The route pattern, never the raw URL: two trace ids, two unknown paths, one series each.
    expect(d('tinkr_http_requests_total', { method: 'GET', route: '/traces/:trace_id', status: '404' })).toBe(2);
    expect(d('tinkr_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(2);
    expect(d('tinkr_http_requests_total', { method: 'POST', route: '/api/v1/logs', status: '400' })).toBe(1);
    expect(d('tinkr_http_requests_total')).toBe(9);
    expect(d('tinkr_http_request_duration_seconds_count', { route: '/logs', status: '200' })).toBe(3);
    expect(d('tinkr_http_request_duration_seconds_bucket', { route: '/logs', status: '200', le: '+Inf' })).toBe(3);
    expect(d('tinkr_http_request_duration_seconds_sum', { route: '/logs', status: '200' })).toBeGreaterThan(0);

    const all = await scrape(listener.url);
    const routes = new Set(all.filter((s) => s.name === 'tinkr_http_requests_total').map((s) => s.labels.route));
    expect([...routes].filter((r) => /123|456|no-such/.test(r ?? ''))).toEqual([]);
    expect(valueOf(all, 'tinkr_http_requests_in_flight')).toBe(0);
  });

  it('shows a slow request in flight, and an abandoned one as aborted', async () => {
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_500, endpoint: 'logs' });
    const pending = stack.app.get(`/logs?since=5m&limit=${unique()}`);
    await eventually(async () => valueOf(await scrape(listener.url), 'tinkr_http_requests_in_flight') === 1, 'the request is in flight');
    expect((await pending).status).toBe(200);
    expect(valueOf(await scrape(listener.url), 'tinkr_http_requests_in_flight')).toBe(0);

    const d = await delta(async () => {
      stack.sim.faults.add({ kind: 'latency', delayMs: 5_000, endpoint: 'logs' });
      stack.sim.resetRequests();
      const controller = new AbortController();
      const abandoned = stack.app.get(`/logs?since=5m&limit=${unique()}`, { signal: controller.signal }).catch((e: unknown) => e);
      await eventually(() => stack.sim.callCount('logs') === 1, 'the upstream call started');
      controller.abort();
      expect(await abandoned).toBeInstanceOf(Error);
      await eventually(async () => valueOf(await scrape(listener.url), 'tinkr_http_requests_in_flight') === 0, 'the gauge is back to 0');
    });
    expect(d('tinkr_http_requests_total', { route: '/logs', status: 'aborted' })).toBe(1);
  });
});

describe('upstream metrics', () => {
  it('count calls to Datadog by family and outcome (retries included), with latency', async () => {
    const d = await delta(async () => {
      stack.sim.faults.add({ kind: 'status', status: 503, endpoint: 'logs' });
      expect((await stack.app.get(`/logs?since=5m&limit=${unique()}`)).status).toBe(200);
      expect((await stack.app.get(`/metrics?metric=system.cpu.user&since=${unique()}h`)).status).toBe(200);
      expect((await stack.app.get(`/traces?since=15m&limit=${unique()}`)).status).toBe(200);
    });
    expect(d('tinkr_upstream_requests_total', { family: 'logs', outcome: '503' })).toBe(1);
    expect(d('tinkr_upstream_requests_total', { family: 'logs', outcome: '200' })).toBe(1);
    expect(d('tinkr_upstream_requests_total', { family: 'metrics', outcome: '200' })).toBe(1);
    expect(d('tinkr_upstream_requests_total', { family: 'spans' })).toBeGreaterThanOrEqual(1);
    expect(d('tinkr_upstream_request_duration_seconds_count', { family: 'logs' })).toBe(2);
    expect(d('tinkr_upstream_request_duration_seconds_count', { family: 'metrics' })).toBe(1);
  });

  it('count an upstream timeout as outcome="timeout"', async () => {
    const d = await delta(async () => {
      stack.sim.faults.add({ kind: 'latency', delayMs: 10 * REQUEST_TIMEOUT_MS, endpoint: 'metrics' });
      expect((await stack.app.get(`/metrics?metric=system.cpu.user&since=${unique()}h`)).status).toBe(504);
    });
    expect(d('tinkr_upstream_requests_total', { family: 'metrics', outcome: 'timeout' })).toBe(1);
    expect(d('tinkr_http_requests_total', { route: '/metrics', status: '504' })).toBe(1);
  });

  it('keep the last X-RateLimit-Remaining and Limit per limit name', async () => {
    expect((await stack.app.get(`/logs?since=5m&limit=${unique()}`)).status).toBe(200);
    const samples = await scrape(listener.url);
    const name = RATE_LIMIT_NAMES.logs;
    expect(valueOf(samples, 'tinkr_datadog_ratelimit_limit', { name })).toBe(stack.sim.rateLimit.get('logs').limit);
    expect(valueOf(samples, 'tinkr_datadog_ratelimit_remaining', { name })).toBe(stack.sim.rateLimit.remaining('logs'));
  });

  it('count query answers by cache outcome', async () => {
    const logs = `/logs?since=5m&limit=${unique()}`;
    const traces = `/traces?since=15m&limit=${unique()}`;
    const d = await delta(async () => {
      expect((await stack.app.get(logs)).headers.get('x-tinkr-cache')).toBe('miss');
      expect((await stack.app.get(logs)).headers.get('x-tinkr-cache')).toBe('hit');
      expect((await stack.app.get(logs, { headers: { 'cache-control': 'no-cache' } })).headers.get('x-tinkr-cache')).toBe('bypass');
      expect((await stack.app.get(traces)).headers.get('x-tinkr-cache')).toBe('miss');
      const together = await Promise.all([stack.app.get(`${traces}&sort=asc`), stack.app.get(`${traces}&sort=asc`)]);
      expect(together.map((r) => r.headers.get('x-tinkr-cache')).sort()).toEqual(['coalesced', 'miss']);
    });
    expect(d('tinkr_cache_outcomes_total', { family: 'logs', outcome: 'miss' })).toBe(1);
    expect(d('tinkr_cache_outcomes_total', { family: 'logs', outcome: 'hit' })).toBe(1);
    expect(d('tinkr_cache_outcomes_total', { family: 'logs', outcome: 'bypass' })).toBe(1);
    expect(d('tinkr_cache_outcomes_total', { family: 'spans', outcome: 'miss' })).toBe(2);
    expect(d('tinkr_cache_outcomes_total', { family: 'spans', outcome: 'coalesced' })).toBe(1);
    expect(d('tinkr_coalesced_requests_total', { family: 'spans' })).toBe(1);
  });

  it('count a secret refresh after Datadog refuses rotated keys', async () => {
    const d = await delta(async () => {
      secretKeys = { ...ROTATED };
      stack.sim.setKeys(ROTATED);
      expect((await stack.app.get(`/logs?since=5m&limit=${unique()}`)).status).toBe(200);
    });
    expect(d('tinkr_secrets_refreshes_total', { outcome: 'changed' })).toBe(1);
    expect(d('tinkr_upstream_requests_total', { family: 'logs', outcome: '403' })).toBe(1);
    expect(d('tinkr_upstream_requests_total', { family: 'logs', outcome: '200' })).toBe(1);
  });
});

describe('the metrics listener', () => {
  it('serves the text format with build info and the process/Node.js defaults', async () => {
    const res = await fetch(listener.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/# TYPE tinkr_http_requests_total counter/);
    expect(text).toMatch(/# TYPE tinkr_http_request_duration_seconds histogram/);
    const samples = parsePrometheus(text);
    expect(valueOf(samples, 'tinkr_build_info', { version: '9.9.9-test' })).toBe(1);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(samples.some((s) => s.name === name), name).toBe(true);
    }
    // Every series we own follows the naming rules: tinkr_ prefix, base units, _total counters.
    const ours = samples.filter((s) => s.name.startsWith('tinkr_'));
    expect(ours.every((s) => !/_ms$|milliseconds/.test(s.name))).toBe(true);
  });

  it('answers 404 off /metrics, 405 to other methods, and HEAD without a body', async () => {
    const base = listener.url.replace(/\/metrics$/, '');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/logs`)).status).toBe(404);
    const post = await fetch(listener.url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(listener.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('closes idempotently and stops listening', async () => {
    const other = await startMetricsListener(createPrometheusTelemetry({ version: 'x', defaultMetrics: false }), { host: '127.0.0.1', port: 0 });
    expect((await fetch(other.url)).status).toBe(200);
    await Promise.all([other.close(), other.close()]);
    await expect(fetch(other.url)).rejects.toThrow();
  });
});

describe('the exporter alone', () => {
  it('has its own registry: two exporters in one process do not share series', async () => {
    const a = createPrometheusTelemetry({ version: 'a', defaultMetrics: false });
    const b = createPrometheusTelemetry({ version: 'b', defaultMetrics: false });
    a.cacheOutcome('logs', 'coalesced');
    a.cacheOutcome('logs', 'coalesced');
    a.cacheOutcome('metrics', 'hit');
    const sa = parsePrometheus(await a.metrics());
    const sb = parsePrometheus(await b.metrics());
    expect(valueOf(sa, 'tinkr_cache_outcomes_total', { family: 'logs', outcome: 'coalesced' })).toBe(2);
    expect(valueOf(sa, 'tinkr_coalesced_requests_total', { family: 'logs' })).toBe(2);
    expect(valueOf(sa, 'tinkr_coalesced_requests_total', { family: 'metrics' })).toBe(0);
    expect(valueOf(sb, 'tinkr_cache_outcomes_total')).toBe(0);
  });

  it('exports the series of every known label value at 0 before anything happens', async () => {
    // So increase() sees the first event (a counter born at 1 has no earlier sample).
    const samples = parsePrometheus(await createPrometheusTelemetry({ version: 'z', defaultMetrics: false }).metrics());
    const zeros = (name: string) => samples.filter((s) => s.name === name && s.value === 0).length;
    // Five families (logs, spans, metrics and the two aggregates); five gate outcomes (waited, reserve, paced, exhausted, share).
    expect(zeros('tinkr_budget_gate_total')).toBe(5 * 5);
    expect(zeros('tinkr_cache_outcomes_total')).toBe(5 * 5);
    expect(zeros('tinkr_coalesced_requests_total')).toBe(5);
    expect(zeros('tinkr_http_requests_shed_total')).toBe(4);
    expect(zeros('tinkr_tail_polls_total')).toBe(4);
    expect(zeros('tinkr_tail_events_total')).toBe(2);
    expect(samples.filter((s) => s.name === 'tinkr_secrets_refreshes_total').map((s) => s.labels.outcome).sort()).toEqual(['changed', 'failed', 'unchanged']);
    // The key check starts unchecked; every status is a series, so an alert can match one.
    expect(samples.filter((s) => s.name === 'tinkr_datadog_keys_status').map((s) => `${s.labels.status}=${s.value}`).sort()).toEqual([
      'ok=0',
      'rejected=0',
      'unchecked=1',
      'unreachable=0',
    ]);
    // Open-ended labels (status codes, route patterns, limit names) appear only when seen.
    expect(samples.some((s) => s.name === 'tinkr_upstream_requests_total' || s.name === 'tinkr_http_requests_total')).toBe(false);
  });

  it('counts the budget gate holding requests, by family and outcome', async () => {
    const t = createPrometheusTelemetry({ version: 'g', defaultMetrics: false });
    t.budgetGate('spans', 'exhausted');
    t.budgetGate('spans', 'exhausted');
    t.budgetGate('logs', 'reserve');
    const samples = parsePrometheus(await t.metrics());
    expect(valueOf(samples, 'tinkr_budget_gate_total', { family: 'spans', outcome: 'exhausted' })).toBe(2);
    expect(valueOf(samples, 'tinkr_budget_gate_total', { family: 'logs', outcome: 'reserve' })).toBe(1);
    expect(valueOf(samples, 'tinkr_budget_gate_total', { family: 'logs', outcome: 'waited' })).toBe(0);
  });

  it(`tracks at most ${MAX_RATE_LIMIT_NAMES} rate-limit names, and keeps updating the known ones`, async () => {
    const t = createPrometheusTelemetry({ version: 'x', defaultMetrics: false });
    for (let i = 0; i < MAX_RATE_LIMIT_NAMES + 20; i++) t.rateLimit({ name: `name-${i}`, limit: 100, periodS: 60, remaining: i, resetS: 1 });
    t.rateLimit({ name: 'name-0', limit: 100, periodS: 60, remaining: 42, resetS: 1 });
    const samples: Sample[] = parsePrometheus(await t.metrics());
    expect(samples.filter((s) => s.name === 'tinkr_datadog_ratelimit_remaining')).toHaveLength(MAX_RATE_LIMIT_NAMES);
    expect(valueOf(samples, 'tinkr_datadog_ratelimit_remaining', { name: 'name-0' })).toBe(42);
  });

  it('never throws on odd durations, and counts shed requests and refreshes by reason', async () => {
    const t = createPrometheusTelemetry({ version: 'x', defaultMetrics: false });
    expect(() => {
      t.upstreamCall('logs', 'error', Number.NaN);
      t.upstreamCall('logs', 'error', -5);
      t.httpRequestStarted();
      t.httpRequestEnded({ method: 'GET', route: '/logs', status: 200, durationMs: Number.POSITIVE_INFINITY });
      t.requestShed('heap_used');
      t.requestShed('shutting_down');
      t.secretsRefresh('failed');
    }).not.toThrow();
    const samples = parsePrometheus(await t.metrics());
    expect(valueOf(samples, 'tinkr_upstream_request_duration_seconds_sum', { family: 'logs' })).toBe(0);
    expect(valueOf(samples, 'tinkr_http_requests_shed_total', { reason: 'heap_used' })).toBe(1);
    expect(valueOf(samples, 'tinkr_http_requests_shed_total', { reason: 'shutting_down' })).toBe(1);
    expect(valueOf(samples, 'tinkr_secrets_refreshes_total', { outcome: 'failed' })).toBe(1);
  });

  it('exports tinkr_store_up only once a shared store reports, then 1 or 0 as it goes', async () => {
    const t = createPrometheusTelemetry({ version: 'x', defaultMetrics: false });
    expect(parsePrometheus(await t.metrics()).some((s) => s.name === 'tinkr_store_up')).toBe(false);
    t.storeUp(true);
    expect(valueOf(parsePrometheus(await t.metrics()), 'tinkr_store_up')).toBe(1);
    t.storeUp(false);
    expect(valueOf(parsePrometheus(await t.metrics()), 'tinkr_store_up')).toBe(0);
    expect(await t.metrics()).toContain('# TYPE tinkr_store_up gauge');
  });

  it('exports tinkr_fleet_flights_total with the store, every family and outcome from zero', async () => {
    const t = createPrometheusTelemetry({ version: 'x', defaultMetrics: false });
    expect(parsePrometheus(await t.metrics()).some((s) => s.name === 'tinkr_fleet_flights_total')).toBe(false);
    t.storeUp(false);
    t.fleetFlight('spans', 'took_over');
    t.fleetFlight('spans', 'took_over');
    const samples = parsePrometheus(await t.metrics());
    expect(valueOf(samples, 'tinkr_fleet_flights_total', { family: 'spans', outcome: 'took_over' })).toBe(2);
    expect(valueOf(samples, 'tinkr_fleet_flights_total', { family: 'logs', outcome: 'read' })).toBe(0);
    const outcomes = new Set(samples.filter((s) => s.name === 'tinkr_fleet_flights_total').map((s) => s.labels.outcome));
    expect([...outcomes].sort()).toEqual(['alone', 'produced', 'read', 'took_over']);
  });
});
