import { describe, expect, it } from 'vitest';
import { levelOf } from '../../src/datadog/levels.ts';
import { pyRound } from '../../src/tinkr/py-round.ts';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * `POST /api/v1/slo` with the bodies the real `tinkr slo` sends (tinkr.md §5.1), counted against
 * the simulator's own logs: every log of the service is a request, the errors are the logs
 * whose status normalizes to error or critical, and Tinkr's formulas and rounding apply.
 */

const DAY = 86_400_000;

const { stack } = sharedStack();

async function slo(body: unknown) {
  stack.sim.resetRequests();
  const res = await stack.app.post('/api/v1/slo', body);
  return { status: res.status, cache: res.headers.get('x-tinkr-cache'), body: (await res.json()) as any };
}

/** Tinkr's routes/query.py, restated: the numbers `tinkr slo` shows for these counts. */
function tinkrNumbers(total: number, errors: number, target: number) {
  const availability = total > 0 ? ((total - errors) / total) * 100 : 100;
  const budget = ((100 - target) / 100) * total;
  return {
    availability_pct: pyRound(availability, 4),
    total_requests: total,
    error_count: errors,
    budget_total: pyRound(budget, 1),
    budget_used: errors,
    budget_remaining_pct: pyRound(budget > 0 ? Math.max(0, ((budget - errors) / budget) * 100) : 100, 1),
    burn_rate: pyRound(budget > 0 ? errors / budget : 0, 2),
    status: availability >= target ? 'ok' : 'breach',
  };
}

describe('POST /api/v1/slo', () => {
  it("counts a day of a service's logs exactly, in one upstream aggregate call", async () => {
    // What `tinkr slo payments-api -t 99.9 -w 1d` sends.
    const answer = await slo({ service: 'payments-api', target_pct: 99.9, window: '1d' });
    expect(answer.status).toBe(200);
    const logs = stack.sim.truth.logs({ query: 'service:payments-api', from: NOW - DAY, to: NOW });
    const errors = logs.filter((l) => ['error', 'critical'].includes(levelOf(l.attributes.status))).length;
    expect(logs.length).toBeGreaterThan(20_000);
    expect(errors).toBeGreaterThan(1_000);
    expect(answer.body).toEqual({ service: 'payments-api', window: '1d', target_pct: 99.9, ...tinkrNumbers(logs.length, errors, 99.9) });
    expect(answer.body.status).toBe('breach');

    expect(stack.sim.callCount()).toBe(1);
    const [request] = stack.sim.requests;
    expect(request!.path).toBe('/api/v2/logs/analytics/aggregate');
    expect(request!.body).toMatchObject({ filter: { query: 'service:"payments-api"' }, group_by: [{ facet: 'status', limit: 100 }] });
  });

  it('the same SLO again is a cache hit; a lower target is met', async () => {
    await slo({ service: 'ledger', target_pct: 99.9, window: '6h' });
    const again = await slo({ service: 'ledger', target_pct: 99.9, window: '6h' });
    expect(again.cache).toBe('hit');
    expect(stack.sim.callCount()).toBe(0);
    const lenient = await slo({ service: 'ledger', target_pct: 50, window: '6h' });
    expect(lenient.body.status).toBe('ok');
    expect(lenient.body.budget_remaining_pct).toBeGreaterThan(0);
    expect(lenient.body.total_requests).toBe(again.body.total_requests);
  });

  it('a service without logs is available 100%, with no budget spent', async () => {
    const answer = await slo({ service: 'no-such-service', target_pct: 99.9, window: '90m' });
    expect(answer.body).toEqual({ service: 'no-such-service', window: '90m', target_pct: 99.9, ...tinkrNumbers(0, 0, 99.9) });
    expect(answer.body).toMatchObject({ availability_pct: 100, budget_remaining_pct: 100, burn_rate: 0, status: 'ok' });
  });

  it('target_pct defaults to 99.9', async () => {
    const answer = await slo({ service: 'checkout', window: '2h' });
    expect(answer.body.target_pct).toBe(99.9);
  });

  it.each(['1.5h', '30s', '2w', '0d', 'd', '30', ' 30d'])('window %j is a 400 naming the grammar, with no upstream call', async (window) => {
    const answer = await slo({ service: 'checkout', window });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([{ path: 'body.window', message: expect.stringMatching(/whole number of days, hours or minutes/) }]);
    expect(stack.sim.callCount()).toBe(0);
  });

  it('a window past the profile range limit, or a target out of 0-100, is a 400', async () => {
    const long = await slo({ service: 'checkout', window: '40d' });
    expect(long.status).toBe(400);
    expect(long.body.errors).toEqual([{ path: 'body.window', message: expect.stringMatching(/longer than this profile allows \(31d\)/) }]);
    expect((await slo({ service: 'checkout', window: '1h', target_pct: 101 })).status).toBe(400);
    expect(stack.sim.callCount()).toBe(0);
  });
});
