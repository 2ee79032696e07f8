import { describe, expect, it } from 'vitest';
import { levelOf } from '../../src/datadog/levels.ts';
import { BASELINE_WINDOWS, severityOf, type Severity } from '../../src/tinkr/anomaly-rules.ts';
import { pyRound } from '../../src/tinkr/py-round.ts';
import { eventually } from '../helpers/eventually.ts';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * `POST /api/v1/anomalies` with the body `tinkr anomaly` sends, over the simulator's data: a
 * quiet service gives `[]`; an error burst injected into the window under test gives the
 * error-count and error-rate anomalies, a latency burst the latency anomaly, whose numbers and
 * severity follow from the simulator's own logs and spans (its ground truth) by the rules of
 * docs/analytics.md, restated here; concurrent identical questions cost one set of calls.
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

function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The documented latency rule over the ground truth's spans of `service`: the p95 (nearest
 * rank) of `@duration` in ms per 1-minute bucket (buckets without spans have none); the window's
 * value is the median of its buckets' p95s, the threshold max(1.5 × baseline, baseline + 50 ms,
 * the 90th percentile of the baseline buckets), the baseline being the median of the baseline
 * windows' buckets.
 */
function latency(service: string, minutes: number): { current: number; threshold: number; baseline: number[]; window: number[] } {
  const windowFrom = NOW - minutes * MINUTE;
  const buckets = new Map<number, number[]>();
  for (const span of stack.sim.truth.spans({ query: `service:${service}`, from: NOW - (BASELINE_WINDOWS + 1) * minutes * MINUTE, to: NOW })) {
    const bucket = Math.floor(Date.parse(span.attributes.start_timestamp) / MINUTE) * MINUTE;
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), (span.attributes.custom['duration'] as number) / 1e6]);
  }
  const p95s = [...buckets.entries()].map(([t, ms]) => [t, nearestRank(ms, 95)] as const);
  const baseline = p95s.filter(([t]) => t < windowFrom).map(([, p95]) => p95);
  const window = p95s.filter(([t]) => t >= windowFrom).map(([, p95]) => p95);
  const before = median(baseline);
  return { current: median(window), threshold: Math.max(1.5 * before, before + 50, nearestRank(baseline, 90)), baseline, window };
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

  it.each([
    ['payments-api', 10, { factor: 2.5 }, 'low'],
    ['payments-api', 10, { factor: 5 }, 'medium'],
    ['payments-api', 10, { addMs: 300 }, 'high'],
    ['payments-api', 10, { factor: 20 }, 'critical'],
    ['checkout', 60, { factor: 5 }, 'medium'],
  ] as const)('a latency burst on %s over %i minutes (%j) is a %s latency anomaly', async (service, minutes, slower, severity: Severity) => {
    stack.sim.latencyBursts.add({ service, fromMs: NOW - minutes * MINUTE, toMs: NOW, ...slower });
    const { current, threshold, baseline, window } = latency(service, minutes);
    expect(baseline.length).toBeGreaterThanOrEqual(3);
    expect(window.length).toBeGreaterThanOrEqual(3);
    expect(current).toBeGreaterThan(threshold);
    expect(severityOf(current, threshold)).toBe(severity);

    const answer = await anomalies({ service, window_minutes: minutes }, true);
    expect(answer.status).toBe(200);
    expect(answer.body.anomalies).toEqual([
      {
        service,
        metric: 'span_p95_latency_ms',
        severity,
        detected_at: '2026-11-25T04:00:00.000Z',
        current_value: pyRound(current, 2),
        threshold: pyRound(threshold, 2),
        description: expect.stringMatching(new RegExp(`^p95 span latency ${pyRound(current, 1)} ms in the last ${minutes} min, .* \\(threshold ${pyRound(threshold, 1)} ms\\)$`)),
        log_summary: {},
      },
    ]);
    // No log rule fired: the two aggregates, no page of error logs.
    expect(stack.sim.callCount('spans_aggregate')).toBe(1);
    expect(stack.sim.callCount()).toBe(2);
  });

  it('a service slow all along and slower in the window is measured against its slow baseline (1.5 × its median)', async () => {
    // Ledger's spans are short (a p95 near 20 ms): 200 ms more all along puts the baseline's
    // median where 1.5 × it is the largest of the three terms of the threshold.
    stack.sim.latencyBursts.add({ service: 'ledger', fromMs: NOW - 7 * 10 * MINUTE, toMs: NOW, addMs: 200 });
    stack.sim.latencyBursts.add({ service: 'ledger', fromMs: NOW - 10 * MINUTE, toMs: NOW, factor: 2 });
    const { current, threshold, baseline } = latency('ledger', 10);
    expect(median(baseline)).toBeGreaterThan(200);
    expect(threshold).toBe(1.5 * median(baseline));
    expect(current).toBeGreaterThan(threshold);

    const answer = await anomalies({ service: 'ledger', window_minutes: 10 }, true);
    expect(answer.body.anomalies).toEqual([
      expect.objectContaining({
        metric: 'span_p95_latency_ms',
        severity: severityOf(current, threshold),
        current_value: pyRound(current, 2),
        threshold: pyRound(threshold, 2),
      }),
    ]);
    expect(answer.body.anomalies[0].severity).toBe('low');
  });

  it.each([
    // Just under 1.5 × the baseline median.
    ['payments-api', 10, { factor: 2 }],
    // Well over 1.5 × the baseline median, but under the baseline's 90th percentile: the minutes
    // with a cart read timing out at redis (250 ms) make checkout's p95 vary widely anyway.
    ['checkout', 60, { factor: 2 }],
  ] as const)('a latency burst on %s over %i minutes (%j) that stays under the threshold is no anomaly', async (service, minutes, slower) => {
    stack.sim.latencyBursts.add({ service, fromMs: NOW - minutes * MINUTE, toMs: NOW, ...slower });
    const { current, threshold, baseline, window } = latency(service, minutes);
    expect(baseline.length).toBeGreaterThanOrEqual(3);
    expect(window.length).toBeGreaterThanOrEqual(3);
    // The burst did slow the window down, but not past the threshold.
    expect(current).toBeGreaterThan(median(baseline) * 1.3);
    expect(current).toBeLessThanOrEqual(threshold);

    const answer = await anomalies({ service, window_minutes: minutes }, true);
    expect(answer.body).toEqual({ anomalies: [] });
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

  it('concurrent identical questions on fresh data cost the calls of one and get one answer', async () => {
    // A key no earlier test asked (ledger over 15 minutes), with both kinds of incident armed:
    // all three rules fire, so one answer costs both aggregates and a page of error logs.
    const question = { service: 'ledger', window_minutes: 15 };
    stack.sim.bursts.add({ service: 'ledger', fromMs: NOW - 15 * MINUTE, toMs: NOW, everyMs: 2_000 });
    stack.sim.latencyBursts.add({ service: 'ledger', fromMs: NOW - 15 * MINUTE, toMs: NOW, factor: 10 });
    await stack.settle();
    stack.sim.resetRequests();
    // The logs aggregate answers only once the clock moves: all ten callers join the one flight first.
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs_aggregate' });
    const responses = Array.from({ length: 10 }, () => stack.app.post('/api/v1/anomalies', question));
    await eventually(() => stack.engine.inspect().waiters === 10, 'ten callers share one flight');
    clock.advance(1_000);
    const answers = await Promise.all(responses);
    const bodies = await Promise.all(answers.map((r) => r.json() as Promise<any>));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    const statuses = answers.map((r) => r.headers.get('x-tinkr-cache'));
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced')).toHaveLength(9);
    for (const body of bodies) expect(body).toEqual(bodies[0]);
    expect(bodies[0].anomalies.map((a: { metric: string }) => a.metric)).toEqual(['log_error_count', 'log_error_rate', 'span_p95_latency_ms']);
    const together = { logs_aggregate: stack.sim.callCount('logs_aggregate'), spans_aggregate: stack.sim.callCount('spans_aggregate'), logs: stack.sim.callCount('logs'), all: stack.sim.callCount() };
    expect(together).toEqual({ logs_aggregate: 1, spans_aggregate: 1, logs: 1, all: 3 });

    // What one caller alone costs, asked afresh: the same calls, the same answer.
    const alone = await anomalies(question, true);
    expect(alone.cache).toBe('bypass');
    expect({ logs_aggregate: stack.sim.callCount('logs_aggregate'), spans_aggregate: stack.sim.callCount('spans_aggregate'), logs: stack.sim.callCount('logs'), all: stack.sim.callCount() }).toEqual(together);
    expect(alone.body).toEqual(bodies[0]);
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
