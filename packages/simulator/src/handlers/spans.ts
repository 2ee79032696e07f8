import { SPANS_RETENTION_MS } from '../data/log-indexes.ts';
import { JSON_API_TYPE, jsonApiError, type Reply } from '../http/reply.ts';
import { runPage, type PageRequest } from '../search/page.ts';
import { spanTarget } from '../search/targets.ts';
import type { SpanEvent } from '../wire.ts';
import { readSearchBasics, searchPageBody, type SearchBasics, type SearchContext } from './search-input.ts';

/**
 * `POST /api/v2/spans/events/search` (body `SpansListRequest`, required) and its GET twin
 * `/api/v2/spans/events`. Errors use the JSON:API shape and everything is served as
 * `application/vnd.api+json`, as Datadog does.
 */

export type SpansInput = SearchBasics;

/** The detail Datadog sends (422) when `from` is not before `to`. */
export const REVERSED_RANGE_DETAIL = "invalid_argument(Field 'filter.from,to' is invalid: 'from' should be anterior to 'to')";

export function spansInputFromBody(body: unknown): SpansInput | string {
  if (body === undefined) return 'Missing request body';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'Invalid request body: expected a JSON object';
  const data = (body as Record<string, unknown>)['data'];
  if (data === undefined) return 'Missing data';
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'data must be an object';
  const d = data as Record<string, unknown>;
  if (d['type'] !== undefined && d['type'] !== 'search_request') return 'data.type must be search_request';
  const attributes = d['attributes'] ?? {};
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) return 'data.attributes must be an object';
  const a = attributes as Record<string, unknown>;
  const filter = a['filter'] ?? {};
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) return 'data.attributes.filter must be an object';
  const options = a['options'];
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null) return 'data.attributes.options must be an object';
    const o = options as Record<string, unknown>;
    if (o['timezone'] !== undefined && o['timeOffset'] !== undefined) {
      return 'data.attributes.options: supply timezone or timeOffset, not both';
    }
  }
  return readSearchBasics({ filter: filter as Record<string, unknown>, page: a['page'], sort: a['sort'], prefix: 'data.attributes.' });
}

/** The GET form: `filter[query]`, `filter[from]`, `filter[to]`, `sort`, `page[cursor]`, `page[limit]`. */
export function spansInputFromQuery(query: Readonly<Record<string, string>>): SpansInput | string {
  const limit = query['page[limit]'];
  const attributes = {
    filter: { query: query['filter[query]'], from: query['filter[from]'], to: query['filter[to]'] },
    page: { cursor: query['page[cursor]'], limit: limit === undefined ? undefined : /^-?\d+$/.test(limit) ? Number(limit) : limit },
    sort: query['sort'],
  };
  return spansInputFromBody(JSON.parse(JSON.stringify({ data: { type: 'search_request', attributes } })));
}

export function searchSpans(input: SpansInput, ctx: SearchContext): Reply {
  const request: PageRequest<SpanEvent> = {
    family: 'spans',
    ...input,
    scope: [],
    nowMs: ctx.nowMs,
    window: (fromMs, toMs) => ({ fromMs: Math.max(fromMs, ctx.nowMs - SPANS_RETENTION_MS), toMs }),
    eventsInSlot: (slot) => ctx.data.spansInSlot(slot, ctx.nowMs),
    target: spanTarget,
    traceIdFields: ['trace_id'],
    spanIdFields: ['span_id'],
  };
  const result = runPage(request);
  if (!result.ok) {
    if (result.kind === 'reversed') return jsonApiError(422, REVERSED_RANGE_DETAIL);
    if (result.kind === 'syntax') return jsonApiError(400, `invalid_argument(Invalid query: ${result.message})`);
    return jsonApiError(400, result.message);
  }
  // The range stays as sent (Datadog rewrites it to epoch ms); the cursor pins it either way.
  const body = searchPageBody(ctx, result, input, {
    path: '/api/v2/spans/events',
    filter: { 'filter[query]': input.query, 'filter[from]': input.from, 'filter[to]': input.to },
  });
  return { status: 200, body, contentType: JSON_API_TYPE };
}
