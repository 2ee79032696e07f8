import { validQuery } from '../auth/query-check.ts';
import { envWithin, scopeClauses, servicesWithin, type Scope } from '../auth/scope.ts';
import { statusesFor, type Level } from '../datadog/levels.ts';
import { LOGS_PAGE_MAX, logsSearchRequest, readLogsPage, type LogRecord, type StorageTier } from '../datadog/logs.ts';
import { allOf, anyOf, group } from '../datadog/search-syntax.ts';
import { paramPath, type WrittenIn } from '../errors.ts';
import type { AskedRange } from '../time/range.ts';
import type { Answer, AnswerQuery } from '../upstream/answer.ts';
import type { CallContext } from '../upstream/types.ts';
import type { QueryDeps } from './deps.ts';
import { pagedSearch, searchBody, type PageSource, type SearchResult } from './paged-search.ts';

/** `GET /logs` and the Tinkr-compatible logs route, as one operation. */
export interface LogsParams {
  services: string[];
  levels: Level[];
  query?: string | undefined;
  time: AskedRange;
  limit: number;
  sort: 'asc' | 'desc';
  storageTier?: StorageTier | undefined;
  indexes?: string[] | undefined;
  cursor?: string | undefined;
  /** Where the caller wrote these parameters, for the paths of errors about them. */
  writtenIn?: WrittenIn | undefined;
}

/** service, level and the caller's query as one Datadog query, confined to the key's scope. */
export function composeLogsQuery(params: Pick<LogsParams, 'services' | 'levels' | 'query' | 'writtenIn'>, scope: Scope): string {
  const query = validQuery(params.query, paramPath('query', params.writtenIn), scope);
  const services = servicesWithin(params.services, scope);
  const env = envWithin(undefined, scope);
  return allOf([
    ...scopeClauses(services, env),
    params.levels.length > 0 ? anyOf('status', statusesFor(params.levels)) : undefined,
    group(query),
  ]);
}

/** Where a logs search reads its pages, for a composed query (within the key's scope). */
function pagesOf(query: string, params: Pick<LogsParams, 'sort' | 'indexes' | 'storageTier'>): PageSource<LogRecord> {
  return {
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
  };
}

/** Where a logs search of these filters reads its pages, inside another answer's produce (403 at once outside the scope). */
export function logsSource(params: Pick<LogsParams, 'services' | 'levels' | 'query' | 'indexes' | 'storageTier'>, scope: Scope, sort: 'asc' | 'desc'): PageSource<LogRecord> {
  return pagesOf(composeLogsQuery(params, scope), { ...params, sort });
}

/**
 * The engine query of a logs search; `route` and `render` let the Tinkr route shape the same
 * search its own way (tinkr/operations.ts).
 */
export function logsQuery(
  params: LogsParams,
  scope: Scope,
  deps: QueryDeps,
  as: { route: string; render: (result: SearchResult<LogRecord>) => unknown } = { route: 'logs', render: searchBody },
): AnswerQuery {
  const query = composeLogsQuery(params, scope);
  return pagedSearch(
    {
      kind: 'logs',
      route: as.route,
      query,
      parameters: { sort: params.sort, storageTier: params.storageTier, indexes: params.indexes },
      time: params.time,
      cursor: params.cursor,
      limit: params.limit,
      maxRangeMs: deps.maxRangeMs.logs,
      ...pagesOf(query, params),
    },
    deps,
    as.render,
  );
}

/** `GET /logs`: the finished answer. */
export function searchLogs(params: LogsParams, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  return deps.engine.answer(logsQuery(params, scope, deps), ctx);
}
