import { UNRESTRICTED } from '../../src/auth/scope.ts';
import { logsAggregateRequest, spansAggregateRequest } from '../../src/datadog/aggregate.ts';
import type { Level } from '../../src/datadog/levels.ts';
import { LOGS_PAGE_MAX, logsSearchRequest } from '../../src/datadog/logs.ts';
import { metricsQueryRequest, type Aggregation } from '../../src/datadog/metrics.ts';
import { SPANS_PAGE_MAX, spansSearchRequest } from '../../src/datadog/spans.ts';
import { DEFAULT_GROUP_LIMIT, parseCompute } from '../../src/schemas/aggregate.ts';
import { DEFAULT_SPAN_MS } from '../../src/signals/default-range.ts';
import { composeLogsQuery } from '../../src/signals/logs.ts';
import { metricsQueryFor } from '../../src/signals/metrics.ts';
import { composeSpansQuery } from '../../src/signals/traces.ts';
import { parseDuration } from '../../src/time/duration.ts';
import { resolveRange, type TimeParams } from '../../src/time/range.ts';
import type { UpstreamRequest } from '../../src/upstream-call.ts';

/**
 * A dashboard panel: one GET on the gateway, and the one Datadog request a pass-through proxy
 * would send for it. Both are derived from the same definition, and the Datadog side is built
 * with the gateway's own translators (src/signals + src/datadog), so the two runs of the fleet
 * ask for exactly the same data.
 */

export type PanelTime = { since: string } | { from: string; to: string };

export type Panel =
  | { kind: 'logs'; title: string; services: string[]; levels: Level[]; query?: string; limit: number; time: PanelTime }
  | { kind: 'metrics'; title: string; metric: string; service?: string; aggregation: Aggregation; groupBy: string[]; time: PanelTime }
  | {
      kind: 'spans';
      title: string;
      services: string[];
      env?: string;
      resource?: string;
      status?: 'ok' | 'error';
      query?: string;
      limit: number;
      time: PanelTime;
    }
  | {
      /** An analytics panel: `GET /logs/aggregate` or `GET /traces/aggregate`. */
      kind: 'aggregate';
      title: string;
      signal: 'logs' | 'spans';
      services: string[];
      levels?: Level[];
      status?: 'ok' | 'error';
      /** `count` or e.g. `pc95:@duration`. */
      compute: string;
      groupBy: string[];
      limit?: number;
      interval?: string;
      time: PanelTime;
    };

export type PanelKind = Panel['kind'];
export const PANEL_KINDS: readonly PanelKind[] = ['logs', 'metrics', 'spans', 'aggregate'];

/**
 * Largest range a translated panel may cover. Only a sanity bound: the gateway applies the
 * profile's own limits (31 d logs and spans by default), which every panel here stays inside.
 */
const TRANSLATION_MAX_RANGE_MS = 31 * 86_400_000;

/** Path and query string of the panel's gateway request, e.g. `/logs?service=checkout&since=15m`. */
export function panelPath(panel: Panel): string {
  const q = new URLSearchParams();
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== '') q.set(name, String(value));
  };
  switch (panel.kind) {
    case 'logs':
      set('service', panel.services.join(','));
      set('level', panel.levels.join(','));
      set('query', panel.query);
      set('limit', panel.limit);
      break;
    case 'metrics':
      set('metric', panel.metric);
      set('service', panel.service);
      set('aggregation', panel.aggregation);
      set('group_by', panel.groupBy.join(','));
      break;
    case 'spans':
      set('service', panel.services.join(','));
      set('env', panel.env);
      set('resource', panel.resource);
      set('status', panel.status);
      set('query', panel.query);
      set('limit', panel.limit);
      break;
    case 'aggregate':
      set('service', panel.services.join(','));
      set('level', panel.levels?.join(','));
      set('status', panel.status);
      set('compute', panel.compute === 'count' ? undefined : panel.compute);
      set('group_by', panel.groupBy.join(','));
      set('limit', panel.limit);
      set('interval', panel.interval);
      break;
  }
  if ('since' in panel.time) set('since', panel.time.since);
  else {
    set('from', panel.time.from);
    set('to', panel.time.to);
  }
  const route = panel.kind === 'spans' ? '/traces' : panel.kind === 'aggregate' ? `/${panel.signal === 'logs' ? 'logs' : 'traces'}/aggregate` : `/${panel.kind}`;
  return `${route}?${q.toString()}`;
}

/** Whether the panel's range moves with "now" (a relative range) or is a fixed window. */
export function isRelative(panel: Panel): boolean {
  return 'since' in panel.time;
}

/** The Datadog request the gateway sends for this panel at `nowMs` (its first and, for these limits, only page). */
export function panelUpstreamRequest(panel: Panel, nowMs: number): UpstreamRequest {
  const time: TimeParams = 'since' in panel.time ? { since: panel.time.since } : { from: panel.time.from, to: panel.time.to };
  const range = resolveRange(time, { nowMs, defaultSpanMs: DEFAULT_SPAN_MS, maxRangeMs: TRANSLATION_MAX_RANGE_MS });
  switch (panel.kind) {
    case 'logs':
      return logsSearchRequest({
        query: composeLogsQuery({ services: panel.services, levels: panel.levels, query: panel.query }, UNRESTRICTED),
        fromMs: range.fromMs,
        toMs: range.toMs,
        sort: 'desc',
        pageLimit: Math.min(panel.limit, LOGS_PAGE_MAX),
      });
    case 'metrics': {
      const query = metricsQueryFor(
        { kind: 'built', metric: panel.metric, service: panel.service, aggregation: panel.aggregation, groupBy: panel.groupBy },
        UNRESTRICTED,
      );
      return metricsQueryRequest(query, range.fromMs, range.toMs);
    }
    case 'spans':
      return spansSearchRequest({
        query: composeSpansQuery(
          { services: panel.services, env: panel.env, resource: panel.resource, status: panel.status, query: panel.query },
          UNRESTRICTED,
        ),
        fromMs: range.fromMs,
        toMs: range.toMs,
        sort: 'desc',
        pageLimit: Math.min(panel.limit, SPANS_PAGE_MAX),
      });
    case 'aggregate': {
      const shape = {
        fromMs: range.fromMs,
        toMs: range.toMs,
        compute: parseCompute(panel.compute)!,
        groupBy: panel.groupBy,
        limit: panel.limit ?? DEFAULT_GROUP_LIMIT,
        intervalMs: panel.interval === undefined ? undefined : parseDuration(panel.interval, ['s', 'm', 'h', 'd']),
      };
      return panel.signal === 'logs'
        ? logsAggregateRequest({ ...shape, query: composeLogsQuery({ services: panel.services, levels: panel.levels ?? [] }, UNRESTRICTED) })
        : spansAggregateRequest({ ...shape, query: composeSpansQuery({ services: panel.services, status: panel.status }, UNRESTRICTED) });
    }
  }
}
