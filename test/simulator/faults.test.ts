import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogEvent } from '@tinkr/datadog-simulator';
import { FaultQueue, parseFault } from '@tinkr/datadog-simulator/faults';
import { callDatadog } from '../helpers/datadog-fetch.ts';
import { validateDatadogResponse } from '../helpers/datadog-openapi.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const LOGS = '/api/v2/logs/events/search';
const SPANS = '/api/v2/spans/events/search';
const logsBody = { filter: { from: 'now-10m', to: 'now' }, page: { limit: 10 } };
const spansBody = { data: { type: 'search_request', attributes: { filter: { from: 'now-10m' } } } };
const metricsPath = `/api/v1/query?from=${NOW / 1000 - 600}&to=${NOW / 1000}&query=avg:system.cpu.user{*}`;

let sim: TestSimulator;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(NOW);
  sim = await startTestSimulator({ clock });
});
afterEach(async () => {
  sim.assertNoViolations();
  await sim.close();
});

/** Waits for the server side to reach a state (generous bound: a shared machine can be slow). */
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 15_000, interval: 5 });

const logs = (body: unknown = logsBody) => callDatadog(sim.url, LOGS, { body });

describe('status faults', () => {
  it('answer the given status once, in the endpoint\'s error shape, with rate-limit headers', async () => {
    sim.faults.add({ kind: 'status', status: 503, endpoint: 'logs' });
    const failed = await logs();
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ errors: ['Service Unavailable'] });
    expect(failed.headers.get('x-ratelimit-name')).toBe('logs_list');
    expect((await logs()).status).toBe(200);
  });

  it('carry a message, in the JSON:API shape for spans', async () => {
    sim.faults.add({ kind: 'status', status: 400, endpoint: 'spans', message: 'invalid_argument(query too complex)' });
    const res = await callDatadog(sim.url, SPANS, { body: spansBody });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(res.body).toEqual({ errors: [{ status: '400', title: 'Bad Request', detail: 'invalid_argument(query too complex)' }] });
    expect(validateDatadogResponse('ListSpans', 400, res.body)).toEqual([]);
  });

  it.each([401, 403, 500, 502, 504])('inject a %i', async (status) => {
    sim.faults.add({ kind: 'status', status });
    const res = await callDatadog(sim.url, metricsPath);
    expect(res.status).toBe(status);
    expect(res.body.errors).toEqual([expect.any(String)]);
  });

  it('make a 429 with a chosen X-RateLimit-Reset', async () => {
    sim.faults.add({ kind: 'status', status: 429, resetS: 37, endpoint: 'metrics' });
    const res = await callDatadog(sim.url, metricsPath);
    expect(res.status).toBe(429);
    expect(res.headers.get('x-ratelimit-reset')).toBe('37');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(res.body).toEqual({ errors: ['Too Many Requests'] });
  });

  it('send a raw body and headers as given', async () => {
    sim.faults.add({ kind: 'status', status: 502, body: 'upstream connect error', headers: { 'Content-Type': 'text/plain', 'X-Extra': 'yes' } });
    const res = await logs();
    expect(res.status).toBe(502);
    expect(res.text).toBe('upstream connect error');
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('x-extra')).toBe('yes');
  });

  it('apply `times` times, or always until cleared, to their endpoint only', async () => {
    sim.faults.add({ kind: 'status', status: 500, endpoint: 'logs', times: 2 });
    expect((await callDatadog(sim.url, metricsPath)).status).toBe(200);
    expect([(await logs()).status, (await logs()).status, (await logs()).status]).toEqual([500, 500, 200]);
    sim.faults.add({ kind: 'status', status: 500, times: 'always' });
    expect([(await logs()).status, (await callDatadog(sim.url, metricsPath)).status]).toEqual([500, 500]);
    expect(sim.faults.pending()).toHaveLength(1);
    sim.faults.clear();
    expect((await logs()).status).toBe(200);
  });
});

describe('latency faults', () => {
  it('hold the answer until the injected clock has moved on', async () => {
    sim.faults.add({ kind: 'latency', delayMs: 5_000 });
    const answer = logs();
    await eventually(() => expect(clock.pendingSleeps).toBe(1));
    clock.advance(5_000);
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(10);
  });

  it('stop waiting when the client hangs up, leaving no timer behind', async () => {
    sim.faults.add({ kind: 'latency', delayMs: 60_000 });
    const controller = new AbortController();
    const answer = callDatadog(sim.url, LOGS, { body: logsBody, signal: controller.signal });
    await eventually(() => expect(clock.pendingSleeps).toBe(1));
    controller.abort();
    await expect(answer).rejects.toThrow();
    await eventually(() => expect(clock.pendingSleeps).toBe(0));
    expect((await logs()).status).toBe(200);
  });

  it('do not hold close() open', async () => {
    sim.faults.add({ kind: 'status', status: 503, delayMs: 60_000 });
    const answer = logs().catch((error: unknown) => error);
    await eventually(() => expect(clock.pendingSleeps).toBe(1));
    await sim.close();
    expect(clock.pendingSleeps).toBe(0);
    expect(await answer).toBeInstanceOf(Error);
  });
});

describe('body faults', () => {
  it('send a 200 that is not JSON', async () => {
    sim.faults.add({ kind: 'malformed', variant: 'non-json' });
    const res = await logs();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(() => JSON.parse(res.text)).toThrow();
    expect(res.text).toMatch(/^<html>/);
  });

  it('send a 200 cut in the middle', async () => {
    sim.faults.add({ kind: 'malformed' });
    const res = await callDatadog(sim.url, SPANS, { body: spansBody });
    expect(res.status).toBe(200);
    expect(() => JSON.parse(res.text)).toThrow();
    expect(res.text.startsWith('{"data":[{')).toBe(true);
  });

  it('answer a partial page marked meta.status "timeout" whose cursor continues without a gap', async () => {
    sim.faults.add({ kind: 'timeout', endpoint: 'logs' });
    const partial = await logs();
    expect(partial.status).toBe(200);
    expect(validateDatadogResponse('ListLogs', 200, partial.body)).toEqual([]);
    expect(partial.body.meta.status).toBe('timeout');
    expect(partial.body.data).toHaveLength(5);
    const rest = await logs({ ...logsBody, page: { limit: 10, cursor: partial.body.meta.page.after } });
    expect(rest.body.meta.status).toBe('done');
    const truth = sim.truth.logs({ from: 'now-10m', to: 'now' }).slice(0, 15);
    expect([...partial.body.data, ...rest.body.data].map((e: LogEvent) => e.id)).toEqual(truth.map((e) => e.id));
  });

  it('drop the connection', async () => {
    sim.faults.add({ kind: 'drop', endpoint: 'metrics' });
    await expect(callDatadog(sim.url, metricsPath)).rejects.toThrow(/fetch failed/);
    expect((await callDatadog(sim.url, metricsPath)).status).toBe(200);
    expect(sim.callCount('metrics')).toBe(2);
  });
});

describe('fault checks', () => {
  it.each([
    [{ kind: 'explode' }, /fault.kind/],
    [{ kind: 'status' }, /fault.status/],
    [{ kind: 'status', status: 503, endpoint: 'events' }, /fault.endpoint/],
    [{ kind: 'status', status: 503, times: 0 }, /fault.times/],
    [{ kind: 'latency' }, /needs delayMs/],
    [{ kind: 'latency', delayMs: -1 }, /delayMs/],
    [{ kind: 'timeout', endpoint: 'metrics' }, /logs or spans/],
    [{ kind: 'malformed', variant: 'zip' }, /variant/],
  ])('rejects %j', (fault, message) => {
    expect(() => parseFault(fault)).toThrow(message);
  });

  it('never gives a timeout fault to metrics', () => {
    const queue = new FaultQueue();
    queue.add({ kind: 'timeout' });
    expect(queue.take('metrics')).toBeUndefined();
    expect(queue.take('spans')).toMatchObject({ kind: 'timeout' });
    expect(queue.pending()).toEqual([]);
  });
});
