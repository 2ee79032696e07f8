import { randomUUID } from 'node:crypto';
import { logsAggregateInput, spansAggregateInput } from '../analytics/request.ts';
import { runLogsAggregateInSteps, runSpansAggregateInSteps, type RunResult } from '../analytics/run.ts';
import { UNKNOWN_INDEX_TITLE } from '../data/log-indexes.ts';
import { apiError, JSON_API_TYPE, JSON_TYPE, type Reply } from '../http/reply.ts';
import type { SearchContext } from './search-input.ts';

/**
 * `POST /api/v2/logs/analytics/aggregate` (`AggregateLogs`) and
 * `POST /api/v2/spans/analytics/aggregate` (`AggregateSpans`) in Datadog's wire format:
 *
 * - logs: `{"data":{"buckets":[{"by":{…},"computes":{"c0":…}}]},"meta":{elapsed, request_id, status}}`;
 * - spans: `{"data":[{"type":"bucket","id","attributes":{"by","compute","computes"}}],"meta":…}`
 *   served as `application/vnd.api+json` (real answers carry `compute`, the spec `computes`:
 *   both are sent, the same);
 * - errors of both use the plain `{"errors":["…"]}` shape (the spans aggregate does not use
 *   JSON:API errors, unlike the spans searches).
 *
 * Both aggregate in steps (analytics/run.ts), so a long range does not stall the process.
 */

export async function aggregateLogsEndpoint(body: unknown, ctx: SearchContext): Promise<Reply> {
  const input = logsAggregateInput(body);
  if (typeof input === 'string') return apiError(400, input);
  const result = await runLogsAggregateInSteps(input, { nowMs: ctx.nowMs, data: ctx.data, timedOut: ctx.timedOut, remember: true });
  if (!result.ok) return apiError(400, result.message);
  return { status: 200, body: { data: { buckets: result.buckets }, meta: metaOf(ctx, result) }, contentType: JSON_TYPE };
}

export async function aggregateSpansEndpoint(body: unknown, ctx: SearchContext): Promise<Reply> {
  if (body === undefined) return apiError(400, 'Missing request body');
  const input = spansAggregateInput(body);
  if (typeof input === 'string') return apiError(400, input);
  const result = await runSpansAggregateInSteps(input, { nowMs: ctx.nowMs, data: ctx.data, timedOut: ctx.timedOut, remember: true });
  if (!result.ok) return apiError(400, result.message);
  const data = result.buckets.map((bucket) => ({
    type: 'bucket',
    id: randomUUID(),
    attributes: { by: bucket.by, compute: bucket.computes, computes: bucket.computes },
  }));
  return { status: 200, body: { data, meta: metaOf(ctx, result) }, contentType: JSON_API_TYPE };
}

function metaOf(ctx: SearchContext, result: Extract<RunResult, { ok: true }>): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    elapsed: ctx.elapsedMs(),
    request_id: ctx.requestId,
    status: ctx.timedOut ? 'timeout' : 'done',
  };
  if (result.unknownIndexes.length > 0) {
    meta['warnings'] = [{ code: 'unknown_index', title: UNKNOWN_INDEX_TITLE, detail: `indexes: ${result.unknownIndexes.join(', ')}` }];
  }
  return meta;
}
