import { statusesFor, type Level } from '../datadog/levels.ts';
import { LOGS_PAGE_MAX, logsSearchRequest, readLogsPage, type LogRecord, type StorageTier } from '../datadog/logs.ts';
import { allOf, anyOf, group } from '../datadog/search-syntax.ts';
import type { TimeParams } from '../time/range.ts';
import type { CallContext } from '../upstream/types.ts';
import { DEFAULT_SPAN_MS, type QueryDeps } from './deps.ts';
import { pagedSearch, type SearchResult } from './paged-search.ts';
import { validQuery } from './query-check.ts';
import { envWithin, scopeClauses, servicesWithin, type Scope } from './scope.ts';

/** `GET /logs` and the Tinkr-compatible logs route, as one operation. */
export interface LogsParams {
  services: string[];
  levels: Level[];
  query?: string | undefined;
  time: TimeParams;
  limit: number;
  sort: 'asc' | 'desc';
  storageTier?: StorageTier | undefined;
  indexes?: string[] | undefined;
  cursor?: string | undefined;
}

/** service, level and the caller's query as one Datadog query, confined to the key's scope. */
export function composeLogsQuery(params: Pick<LogsParams, 'services' | 'levels' | 'query'>, scope: Scope): string {
  const query = validQuery(params.query, 'query', scope);
  const services = servicesWithin(params.services, scope);
  const env = envWithin(undefined, scope);
  return allOf([
    ...scopeClauses(services, env),
    params.levels.length > 0 ? anyOf('status', statusesFor(params.levels)) : undefined,
    group(query),
  ]);
}

export function searchLogs(params: LogsParams, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<SearchResult<LogRecord>> {
  const query = composeLogsQuery(params, scope);
  return pagedSearch(
    {
      kind: 'logs',
      query,
      parameters: { sort: params.sort, storageTier: params.storageTier, indexes: params.indexes },
      time: params.time,
      cursor: params.cursor,
      limit: params.limit,
      maxRangeMs: deps.maxRangeMs.logs,
      defaultSpanMs: DEFAULT_SPAN_MS,
      pageMax: LOGS_PAGE_MAX,
      request: (range, pageLimit, cursor) =>
        logsSearchRequest({
          query,
          fromMs: range.fromMs,
          toMs: range.toMs,
          sort: params.sort,
          pageLimit,
          cursor,
          indexes: params.indexes,
          storageTier: params.storageTier,
        }),
      read: readLogsPage,
    },
    deps,
    ctx,
  );
}
