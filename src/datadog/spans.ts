import type { UpstreamRequest } from '../upstream-call.ts';
import { asObject, asString, asStringArray, dataArray, isoTimestamp, readPageMeta, type Json, type PageMeta } from './shape.ts';

/** Spans search: our normalized query ↔ `POST /api/v2/spans/events/search` (datadog-api.md §2). */

export const SPANS_SEARCH_PATH = '/api/v2/spans/events/search';
/** Datadog's `page.limit` maximum for spans search. */
export const SPANS_PAGE_MAX = 1000;

export interface SpansPageQuery {
  query: string;
  fromMs: number;
  toMs: number;
  sort: 'asc' | 'desc';
  pageLimit: number;
  cursor?: string | undefined;
}

export function spansSearchRequest(q: SpansPageQuery): UpstreamRequest {
  const page: Json = { limit: q.pageLimit };
  if (q.cursor) page.cursor = q.cursor;
  return {
    family: 'spans',
    method: 'POST',
    path: SPANS_SEARCH_PATH,
    body: {
      data: {
        type: 'search_request',
        attributes: {
          filter: { query: q.query, from: new Date(q.fromMs).toISOString(), to: new Date(q.toMs).toISOString() },
          page,
          sort: q.sort === 'asc' ? 'timestamp' : '-timestamp',
        },
      },
    },
  };
}

/** One span as callers see it (docs/http-api.md#get-traces-and-get-tracestrace_id). */
export interface SpanRecord {
  trace_id: string;
  span_id: string;
  parent_id: string | null;
  service: string | null;
  name: string | null;
  resource: string | null;
  type: string | null;
  env: string | null;
  host: string | null;
  start: string | null;
  end: string | null;
  duration_ms: number | null;
  status: 'ok' | 'error';
  tags: string[];
  attributes: Json;
}

export interface SpansPage extends PageMeta {
  items: SpanRecord[];
}

export function readSpansPage(body: unknown): SpansPage {
  return { items: dataArray(body, 'spans').map(readSpan), ...readPageMeta(body) };
}

function readSpan(item: unknown): SpanRecord {
  const a = asObject(asObject(item).attributes);
  const attrs = asObject(a.attributes);
  const custom = asObject(a.custom);
  const start = isoTimestamp(a.start_timestamp);
  const end = isoTimestamp(a.end_timestamp);
  const parent = asString(a.parent_id);
  const rawStatus = asString(attrs.status) ?? asString(a.status) ?? asString(custom.status);
  const errored = rawStatus === 'error' || (custom.error !== undefined && custom.error !== null && custom.error !== false);
  return {
    trace_id: asString(a.trace_id) ?? '',
    span_id: asString(a.span_id) ?? '',
    // Root spans carry no parent, or the id 0.
    parent_id: parent && parent !== '0' ? parent : null,
    service: asString(a.service) ?? null,
    name: asString(attrs.operation_name) ?? asString(a.operation_name) ?? asString(custom.operation_name) ?? asString(a.name) ?? null,
    resource: asString(a.resource_name) ?? null,
    type: asString(a.type) ?? null,
    env: asString(a.env) ?? null,
    host: asString(a.host) ?? null,
    start,
    end,
    duration_ms: durationMs(custom.duration, start, end),
    status: errored ? 'error' : 'ok',
    tags: asStringArray(a.tags),
    attributes: { ...custom, ...attrs },
  };
}

/** `custom.duration` is in nanoseconds; timestamps give only whole milliseconds. */
function durationMs(durationNs: unknown, start: string | null, end: string | null): number | null {
  if (typeof durationNs === 'number' && Number.isFinite(durationNs)) return durationNs / 1e6;
  const s = start ? Date.parse(start) : NaN;
  const e = end ? Date.parse(end) : NaN;
  return Number.isFinite(s) && Number.isFinite(e) ? e - s : null;
}
