import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import { eventually } from '../helpers/eventually.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * Aggregate panels through the upstream engine: coalesced, bucketed and cached like every
 * query, and spending a budget of their own that the gate learns from `X-RateLimit-Name`.
 */

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const clock = new ManualClock(NOW);
const PANEL = '/logs/aggregate?service=checkout&level=error&group_by=status&interval=1m&since=1h';

let stack: Stack;
afterEach(async () => {
  stack.sim.assertNoViolations();
  await stack.close();
});

async function start(reserveFraction = DEFAULT_UPSTREAM_POLICY.budget.reserveFraction): Promise<void> {
  clock.set(NOW);
  stack = await startStack({ clock, policy: { ...DEFAULT_UPSTREAM_POLICY, budget: { ...DEFAULT_UPSTREAM_POLICY.budget, reserveFraction } } });
}

async function get(path: string) {
  const res = await stack.app.get(path);
  return { status: res.status, cache: res.headers.get('x-tinkr-cache'), body: (await res.json()) as any };
}

describe('aggregate panels upstream', () => {
  it('20 concurrent identical panels cost one upstream call', async () => {
    await start();
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs_aggregate' });
    const responses = Array.from({ length: 20 }, () => stack.app.get(PANEL));
    await eventually(() => stack.engine.inspect().waiters === 20, '20 callers share one flight');
    clock.advance(1_000);
    const answers = await Promise.all(responses);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(stack.sim.callCount('logs_aggregate')).toBe(1);
    expect(stack.sim.callCount()).toBe(1);
    const statuses = answers.map((r) => r.headers.get('x-tinkr-cache'));
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced')).toHaveLength(19);
    for (const body of bodies) expect(body).toEqual(bodies[0]);
  });

  it('a relative range is snapped to a bucket: refreshes within it are cache hits', async () => {
    await start();
    clock.set(NOW + 1_000);
    const first = await get(PANEL);
    expect(first.cache).toBe('miss');
    // An hour is bucketed by 30 s: `to` moves forward to the next multiple.
    expect(first.body.meta).toMatchObject({ bucket_s: 30, to: '2026-11-25T04:00:30.000Z', from: '2026-11-25T03:00:30.000Z' });
    clock.advance(20_000);
    expect((await get(PANEL)).cache).toBe('hit');
    // The next bucket: the previous one's answer at once, while one refresh asks Datadog.
    clock.advance(20_000);
    const rolled = await get(PANEL);
    expect(rolled.cache).toBe('stale');
    expect(rolled.body.meta.to).toBe('2026-11-25T04:00:30.000Z');
    await eventually(() => stack.engine.inspect().refreshes === 0, 'the refresh is done');
    const next = await get(PANEL);
    expect(next.cache).toBe('hit');
    expect(next.body.meta.to).toBe('2026-11-25T04:01:00.000Z');
    expect(stack.sim.callCount('logs_aggregate')).toBe(2);
  });

  it('aggregates spend their own limit: spent, they answer stale or 429 while searches go on', async () => {
    await start(0);
    stack.sim.rateLimit.set('logs_aggregate', { limit: 2, periodS: 3_600 });
    expect((await get(PANEL)).cache).toBe('miss');
    expect((await get('/logs/aggregate?group_by=service&since=1h')).cache).toBe('miss');
    expect(stack.sim.rateLimit.remaining('logs_aggregate')).toBe(0);

    // The gate knows from the headers: a new panel is refused without asking Datadog.
    const refused = await get('/logs/aggregate?group_by=host&since=1h');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', detail: expect.stringMatching(/^Datadog logs aggregate budget exhausted; retry in \d+ s$/) });
    expect(stack.sim.callCount('logs_aggregate')).toBe(2);

    // A panel seen before is served from the cache, marked stale.
    clock.advance(60_000);
    const stale = await get(PANEL);
    expect(stale).toMatchObject({ status: 200, cache: 'stale' });
    expect(stale.body.meta.warnings).toEqual([{ code: 'budget_exhausted', message: expect.stringMatching(/logs aggregate budget is spent/) }]);

    // The searches' budget is another one.
    expect((await get('/logs?service=checkout&since=15m&limit=5')).status).toBe(200);
    expect(stack.sim.callCount('logs')).toBe(1);
    // And spending the searches' budget does not close the aggregates'.
    stack.sim.rateLimit.set('spans_aggregate', { limit: 100, periodS: 3_600 });
    stack.sim.rateLimit.exhaust('spans');
    expect((await get('/traces?service=checkout&since=15m&limit=5')).status).toBe(429);
    expect((await get('/traces/aggregate?group_by=service&since=15m')).status).toBe(200);
  });
});
