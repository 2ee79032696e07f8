/**
 * The anomaly rules of `POST /api/v1/anomalies` (docs/analytics.md#post-apiv1anomalies), as pure functions of the numbers
 * the aggregates give. The window under test is the last `window_minutes`; its baseline is the
 * BASELINE_WINDOWS windows of the same length just before it. Three rules, each giving at most
 * one anomaly (docs/analytics.md states them for users):
 *
 * - `log_error_count`: error logs (statuses that normalize to error or critical) in the window,
 *   against threshold max(MIN_ERRORS, mean + COUNT_SIGMAS · stddev, COUNT_FACTOR · mean) of the
 *   baseline windows' counts;
 * - `log_error_rate`: the percentage of the window's logs that are errors, against
 *   max(baseline rate + RATE_POINTS, RATE_FACTOR · baseline rate), when the window has at least
 *   MIN_ERRORS errors among MIN_LOGS_FOR_RATE logs;
 * - `span_p95_latency_ms`: the median of the window's per-bucket p95 span durations, against
 *   max(LATENCY_FACTOR · baseline, baseline + LATENCY_MIN_RISE_MS, the baseline's 90th
 *   percentile), the baseline being the median of the baseline windows' per-bucket p95s (the
 *   percentile keeps a service whose spans vary widely anyway from alarming on its own spread);
 *   needs MIN_LATENCY_BUCKETS buckets with spans in each.
 *
 * A value above its threshold is an anomaly, graded by how far above: the ratio value/threshold
 * reaches SEVERITY_BANDS' bounds for medium, high and critical.
 */

export const BASELINE_WINDOWS = 6;
/** Tinkr's own floor: fewer error logs than this in a window is never an incident. */
export const MIN_ERRORS = 10;
export const COUNT_SIGMAS = 3;
export const COUNT_FACTOR = 1.5;
/** A rate is only meaningful over enough logs. */
export const MIN_LOGS_FOR_RATE = 20;
export const RATE_POINTS = 5;
export const RATE_FACTOR = 1.5;
export const LATENCY_FACTOR = 1.5;
/** A rise smaller than this is noise for a human, whatever the ratio (a 2 ms span at 3 ms). */
export const LATENCY_MIN_RISE_MS = 50;
export const MIN_LATENCY_BUCKETS = 3;

export type Severity = 'low' | 'medium' | 'high' | 'critical';
/** value/threshold from which each severity applies; above the threshold it is at least low. */
export const SEVERITY_BANDS: ReadonlyArray<readonly [number, Severity]> = [
  [6, 'critical'],
  [3, 'high'],
  [1.5, 'medium'],
];

export type AnomalyMetric = 'log_error_count' | 'log_error_rate' | 'span_p95_latency_ms';

export interface Finding {
  metric: AnomalyMetric;
  /** The window's value. */
  current: number;
  threshold: number;
  /** What the baseline windows showed (mean count, rate or latency). */
  baseline: number;
  severity: Severity;
}

export interface WindowCounts {
  /** All logs of the window. */
  total: number;
  /** Logs whose status normalizes to error or critical. */
  errors: number;
}

export function severityOf(current: number, threshold: number): Severity {
  const ratio = threshold > 0 ? current / threshold : Infinity;
  for (const [bound, severity] of SEVERITY_BANDS) if (ratio >= bound) return severity;
  return 'low';
}

/** `windows`: the baseline windows, oldest first, then the window under test. */
export function errorCountRule(windows: readonly WindowCounts[]): Finding | undefined {
  const { baseline, current } = split(windows);
  const counts = baseline.map((w) => w.errors);
  const mean = average(counts);
  const spread = Math.sqrt(average(counts.map((c) => (c - mean) ** 2)));
  const threshold = Math.max(MIN_ERRORS, mean + COUNT_SIGMAS * spread, COUNT_FACTOR * mean);
  if (current.errors <= threshold) return undefined;
  return { metric: 'log_error_count', current: current.errors, threshold, baseline: mean, severity: severityOf(current.errors, threshold) };
}

export function errorRateRule(windows: readonly WindowCounts[]): Finding | undefined {
  const { baseline, current } = split(windows);
  if (current.errors < MIN_ERRORS || current.total < MIN_LOGS_FOR_RATE) return undefined;
  const total = baseline.reduce((n, w) => n + w.total, 0);
  const errors = baseline.reduce((n, w) => n + w.errors, 0);
  const before = total > 0 ? (100 * errors) / total : 0;
  const threshold = Math.max(before + RATE_POINTS, RATE_FACTOR * before);
  const rate = (100 * current.errors) / current.total;
  if (rate <= threshold) return undefined;
  return { metric: 'log_error_rate', current: rate, threshold, baseline: before, severity: severityOf(rate, threshold) };
}

/** Per-bucket p95 durations (ms) of the baseline windows, pooled, and of the window under test. */
export function latencyRule(baselineMs: readonly number[], currentMs: readonly number[]): Finding | undefined {
  if (baselineMs.length < MIN_LATENCY_BUCKETS || currentMs.length < MIN_LATENCY_BUCKETS) return undefined;
  const before = median(baselineMs);
  const now = median(currentMs);
  const threshold = Math.max(LATENCY_FACTOR * before, before + LATENCY_MIN_RISE_MS, nearestRank(baselineMs, 90));
  if (now <= threshold) return undefined;
  return { metric: 'span_p95_latency_ms', current: now, threshold, baseline: before, severity: severityOf(now, threshold) };
}

function split(windows: readonly WindowCounts[]): { baseline: readonly WindowCounts[]; current: WindowCounts } {
  if (windows.length < 2) throw new RangeError('a rule needs baseline windows and the window under test');
  return { baseline: windows.slice(0, -1), current: windows[windows.length - 1]! };
}

function average(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function nearestRank(values: readonly number[], percentile: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((percentile / 100) * sorted.length)) - 1]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
