import { resolveIndexes, tierWindow, UNKNOWN_INDEX_TITLE } from '../data/log-indexes.ts';
import { apiError, JSON_TYPE, type Reply } from '../http/reply.ts';
import { runPage, type PageRequest } from '../search/page.ts';
import { logTarget } from '../search/targets.ts';
import { LOGS_STORAGE_TIERS, type LogEvent, type LogsStorageTier, type SortOrder } from '../wire.ts';
import { readSearchBasics, searchPageBody, type SearchContext } from './search-input.ts';

/**
 * `POST /api/v2/logs/events/search` (body `LogsListRequest`, optional) and its GET twin
 * `/api/v2/logs/events`, which `links.next` points at.
 */

export interface LogsInput {
  query: string;
  from: string;
  to: string;
  indexes: string[];
  storageTier: LogsStorageTier;
  sort: SortOrder;
  limit: number;
  cursor: string | undefined;
}

export function logsInputFromBody(body: unknown): LogsInput | string {
  if (body === undefined) body = {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'Invalid request body: expected a JSON object';
  const b = body as Record<string, unknown>;
  const filter = b['filter'] ?? {};
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) return 'filter must be an object';
  const f = filter as Record<string, unknown>;
  const indexes = f['indexes'] ?? ['*'];
  if (!Array.isArray(indexes) || indexes.some((i) => typeof i !== 'string')) return 'filter.indexes must be an array of strings';
  const tier = f['storage_tier'] ?? 'indexes';
  if (!(LOGS_STORAGE_TIERS as readonly unknown[]).includes(tier)) {
    return `filter.storage_tier must be one of ${LOGS_STORAGE_TIERS.join(', ')}`;
  }
  const basics = readSearchBasics({ filter: f, page: b['page'], sort: b['sort'], prefix: '' });
  if (typeof basics === 'string') return basics;
  return { ...basics, indexes: indexes as string[], storageTier: tier as LogsStorageTier };
}

/** The GET form: `filter[query]`, `filter[indexes]` (comma list), `page[limit]`, ... */
export function logsInputFromQuery(query: Readonly<Record<string, string>>): LogsInput | string {
  const limit = query['page[limit]'];
  const body = {
    filter: {
      query: query['filter[query]'],
      from: query['filter[from]'],
      to: query['filter[to]'],
      indexes: query['filter[indexes]']?.split(','),
      storage_tier: query['filter[storage_tier]'],
    },
    page: { cursor: query['page[cursor]'], limit: limit === undefined ? undefined : /^-?\d+$/.test(limit) ? Number(limit) : limit },
    sort: query['sort'],
  };
  return logsInputFromBody(JSON.parse(JSON.stringify(body)));
}

export function searchLogs(input: LogsInput, ctx: SearchContext): Reply {
  const { searched, unknown } = resolveIndexes(input.indexes);
  const request: PageRequest<LogEvent> = {
    family: 'logs',
    ...input,
    scope: [[...input.indexes].sort(), input.storageTier],
    nowMs: ctx.nowMs,
    window: (fromMs, toMs) =>
      searched.length === 0 ? { fromMs, toMs: fromMs } : tierWindow(input.storageTier, fromMs, toMs, ctx.nowMs),
    eventsInSlot: (slot) => ctx.data.logsInSlot(slot, ctx.nowMs),
    target: logTarget,
    traceIdFields: ['trace_id', '@dd.trace_id'],
    spanIdFields: ['span_id', '@dd.span_id'],
  };
  const result = runPage(request);
  if (!result.ok) {
    if (result.kind === 'syntax') return apiError(400, `Invalid query: ${result.message}`);
    return apiError(400, result.message);
  }
  const warnings = unknown.length > 0 ? { warnings: [{ code: 'unknown_index', title: UNKNOWN_INDEX_TITLE, detail: `indexes: ${unknown.join(', ')}` }] } : {};
  const body = searchPageBody(
    ctx,
    result,
    input,
    {
      path: '/api/v2/logs/events',
      filter: {
        'filter[query]': input.query,
        'filter[from]': input.from,
        'filter[to]': input.to,
        'filter[indexes]': input.indexes.join(','),
        'filter[storage_tier]': input.storageTier,
      },
    },
    warnings,
  );
  return { status: 200, body, contentType: JSON_TYPE };
}
