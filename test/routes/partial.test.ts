import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_UPSTREAM_POLICY, type UpstreamPolicy } from '../../src/upstream/pipeline.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack, type StackOptions } from '../helpers/stack.ts';

/**
 * Every reason an answer can be incomplete (docs/http-api.md#get-logs): it is a 200 with `meta.partial: true`,
 * a warning naming the reason, and a cursor to continue where the data is there; never a
 * silent truncation.
 */
const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const clock = new ManualClock(NOW);
let stack: Stack;

async function start(policy: Partial<UpstreamPolicy> = {}, options: StackOptions = {}) {
  clock.set(NOW);
  stack = await startStack({ clock, policy: { ...DEFAULT_UPSTREAM_POLICY, ...policy }, ...options });
}
afterEach(async () => {
  stack.sim.assertNoViolations();
  await stack.close();
});

async function get(path: string) {
  const res = await stack.app.get(path);
  return { status: res.status, body: (await res.json()) as any };
}

describe('partial answers', () => {
  it("Datadog's own search timeout (meta.status: timeout)", async () => {
    await start();
    stack.sim.faults.add({ kind: 'timeout', endpoint: 'logs' });
    const { status, body } = await get('/logs?since=1h&limit=1000');
    expect(status).toBe(200);
    expect(body.meta.partial).toBe(true);
    expect(body.meta.warnings).toEqual([{ code: 'upstream_timeout', message: expect.stringMatching(/status "timeout"/) }]);
    expect(body.data.length).toBeGreaterThan(0);
    expect(body.data.length).toBeLessThan(1000);
  });

  it('a later page that fails', async () => {
    await start({}, { retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    stack.sim.faults.add({ kind: 'latency', delayMs: 0, endpoint: 'spans' });
    stack.sim.faults.add({ kind: 'status', status: 503, endpoint: 'spans' });
    const { status, body } = await get('/traces?since=1h&limit=1500');
    expect(status).toBe(200);
    expect(body.data).toHaveLength(1000);
    expect(body.meta.partial).toBe(true);
    expect(body.meta.warnings).toEqual([{ code: 'page_failed', message: expect.stringMatching(/page 2 failed \(UPSTREAM_ERROR/) }]);
    expect(body.meta.next_cursor).toEqual(expect.any(String));
  });

  it('the page cap', async () => {
    await start({ maxPages: 2 });
    const { status, body } = await get('/logs?since=24h&limit=2500');
    expect(status).toBe(200);
    expect(body.data).toHaveLength(2000);
    expect(body.meta.partial).toBe(true);
    expect(body.meta.warnings).toEqual([{ code: 'page_cap', message: expect.stringMatching(/stopped after 2 upstream pages/) }]);
    expect(stack.sim.callCount('logs')).toBe(2);
    const next = await get(`/logs?since=24h&limit=2500&cursor=${encodeURIComponent(body.meta.next_cursor)}`);
    const expected = stack.sim.truth.logs({ query: '*', from: NOW - 86_400_000, to: NOW });
    expect([...body.data, ...next.body.data].map((l: { id: string }) => l.id)).toEqual(expected.slice(0, 4000).map((l) => l.id));
  });

  it('a budget that runs out before a later page', async () => {
    await start({ budget: { ...DEFAULT_UPSTREAM_POLICY.budget, reserveFraction: 0 } });
    stack.sim.rateLimit.set('logs', { limit: 2, periodS: 3_600 });
    const { status, body } = await get('/logs?since=24h&limit=2500');
    expect(status).toBe(200);
    expect(body.data).toHaveLength(2000);
    expect(body.meta.partial).toBe(true);
    expect(body.meta.warnings).toEqual([
      { code: 'budget_exhausted', message: expect.stringMatching(/budget ran out before upstream page 3 \(next call in 3600 s\)/) },
    ]);
    expect(body.meta.next_cursor).toEqual(expect.any(String));
    expect(stack.sim.callCount('logs')).toBe(2);
  });
});
