import { describe, expect, it } from 'vitest';
import { levelOf } from '../../src/datadog/levels.ts';
import { BASELINE_WINDOWS, severityOf } from '../../src/tinkr/anomaly-rules.ts';
import { pyRound } from '../../src/tinkr/py-round.ts';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * `POST /api/v1/anomalies` with the body `tinkr anomaly` sends, over the simulator's data: a
 * quiet service gives `[]`; an error burst injected into the window under test gives the
 * error-count and error-rate anomalies whose numbers and severity follow from the simulator's
 * own logs (its ground truth) by the rules of docs/analytics.md, restated here.
 */

const MINUTE = 60_000;

const { clock, stack } = sharedStack({ reset: { bursts: true, clock: true } });

/** `fresh`: bypass the cache, for data injected after an earlier test asked the same question. */
async function anomalies(body: unknown, fresh = false) {
  stack.sim.resetRequests();
  const res = await stack.app.post('/api/v1/anomalies', body, fresh ? { headers: { 'cache-control': 'no-cache' } } : {});
  return { status: res.status, cache: res.headers.get('x-tinkr-cache'), body: (await res.json()) as any };
}

/** Error logs and all logs of `service` in each window ending at NOW, oldest first, from the ground truth. */
function windowCounts(service: string, minutes: number): Array<{ errors: number; total: number }> {
  const w = minutes * MINUTE;
  return Array.from({ length: BASELINE_WINDOWS + 1 }, (_, k) => {
    const from = NOW - (BASELINE_WINDOWS + 1 - k) * w;
    const logs = stack.sim.truth.logs({ query: `service:${service}`, from, to: from + w });
    return { errors: logs.filter((l) => ['error', 'critical'].includes(levelOf(l.attributes.status))).length, total: logs.length };
  });
}

/** The documented count rule, restated from docs/analytics.md. */
function countThreshold(baseline: number[]): number {
  const mean = baseline.reduce((a, b) => a + b, 0) / baseline.length;
  const sd = Math.sqrt(baseline.reduce((a, b) => a + (b - mean) ** 2, 0) / baseline.length);
  return Math.max(10, mean + 3 * sd, 1.5 * mean);
}

/** The documented rate rule: the window's error % against max(baseline % + 5, 1.5 × baseline %). */
function errorRate(windows: Array<{ errors: number; total: number }>): { rate: number; threshold: number; before: number } {
  const baseline = windows.slice(0, -1);
  const current = windows.at(-1)!;
  const before = (100 * baseline.reduce((n, w) => n + w.errors, 0)) / baseline.reduce((n, w) => n + w.total, 0);
  return { rate: (100 * current.errors) / current.total, threshold: Math.max(before + 5, 1.5 * before), before };
}

describe('POST /api/v1/anomalies', () => {
  it.each([
    ['payments-api', 10],
    ['checkout', 60],
    ['ledger', 30],
  ])('a quiet %s over %i minutes has no anomaly, for two aggregate calls', async (service, minutes) => {
    const answer = await anomalies({ service, window_minutes: minutes });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ anomalies: [] });
    expect(stack.sim.callCount('logs_aggregate')).toBe(1);
    expect(stack.sim.callCount('spans_aggregate')).toBe(1);
    expect(stack.sim.callCount()).toBe(2);
  });

  it.each([
    [30_000, 'low', 'low'],
    [10_000, 'medium', 'medium'],
    [4_000, 'high', 'medium'],
    [1_000, 'critical', 'high'],
  ])('a burst of one error every %i ms in the window is a %s error-count and a %s error-rate anomaly', async (everyMs, severity, rateSeverity) => {
    stack.sim.bursts.add({ service: 'payments-api', fromMs: NOW - 10 * MINUTE, toMs: NOW, everyMs });
    const windows = windowCounts('payments-api', 10);
    const counts = windows.map((w) => w.errors);
    const current = counts.at(-1)!;
    const threshold = countThreshold(counts.slice(0, -1));
    expect(severityOf(current, threshold)).toBe(severity);
    // The rate rule applies: at least 10 errors among at least 20 logs, and the rate above its threshold.
    const rate = errorRate(windows);
    expect(current).toBeGreaterThanOrEqual(10);
    expect(windows.at(-1)!.total).toBeGreaterThanOrEqual(20);
    expect(rate.rate).toBeGreaterThan(rate.threshold);
    expect(severityOf(rate.rate, rate.threshold)).toBe(rateSeverity);

    const answer = await anomalies({ service: 'payments-api', window_minutes: 10 }, true);
    expect(answer.body.anomalies.map((a: { metric: string }) => a.metric)).toEqual(['log_error_count', 'log_error_rate']);
    const [count, share] = answer.body.anomalies;
    expect(count).toMatchObject({
      service: 'payments-api',
      severity,
      detected_at: '2026-11-25T04:00:00.000Z',
      current_value: current,
      threshold: pyRound(threshold, 2),
      description: expect.stringMatching(new RegExp(`^${current} error logs in the last 10 min`)),
    });
    expect(share).toMatchObject({
      service: 'payments-api',
      severity: rateSeverity,
      detected_at: '2026-11-25T04:00:00.000Z',
      current_value: pyRound(rate.rate, 2),
      threshold: pyRound(rate.threshold, 2),
      description: `${pyRound(rate.rate, 1)}% of logs are errors in the last 10 min, against ${pyRound(rate.before, 1)}% before (threshold ${pyRound(rate.threshold, 1)}%)`,
    });
    // Both log anomalies carry the same summary of the window's error logs.
    expect(share.log_summary).toEqual(count.log_summary);
    expect(share.log_summary.total_count).toBe(current);
    // At most three calls: the two aggregates and one page of error logs for the summary.
    expect(stack.sim.callCount()).toBe(3);
    expect(stack.sim.callCount('logs')).toBe(1);
  });

  it("summarizes the window's error logs: patterns with counts and an example, stack traces, timing", async () => {
    stack.sim.bursts.add({ service: 'payments-api', fromMs: NOW - 10 * MINUTE, toMs: NOW, everyMs: 2_000 });
    const answer = await anomalies({ service: 'payments-api', window_minutes: 10 }, true);
    const [count] = answer.body.anomalies;
    const summary = count.log_summary;
    expect(summary.total_count).toBe(count.current_value);
    expect(summary.sample_count).toBe(count.current_value);
    expect(summary.window_minutes).toBe(10);
    // The burst's two message templates, 150 logs each, fold into two patterns.
    expect(summary.unique_patterns.slice(0, 2)).toHaveLength(2);
    expect(summary.unique_patterns.slice(0, 2)).toEqual(expect.arrayContaining([
      { template: 'payment processor declined charge <n> for order <n>: card_declined (code <n>)', count: 150, example: expect.stringMatching(/^payment processor declined charge \d+ for order \d+/) },
      { template: 'upstream <ip> refused connection after <n> retries', count: 150, example: expect.stringMatching(/^upstream 10\.0\.3\.\d+:8443 refused/) },
    ]));
    expect(summary.unique_patterns.reduce((n: number, p: { count: number }) => n + p.count, 0)).toBeLessThanOrEqual(summary.total_count);
    expect(summary.stack_traces).toContainEqual({
      language: 'python',
      count: 150,
      signature: 'CardDeclinedError: card_declined | at charge (/app/payments/charge.py:88)',
      full_trace: 'CardDeclinedError: card_declined\n    at charge (/app/payments/charge.py:88)',
    });
    expect(summary.time_distribution.first_seen >= '2026-11-25T03:50:00.000Z').toBe(true);
    expect(summary.time_distribution.last_seen < '2026-11-25T04:00:00.000Z').toBe(true);
    expect(summary.common_fields).toMatchObject({ service: 'payments-api', team: 'payments' });
  });

  it('repeated within a bucket, the same question is answered from the cache', async () => {
    await anomalies({ service: 'ledger', window_minutes: 10 });
    clock.advance(30_000);
    const again = await anomalies({ service: 'ledger', window_minutes: 10 });
    expect(again.cache).toBe('hit');
    expect(stack.sim.callCount()).toBe(0);
  });

  it('window_minutes must be a positive integer whose seven windows fit in the range limit', async () => {
    for (const window_minutes of [0, -5, 1.5, '10']) {
      const answer = await anomalies({ service: 'ledger', window_minutes });
      expect(answer.status).toBe(400);
      expect(answer.body.errors[0].path).toBe('body.window_minutes');
    }
    const long = await anomalies({ service: 'ledger', window_minutes: 7_000 });
    expect(long.body.errors).toEqual([{ path: 'body.window_minutes', message: expect.stringMatching(/^at most 6377: the window and its 6 baseline windows/) }]);
    expect(stack.sim.callCount()).toBe(0);
  });
});
