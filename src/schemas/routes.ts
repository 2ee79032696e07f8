import { z } from 'zod';
import { LEVELS, type Level } from '../datadog/levels.ts';
import { STORAGE_TIERS } from '../datadog/logs.ts';
import { AGGREGATIONS, METRIC_NAME, SCOPE_VALUE, TAG_KEY } from '../datadog/metrics.ts';
import {
  commaList,
  cursorParam,
  jsonObject,
  limitParam,
  must,
  plainValue,
  queryParam,
  searchMetaSchema,
  serviceName,
  sortParam,
  strictParams,
  timed,
  timeParams,
  warningSchema,
  bucketSchema,
} from './common.ts';
import { DEFAULT_SPAN_MS, TRACE_DEFAULT_SPAN_MS } from '../signals/default-range.ts';
import type { LogsParams } from '../signals/logs.ts';
import type { MetricsParams } from '../signals/metrics.ts';
import type { SpanFilter, SpanSearchParams } from '../signals/traces.ts';

/** Request and response schemas of the native routes (docs/http-api.md). */

/** Other names callers use for a level: `fatal` is what many loggers call `critical`. */
const LEVEL_ALIASES: Readonly<Record<string, Level>> = { fatal: 'critical' };

/** One level, in any case, `fatal` meaning `critical`. */
export const levelParam = z.preprocess(
  (value) => (typeof value === 'string' ? (LEVEL_ALIASES[value.toLowerCase()] ?? value.toLowerCase()) : value),
  z.enum(LEVELS, { error: must('level', `one of ${LEVELS.join(', ')} (fatal means critical)`) }),
);

const INDEX_RULE = must('indexes', 'index names of 1–100 letters, digits, "_", ".", "-" and "*"');

/** The parameters of `GET /logs`, one schema each (the aggregate and tail routes share some). */
export const logsParams = {
  service: commaList('service', serviceName, 'Service names (comma list).'),
  query: queryParam,
  level: commaList('level', levelParam, 'Levels (comma list of debug, info, warn, error, critical; fatal means critical).'),
  ...timeParams,
  limit: limitParam(5000, 100),
  sort: sortParam,
  cursor: cursorParam,
  storage_tier: z
    .enum(STORAGE_TIERS, { error: must('storage_tier', `one of ${STORAGE_TIERS.join(', ')}`) })
    .optional()
    .describe('Datadog storage tier: indexes (default), online-archives or flex.'),
  indexes: commaList('indexes', z.string({ error: INDEX_RULE }).regex(/^[A-Za-z0-9_.*-]{1,100}$/, INDEX_RULE), 'Log indexes to search (comma list); default all.'),
};

/** Which logs the log filters of `GET /logs` (and its aggregate and live tail) ask for. */
export function logFilterOf(q: { service?: string[] | undefined; level?: Level[] | undefined; query?: string | undefined }): Pick<LogsParams, 'services' | 'levels' | 'query'> {
  return { services: q.service ?? [], levels: q.level ?? [], query: q.query };
}

/** `GET /logs`, read into the search it asks for. */
export const logsQuerySchema = timed(
  strictParams(logsParams),
  DEFAULT_SPAN_MS,
  (q, time): LogsParams => ({
    ...logFilterOf(q),
    time,
    limit: q.limit,
    sort: q.sort,
    storageTier: q.storage_tier,
    indexes: q.indexes,
    cursor: q.cursor,
  }),
);

export const logRecordSchema = z.object({
  id: z.string(),
  timestamp: z.string().nullable(),
  service: z.string().nullable(),
  level: z.enum(LEVELS),
  status: z.string().nullable().describe("Datadog's raw status."),
  message: z.string().nullable(),
  host: z.string().nullable(),
  trace_id: z.string().nullable(),
  span_id: z.string().nullable(),
  tags: z.array(z.string()),
  attributes: jsonObject,
});

export const logsResponseSchema = z
  .object({ data: z.array(logRecordSchema), meta: searchMetaSchema })
  .describe('The matching log events, in `sort` order, and where the search stands (`meta`)');

const METRIC_QUERY_RULE = must('query', 'one Datadog metric query of 1–4000 characters');
const METRIC_RULE = must('metric', 'a Datadog metric name: a letter, then letters, digits, "_" and "." (at most 200 characters)');
const SCOPE_RULE = (name: string) => must(name, '1–200 letters, digits, "_", "-", "." and "/" (a Datadog tag value)');
const TAG_KEY_RULE = must('group_by', 'tag keys: a letter, then letters, digits, "_", "-", "." and "/" (at most 200 characters each)');

export const metricsParams = {
  query: z.string({ error: METRIC_QUERY_RULE }).min(1, METRIC_QUERY_RULE).max(4000, METRIC_QUERY_RULE).optional().describe('A raw Datadog metric query; not combinable with `metric`.'),
  metric: z.string({ error: METRIC_RULE }).regex(METRIC_NAME, METRIC_RULE).optional().describe('Metric name, e.g. `trace.web.request.hits`.'),
  service: z.string({ error: SCOPE_RULE('service') }).regex(SCOPE_VALUE, SCOPE_RULE('service')).optional().describe('Service to scope `metric` to.'),
  aggregation: z
    .enum(AGGREGATIONS, { error: must('aggregation', `one of ${AGGREGATIONS.join(', ')}`) })
    .default('avg')
    .describe('Space aggregation for `metric`.'),
  group_by: commaList('group_by', z.string({ error: TAG_KEY_RULE }).regex(TAG_KEY, TAG_KEY_RULE), 'Tag keys to group `metric` by (comma list).'),
  ...timeParams,
};

/**
 * `GET /metrics`, read into a raw query or a metric built from parts: exactly one of `query`
 * and `metric`, and `service`/`group_by` only to build one from `metric`.
 */
export const metricsQuerySchema = timed(strictParams(metricsParams), DEFAULT_SPAN_MS, (q, time, ctx): MetricsParams => {
  const refuse = (path: 'query' | 'metric', message: string) => ctx.addIssue({ code: 'custom', path: [path], message, input: q });
  if (q.query !== undefined && q.metric !== undefined) {
    refuse('query', 'give either query or metric, not both');
  } else if (q.query !== undefined) {
    if (q.service !== undefined || q.group_by !== undefined) {
      refuse('query', 'service and group_by build a query from metric; write them into the raw query instead');
    }
    return { kind: 'raw', query: q.query, time };
  } else if (q.metric !== undefined) {
    return { kind: 'built', metric: q.metric, service: q.service, aggregation: q.aggregation, groupBy: q.group_by ?? [], time };
  } else {
    refuse('metric', 'give either metric or query (a raw Datadog metric query)');
  }
  return z.NEVER;
});

export const seriesSchema = z.object({
  metric: z.string().nullable(),
  expression: z.string().nullable(),
  scope: z.string().nullable(),
  tags: z.array(z.string()),
  unit: z.string().nullable(),
  interval_s: z.number().nullable(),
  points: z.array(z.tuple([z.number(), z.number().nullable()])).describe('`[epoch_ms, value | null]`, ascending.'),
});

export const metricsResponseSchema = z
  .object({
    series: z.array(seriesSchema),
    meta: z.object({
      from: z.string(),
      to: z.string(),
      query: z.string().describe('Exactly the query sent to Datadog.'),
      partial: z.boolean(),
      warnings: z.array(warningSchema),
      bucket_s: bucketSchema,
    }),
  })
  .describe('One entry per series of the query (one per group with `group_by`), points ascending');

const RESOURCE_RULE = must('resource', 'one resource name of 1–1000 characters');

/** The parameters of `GET /traces`, one schema each (the aggregate route shares some). */
export const tracesParams = {
  service: commaList('service', serviceName, 'Service names (comma list).'),
  query: queryParam,
  env: plainValue('env').optional().describe('Environment, e.g. `prod`.'),
  operation: plainValue('operation').optional().describe('Operation name, e.g. `web.request`.'),
  resource: z.string({ error: RESOURCE_RULE }).min(1, RESOURCE_RULE).max(1000, RESOURCE_RULE).optional().describe('Resource name, e.g. `POST /charge`.'),
  status: z.enum(['ok', 'error'], { error: must('status', 'one of ok, error') }).optional().describe('`ok` or `error`.'),
  ...timeParams,
  limit: limitParam(5000, 50),
  sort: sortParam,
  cursor: cursorParam,
};

/** Which spans the span filters of `GET /traces` (and its aggregate) ask for. */
export function spanFilterOf(q: {
  service?: string[] | undefined;
  query?: string | undefined;
  env?: string | undefined;
  operation?: string | undefined;
  resource?: string | undefined;
  status?: 'ok' | 'error' | undefined;
}): SpanFilter {
  return { services: q.service ?? [], query: q.query, env: q.env, operation: q.operation, resource: q.resource, status: q.status };
}

/** `GET /traces`, read into the span search it asks for. */
export const tracesQuerySchema = timed(
  strictParams(tracesParams),
  DEFAULT_SPAN_MS,
  (q, time): SpanSearchParams => ({
    ...spanFilterOf(q),
    time,
    limit: q.limit,
    sort: q.sort,
    cursor: q.cursor,
  }),
);

export const spanSchema = z.object({
  trace_id: z.string(),
  span_id: z.string(),
  parent_id: z.string().nullable(),
  service: z.string().nullable(),
  name: z.string().nullable(),
  resource: z.string().nullable(),
  type: z.string().nullable(),
  env: z.string().nullable(),
  host: z.string().nullable(),
  start: z.string().nullable(),
  end: z.string().nullable(),
  duration_ms: z.number().nullable(),
  status: z.enum(['ok', 'error']),
  tags: z.array(z.string()),
  attributes: jsonObject,
});

export const tracesResponseSchema = z
  .object({ data: z.array(spanSchema), meta: searchMetaSchema })
  .describe('The matching spans, in `sort` order, and where the search stands (`meta`)');

/** Largest 64-bit unsigned trace id. */
const MAX_U64 = 18_446_744_073_709_551_615n;

const TRACE_ID_RULE = must('trace_id', 'a decimal 64-bit id (at most 18446744073709551615) or a 32-character hex 128-bit id');

export const traceParamsSchema = z.object({
  trace_id: z
    .string({ error: TRACE_ID_RULE })
    .regex(/^(\d{1,20}|[0-9a-fA-F]{32})$/, TRACE_ID_RULE)
    // zod runs refinements even after the regex failed, so only digits reach BigInt.
    .refine((id) => !/^\d{1,20}$/.test(id) || BigInt(id) <= MAX_U64, TRACE_ID_RULE)
    .transform((id) => (id.length === 32 ? id.toLowerCase() : BigInt(id).toString()))
    .describe('Decimal 64-bit or hex 128-bit trace id.'),
});

/** `GET /traces/{trace_id}`: only the range, by default the last 24 h. */
export const traceQuerySchema = timed(strictParams({ ...timeParams }), TRACE_DEFAULT_SPAN_MS, (_q, time) => ({ time }));

export const traceResponseSchema = z
  .object({
    trace_id: z.string(),
    root_span_id: z.string().nullable(),
    start: z.string().nullable(),
    end: z.string().nullable(),
    duration_ms: z.number().nullable(),
    span_count: z.number().int(),
    error_count: z.number().int(),
    services: z.array(z.string()),
    spans: z.array(spanSchema),
    meta: z.object({ partial: z.boolean(), warnings: z.array(warningSchema), bucket_s: bucketSchema }),
  })
  .describe('The trace: a summary and every span, by start time');
