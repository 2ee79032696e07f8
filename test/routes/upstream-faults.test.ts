import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '@tinkr/datadog-simulator';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * Every upstream fault of docs/http-api.md#errors, injected at the simulator: the caller gets the mapped
 * problem, and the very next request is answered normally.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ server: { requestTimeoutMs: 1_500 } });
});
afterAll(() => stack.close());
// Real time passes here: a panel asked again after its step is refreshed in the background.
beforeEach(() => stack.settle());
afterEach(() => {
  stack.sim.faults.clear();
  stack.sim.rateLimit.reset();
});

async function get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await stack.app.get(path);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

async function stillServing(): Promise<void> {
  expect((await get('/healthz')).status).toBe(200);
  const logs = await get('/logs?since=5m&limit=3');
  expect(logs.status).toBe(200);
  expect(logs.body.data).toHaveLength(3);
}

describe('upstream faults', () => {
  it.each<[string, Fault, string, number, string, RegExp]>([
    ['a 5xx that persists', { kind: 'status', status: 503, times: 3 }, '/logs?since=5m', 502, 'UPSTREAM_ERROR', /HTTP 503/],
    ['a 400 with a message', { kind: 'status', status: 400, message: 'Invalid query near "("' }, '/logs?since=5m', 400, 'UPSTREAM_BAD_QUERY', /Invalid query near/],
    ['a 403', { kind: 'status', status: 403, times: 2 }, '/traces?since=5m', 502, 'UPSTREAM_AUTH', /refused the configured keys/],
    ['a 401', { kind: 'status', status: 401, times: 2 }, '/metrics?metric=system.cpu.user', 502, 'UPSTREAM_AUTH', /HTTP 401/],
    ['malformed JSON', { kind: 'malformed', variant: 'truncated' }, '/logs?since=5m', 502, 'UPSTREAM_ERROR', /not valid JSON/],
    ['an HTML error page', { kind: 'malformed', variant: 'non-json', endpoint: 'metrics' }, '/metrics?metric=system.cpu.user', 502, 'UPSTREAM_ERROR', /not valid JSON/],
    ['connections dropped every time', { kind: 'drop', times: 3 }, '/logs?since=5m', 502, 'UPSTREAM_ERROR', /Could not reach Datadog/],
    ['no answer before the deadline', { kind: 'latency', delayMs: 5_000 }, '/logs?since=5m', 504, 'UPSTREAM_TIMEOUT', /deadline/],
  ])('%s → the mapped problem, and the server keeps serving', async (_what, fault, path, status, code, detail) => {
    stack.sim.faults.add(fault);
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(res.body.code).toBe(code);
    expect(res.body.detail).toMatch(detail);
    expect(res.body.detail).not.toMatch(/127\.0\.0\.1|dede0000/);
    stack.sim.faults.clear();
    await stillServing();
  });

  it('absorbs a passing 5xx and a dropped connection with retries', async () => {
    stack.sim.faults.add({ kind: 'status', status: 502 });
    stack.sim.faults.add({ kind: 'drop' });
    stack.sim.resetRequests();
    const res = await get('/logs?since=5m&limit=2');
    expect(res.status).toBe(200);
    expect(stack.sim.callCount('logs')).toBe(3);
  });

  it('maps a 429 to UPSTREAM_RATE_LIMITED with Retry-After from X-RateLimit-Reset', async () => {
    stack.sim.faults.add({ kind: 'status', status: 429, resetS: 42, endpoint: 'spans' });
    const res = await get('/traces?since=5m');
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(res.headers.get('retry-after')).toBe('42');
    await stillServing();
  });

  it("marks Datadog's own search timeout as a partial answer", async () => {
    stack.sim.faults.add({ kind: 'timeout', endpoint: 'logs' });
    const res = await get('/logs?since=1h&limit=100');
    expect(res.status).toBe(200);
    expect(res.body.meta.partial).toBe(true);
    expect(res.body.meta.warnings).toEqual([expect.objectContaining({ code: 'upstream_timeout' })]);
  });

  it('keeps the pages it has when a later page fails', async () => {
    stack.sim.resetRequests();
    // First page fine; the second fails on every try.
    stack.sim.faults.add({ kind: 'latency', delayMs: 0, endpoint: 'logs' });
    stack.sim.faults.add({ kind: 'status', status: 500, times: 3, endpoint: 'logs' });
    const res = await get('/logs?since=24h&limit=2000');
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1000);
    expect(res.body.meta.partial).toBe(true);
    expect(res.body.meta.warnings[0].code).toBe('page_failed');
    expect(res.body.meta.next_cursor).toEqual(expect.any(String));
  });
});
