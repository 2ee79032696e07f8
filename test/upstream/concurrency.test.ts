import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { createLimiter } from '../../src/upstream/concurrency.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 15_000, interval: 5 });
const open = () => new AbortController().signal;

describe('concurrency limiter', () => {
  it('grants up to maxActive slots, queues the next ones in order, and passes slots on', async () => {
    const limiter = createLimiter({ maxActive: 2, maxQueued: 2 });
    const a = await limiter.acquire(open());
    const b = await limiter.acquire(open());
    const order: string[] = [];
    const c = limiter.acquire(open()).then((release) => (order.push('c'), release));
    const d = limiter.acquire(open()).then((release) => (order.push('d'), release));
    expect({ active: limiter.active, queued: limiter.queued }).toEqual({ active: 2, queued: 2 });
    a();
    a(); // giving a slot back twice frees it once
    (await c)();
    b();
    (await d)();
    expect(order).toEqual(['c', 'd']);
    expect({ active: limiter.active, queued: limiter.queued }).toEqual({ active: 0, queued: 0 });
  });

  it('refuses at once with 503 NOT_READY and Retry-After when the queue is full', async () => {
    const limiter = createLimiter({ maxActive: 1, maxQueued: 1 });
    await limiter.acquire(open());
    void limiter.acquire(open());
    const error = await limiter.acquire(open()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'NOT_READY', status: 503, retryAfterS: 1 });
    expect((error as AppError).message).toMatch(/too many Datadog calls in progress/);
  });

  it('takes a caller that gave up out of the queue', async () => {
    const limiter = createLimiter({ maxActive: 1, maxQueued: 1 });
    const release = await limiter.acquire(open());
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    expect(limiter.queued).toBe(0);
    release();
    expect(limiter.active).toBe(0);
  });
});

describe('the concurrency bound through the server', () => {
  const clock = new ManualClock(NOW);
  let stack: Stack;
  afterEach(async () => {
    stack.sim.assertNoViolations();
    await stack.close();
  });

  it('queues calls beyond max_concurrent and refuses beyond max_queued with 503 and Retry-After', async () => {
    clock.set(NOW);
    stack = await startStack({ clock, policy: { ...DEFAULT_UPSTREAM_POLICY, concurrency: { maxActive: 1, maxQueued: 1 } } });
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs', times: 2 });
    const running = stack.app.get('/logs?service=checkout&since=15m&limit=1');
    await eventually(() => expect(stack.engine.inspect().active).toBe(1));
    const queued = stack.app.get('/logs?service=ledger&since=15m&limit=1');
    await eventually(() => expect(stack.engine.inspect().queued).toBe(1));

    const refused = await stack.app.get('/logs?service=payments-api&since=15m&limit=1');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { code: string }).code).toBe('NOT_READY');
    // Cache hits and coalesced callers take no slot.
    const joined = stack.app.get('/logs?service=checkout&since=15m&limit=1');
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(3));

    clock.advance(1_000);
    expect((await running).status).toBe(200);
    expect((await joined).headers.get('x-tinkr-cache')).toBe('coalesced');
    await eventually(() => expect(stack.sim.callCount('logs')).toBe(2));
    clock.advance(1_000);
    expect((await queued).status).toBe(200);
    expect(stack.sim.callCount('logs')).toBe(2);
    expect(stack.engine.inspect()).toMatchObject({ active: 0, queued: 0, flights: 0 });
  });
});
