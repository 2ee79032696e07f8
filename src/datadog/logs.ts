import type { UpstreamRequest } from '../upstream-call.ts';
import { levelOf, type Level } from './levels.ts';
import { asObject, asString, asStringArray, dataArray, isoTimestamp, readPageMeta, type Json, type PageMeta } from './shape.ts';

/** Logs search: our normalized query ↔ `POST /api/v2/logs/events/search` (datadog-api.md §1). */

export const LOGS_SEARCH_PATH = '/api/v2/logs/events/search';
/** Datadog's `page.limit` maximum for logs search. */
export const LOGS_PAGE_MAX = 1000;

export const STORAGE_TIERS = ['indexes', 'online-archives', 'flex'] as const;
export type StorageTier = (typeof STORAGE_TIERS)[number];

export interface LogsPageQuery {
  /** Datadog search syntax, already composed and checked. */
  query: string;
  fromMs: number;
  toMs: number;
  sort: 'asc' | 'desc';
  pageLimit: number;
  cursor?: string | undefined;
  indexes?: string[] | undefined;
  storageTier?: StorageTier | undefined;
}

export function logsSearchRequest(q: LogsPageQuery): UpstreamRequest {
  const filter: Json = {
    query: q.query,
    from: new Date(q.fromMs).toISOString(),
    to: new Date(q.toMs).toISOString(),
  };
  if (q.indexes && q.indexes.length > 0) filter.indexes = q.indexes;
  if (q.storageTier) filter.storage_tier = q.storageTier;
  const page: Json = { limit: q.pageLimit };
  if (q.cursor) page.cursor = q.cursor;
  return {
    family: 'logs',
    method: 'POST',
    path: LOGS_SEARCH_PATH,
    body: { filter, page, sort: q.sort === 'asc' ? 'timestamp' : '-timestamp' },
  };
}

/** One log as callers see it (docs/http-api.md#get-logs). */
export interface LogRecord {
  id: string;
  timestamp: string | null;
  service: string | null;
  level: Level;
  status: string | null;
  message: string | null;
  host: string | null;
  trace_id: string | null;
  span_id: string | null;
  tags: string[];
  attributes: Json;
}

export interface LogsPage extends PageMeta {
  items: LogRecord[];
}

export function readLogsPage(body: unknown): LogsPage {
  return { items: dataArray(body, 'logs').map(readLog), ...readPageMeta(body) };
}

function readLog(item: unknown): LogRecord {
  const log = asObject(item);
  const a = asObject(log.attributes);
  const custom = asObject(a.attributes);
  // Log injection puts correlation ids under `dd`; some pipelines remap them to the top level.
  const dd = asObject(custom.dd);
  const status = asString(a.status) ?? null;
  return {
    id: asString(log.id) ?? '',
    timestamp: isoTimestamp(a.timestamp),
    service: asString(a.service) ?? null,
    level: levelOf(status ?? undefined),
    status,
    message: asString(a.message) ?? null,
    host: asString(a.host) ?? null,
    trace_id: asString(dd.trace_id) ?? asString(custom.trace_id) ?? null,
    span_id: asString(dd.span_id) ?? asString(custom.span_id) ?? null,
    tags: asStringArray(a.tags),
    attributes: custom,
  };
}
