import { describe, expect, it } from 'vitest';
import { errorCountRule, errorRateRule, latencyRule, median, severityOf, type WindowCounts } from '../../src/tinkr/anomaly-rules.ts';

const steady = (errors: number, total = 200): WindowCounts => ({ total, errors });
/** Six baseline windows then the window under test. */
const windows = (baseline: number[], current: WindowCounts): WindowCounts[] => [...baseline.map((e) => steady(e)), current];

describe('severity', () => {
  it.each([
    [11, 10, 'low'],
    [14.9, 10, 'low'],
    [15, 10, 'medium'],
    [29.9, 10, 'medium'],
    [30, 10, 'high'],
    [60, 10, 'critical'],
    [5, 0, 'critical'],
  ])('%s against a threshold of %s is %s', (value, threshold, severity) => {
    expect(severityOf(value, threshold)).toBe(severity);
  });
});

describe('error count', () => {
  it('a window at its usual level is no anomaly', () => {
    expect(errorCountRule(windows([20, 24, 22, 26, 21, 23], steady(27)))).toBeUndefined();
  });

  it('the threshold is the largest of the floor, mean + 3 sd and 1.5 × mean', () => {
    // Steady baseline: 1.5 × mean (33) beats mean + 3 sd (22 + 0).
    expect(errorCountRule(windows([22, 22, 22, 22, 22, 22], steady(34)))).toMatchObject({ threshold: 33, current: 34, baseline: 22, severity: 'low' });
    // A noisy baseline: mean + 3 sd (20 + 3 × 10 = 50) wins.
    expect(errorCountRule(windows([10, 30, 10, 30, 10, 30], steady(49)))).toBeUndefined();
    expect(errorCountRule(windows([10, 30, 10, 30, 10, 30], steady(51)))?.threshold).toBe(50);
    // A quiet service: the floor of 10 errors.
    expect(errorCountRule(windows([0, 0, 1, 0, 0, 0], steady(9)))).toBeUndefined();
    expect(errorCountRule(windows([0, 0, 1, 0, 0, 0], steady(40)))).toMatchObject({ threshold: 10, severity: 'high' });
  });
});

describe('error rate', () => {
  it('needs enough errors and logs to be a rate at all', () => {
    expect(errorRateRule(windows([1, 1, 1, 1, 1, 1], { total: 12, errors: 9 }))).toBeUndefined();
    expect(errorRateRule(windows([1, 1, 1, 1, 1, 1], { total: 19, errors: 15 }))).toBeUndefined();
    expect(errorRateRule(windows([1, 1, 1, 1, 1, 1], { total: 20, errors: 15 }))).toMatchObject({ metric: 'log_error_rate', current: 75 });
  });

  it('fires above max(baseline + 5 points, 1.5 × baseline)', () => {
    // Baseline 10%: threshold 15%.
    expect(errorRateRule(windows([20, 20, 20, 20, 20, 20], { total: 200, errors: 30 }))).toBeUndefined();
    expect(errorRateRule(windows([20, 20, 20, 20, 20, 20], { total: 200, errors: 31 }))).toMatchObject({ threshold: 15, baseline: 10 });
    // Baseline 40%: threshold 60%.
    expect(errorRateRule(windows([80, 80, 80, 80, 80, 80], { total: 200, errors: 121 }))).toMatchObject({ threshold: 60, severity: 'low' });
  });
});

describe('p95 latency', () => {
  const base = [100, 110, 95, 105, 120, 98, 102, 101];

  it('fires when the median bucket p95 passes max(1.5 × baseline, baseline + 50 ms, baseline p90)', () => {
    expect(latencyRule(base, [150, 151, 149])).toBeUndefined();
    const finding = latencyRule(base, [400, 410, 390]);
    expect(finding).toMatchObject({ metric: 'span_p95_latency_ms', current: 400, baseline: median(base), severity: 'medium' });
    expect(finding!.threshold).toBeCloseTo(1.5 * median(base), 9);
  });

  it('a fast service needs a rise of 50 ms; a spread-out one must pass its own 90th percentile', () => {
    expect(latencyRule([2, 2, 3, 2], [40, 45, 50])).toBeUndefined();
    expect(latencyRule([2, 2, 3, 2], [60, 61, 62])?.threshold).toBe(52);
    const spread = [100, 100, 100, 100, 100, 100, 100, 900, 900, 900];
    expect(latencyRule(spread, [800, 800, 800])).toBeUndefined();
    expect(latencyRule(spread, [950, 950, 950])?.threshold).toBe(900);
  });

  it('needs three buckets with spans on each side', () => {
    expect(latencyRule(base, [900, 900])).toBeUndefined();
    expect(latencyRule([100, 100], [900, 900, 900])).toBeUndefined();
  });
});
