import { levelOf } from '../datadog/levels.ts';
import { badRequest } from '../errors.ts';
import { formatDuration } from '../time/duration.ts';
import { isoMs } from '../time/instant.ts';
import type { TimeRange } from '../time/range.ts';
import { combineCacheStatus } from '../upstream/paging.ts';
import type { CacheStatus, CallContext } from '../upstream/types.ts';
import { aggregateLogs, aggregateSpans, type AggregateItem } from './aggregate.ts';
import { MAX_BUCKETS } from './aggregate-grid.ts';
import {
  BASELINE_WINDOWS,
  errorCountRule,
  errorRateRule,
  latencyRule,
  type Finding,
  type Severity,
  type WindowCounts,
} from './anomaly-rules.ts';
import type { QueryDeps } from './deps.ts';
import { summarizeLogs, type LogSummary } from './log-summary.ts';
import { searchLogs } from './logs.ts';
import { pyRound } from './py-round.ts';
import type { Scope } from './scope.ts';

/**
 * `POST /api/v1/anomalies` (DESIGN §8.2): the rules of anomaly-rules.ts over two aggregate calls,
 * both over the window and its baseline at once, plus a log search only when a log rule fires:
 *
 * 1. logs aggregate: count by status, as a timeseries (every error status of the window and
 *    of each baseline window, and all logs, from one call);
 * 2. spans aggregate: p95 of `@duration` as a timeseries;
 * 3. logs search (when needed): the window's error logs, one page, for `log_summary`.
 *
 * The windows end at the last whole bucket of the series (at most one bucket before now), so
 * every window is complete and repeated calls within a bucket share one cached answer.
 */

export interface TinkrAnomaly {
  service: string;
  metric: Finding['metric'];
  description: string;
  severity: Severity;
  detected_at: string;
  current_value: number;
  threshold: number;
  log_summary: LogSummary | Record<string, never>;
}

/** Bucket widths tried, finest first: the first dividing the window with few enough buckets wins. */
const GRID_MINUTES = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];
/** Error logs read for the summary: one upstream page. */
export const SUMMARY_SAMPLE = 1000;
const MINUTE = 60_000;

/** The bucket width of the series for windows of `windowMs`. */
export function seriesGrid(windowMs: number): number {
  const total = (BASELINE_WINDOWS + 1) * windowMs;
  for (const minutes of GRID_MINUTES) {
    const ms = minutes * MINUTE;
    if (windowMs % ms === 0 && total / ms <= MAX_BUCKETS) return ms;
  }
  return windowMs;
}

export async function tinkrAnomalies(
  body: { service: string; window_minutes: number },
  scope: Scope,
  deps: QueryDeps,
  ctx: CallContext,
): Promise<{ anomalies: TinkrAnomaly[]; cache: CacheStatus; fetchedAt: number }> {
  const windowMs = body.window_minutes * MINUTE;
  const longest = Math.min(deps.maxRangeMs.logs, deps.maxRangeMs.traces);
  if ((BASELINE_WINDOWS + 1) * windowMs > longest) {
    const most = Math.floor(longest / (BASELINE_WINDOWS + 1) / MINUTE);
    throw badRequest('body.window_minutes', `at most ${most}: the window and its ${BASELINE_WINDOWS} baseline windows must fit in this profile's range limit (${formatDuration(longest)})`);
  }
  const gridMs = seriesGrid(windowMs);
  const endMs = Math.floor(deps.clock.now() / gridMs) * gridMs;
  const startMs = endMs - (BASELINE_WINDOWS + 1) * windowMs;
  const range: TimeRange = { fromMs: startMs, toMs: endMs, relative: true, stepMs: gridMs };
  const panel = { limit: 100, intervalMs: gridMs, time: {} };

  const [logs, spans] = await Promise.all([
    aggregateLogs({ ...panel, services: [body.service], levels: [], compute: { aggregation: 'count' }, computeText: 'count', groupBy: ['status'] }, scope, deps, ctx, range),
    aggregateSpans(
      { ...panel, services: [body.service], compute: { aggregation: 'pc95', metric: '@duration' }, computeText: 'pc95:@duration', groupBy: [] },
      scope,
      deps,
      ctx,
      range,
    ),
  ]);
  const windows = countWindows(logs.data, startMs, windowMs);
  const currentFrom = endMs - windowMs;
  const latency = (spans.data[0]?.points ?? []).filter((p): p is [number, number] => p[1] !== null).map(([t, ns]) => [t, ns / 1e6] as const);
  const findings = [
    errorCountRule(windows),
    errorRateRule(windows),
    latencyRule(
      latency.filter(([t]) => t < currentFrom).map(([, ms]) => ms),
      latency.filter(([t]) => t >= currentFrom).map(([, ms]) => ms),
    ),
  ].filter((f): f is Finding => f !== undefined);

  const statuses: CacheStatus[] = [logs.cache, spans.cache];
  let fetchedAt = Math.min(logs.fetchedAt, spans.fetchedAt);
  let summary: LogSummary | undefined;
  if (findings.some((f) => f.metric !== 'span_p95_latency_ms')) {
    const sample = await searchLogs(
      { services: [body.service], levels: ['error', 'critical'], time: { from: isoMs(currentFrom), to: isoMs(endMs) }, limit: SUMMARY_SAMPLE, sort: 'desc' },
      scope,
      deps,
      ctx,
    );
    statuses.push(sample.cache);
    fetchedAt = Math.min(fetchedAt, sample.fetchedAt);
    summary = summarizeLogs(sample.data, windows.at(-1)!.errors, body.window_minutes);
  }

  const anomalies = findings.map((finding) => ({
    service: body.service,
    metric: finding.metric,
    description: describe(finding, body.window_minutes),
    severity: finding.severity,
    detected_at: isoMs(endMs),
    current_value: finding.metric === 'log_error_count' ? finding.current : pyRound(finding.current, 2),
    threshold: pyRound(finding.threshold, 2),
    log_summary: finding.metric !== 'span_p95_latency_ms' && summary ? summary : {},
  }));
  return { anomalies, cache: combineCacheStatus(statuses), fetchedAt };
}

/** Error and total log counts of each window, oldest first; the last is the window under test. */
function countWindows(items: readonly AggregateItem[], startMs: number, windowMs: number): WindowCounts[] {
  const windows = Array.from({ length: BASELINE_WINDOWS + 1 }, () => ({ total: 0, errors: 0 }));
  for (const item of items) {
    const level = levelOf(String(item.group['status']));
    const isError = level === 'error' || level === 'critical';
    for (const [t, value] of item.points ?? []) {
      const window = windows[Math.floor((t - startMs) / windowMs)];
      if (!window || value === null) continue;
      window.total += value;
      if (isError) window.errors += value;
    }
  }
  return windows;
}

function describe(f: Finding, minutes: number): string {
  const span = `the last ${minutes} min`;
  const times = f.baseline > 0 ? `, ${pyRound(f.current / f.baseline, 1)}× the baseline` : '';
  switch (f.metric) {
    case 'log_error_count':
      return `${f.current} error logs in ${span}${times} of ${pyRound(f.baseline, 1)} per window (threshold ${pyRound(f.threshold, 1)})`;
    case 'log_error_rate':
      return `${pyRound(f.current, 1)}% of logs are errors in ${span}, against ${pyRound(f.baseline, 1)}% before (threshold ${pyRound(f.threshold, 1)}%)`;
    case 'span_p95_latency_ms':
      return `p95 span latency ${pyRound(f.current, 1)} ms in ${span}${times} of ${pyRound(f.baseline, 1)} ms (threshold ${pyRound(f.threshold, 1)} ms)`;
  }
}
