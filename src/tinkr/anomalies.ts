import type { Scope } from '../auth/scope.ts';
import { levelOf } from '../datadog/levels.ts';
import { badRequest } from '../errors.ts';
import { MAX_BUCKETS } from '../signals/aggregate-grid.ts';
import { logsPanel, readPanel, spansPanel, type AggregateItem } from '../signals/aggregate.ts';
import type { QueryDeps } from '../signals/deps.ts';
import { logsSource } from '../signals/logs.ts';
import { searchPages } from '../signals/paged-search.ts';
import { formatDuration } from '../time/duration.ts';
import { isoMs } from '../time/instant.ts';
import type { Answer } from '../upstream/answer.ts';
import type { CallContext } from '../upstream/types.ts';
import {
  BASELINE_WINDOWS,
  errorCountRule,
  errorRateRule,
  latencyRule,
  type Finding,
  type Severity,
  type WindowCounts,
} from './anomaly-rules.ts';
import { summarizeLogs, type LogSummary } from './log-summary.ts';
import { pyRound } from './py-round.ts';

/**
 * `POST /api/v1/anomalies` (docs/analytics.md#post-apiv1anomalies): the rules of anomaly-rules.ts
 * over two aggregate calls, both over the window and its baseline at once, plus a log search only
 * when a log rule fires:
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

export function tinkrAnomalies(body: { service: string; window_minutes: number }, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  const windowMs = body.window_minutes * MINUTE;
  const longest = Math.min(deps.maxRangeMs.logs, deps.maxRangeMs.traces);
  if ((BASELINE_WINDOWS + 1) * windowMs > longest) {
    const most = Math.floor(longest / (BASELINE_WINDOWS + 1) / MINUTE);
    throw badRequest('body.window_minutes', `at most ${most}: the window and its ${BASELINE_WINDOWS} baseline windows must fit in this profile's range limit (${formatDuration(longest)})`);
  }
  const gridMs = seriesGrid(windowMs);
  const endMs = Math.floor(deps.clock.now() / gridMs) * gridMs;
  const startMs = endMs - (BASELINE_WINDOWS + 1) * windowMs;
  const panel = { limit: 100, intervalMs: gridMs };
  const logs = logsPanel({ ...panel, services: [body.service], levels: [], compute: { aggregation: 'count' }, computeText: 'count', groupBy: ['status'] }, scope);
  const spans = spansPanel({ ...panel, services: [body.service], compute: { aggregation: 'pc95', metric: '@duration' }, computeText: 'pc95:@duration', groupBy: [] }, scope);
  const errorLogs = logsSource({ services: [body.service], levels: ['error', 'critical'] }, scope, 'desc');

  return deps.engine.answer(
    {
      family: 'logs_aggregate',
      route: 'tinkr.anomalies',
      identity: [logs.identity, spans.identity, body.service, body.window_minutes],
      // The windows end at the series' last whole bucket: every call within a bucket is one answer.
      time: { kind: 'pinned', fromMs: startMs, toMs: endMs, stepMs: gridMs },
      maxRangeMs: longest,
      weight: SUMMARY_SAMPLE,
      async produce(range, io) {
        const [logCounts, latencies] = await Promise.all([readPanel(logs, range, io), readPanel(spans, range, io)]);
        const windows = countWindows(logCounts.data, startMs, windowMs);
        const currentFrom = endMs - windowMs;
        const latency = (latencies.data[0]?.points ?? []).filter((p): p is [number, number] => p[1] !== null).map(([t, ns]) => [t, ns / 1e6] as const);
        const findings = [
          errorCountRule(windows),
          errorRateRule(windows),
          latencyRule(
            latency.filter(([t]) => t < currentFrom).map(([, ms]) => ms),
            latency.filter(([t]) => t >= currentFrom).map(([, ms]) => ms),
          ),
        ].filter((f): f is Finding => f !== undefined);

        let summary: LogSummary | undefined;
        if (findings.some((f) => f.metric !== 'span_p95_latency_ms')) {
          // The window's error logs, one page: a third call only when a log rule fired.
          const window = { fromMs: currentFrom, toMs: endMs, relative: false, stepMs: 0 };
          const sample = await searchPages(errorLogs, window, io, SUMMARY_SAMPLE, 1);
          summary = summarizeLogs(sample.items, windows.at(-1)!.errors, body.window_minutes);
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
        return { anomalies };
      },
    },
    ctx,
  );
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
