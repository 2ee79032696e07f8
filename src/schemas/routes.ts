import { z } from 'zod';
import { LEVELS } from '../datadog/levels.ts';
import { STORAGE_TIERS } from '../datadog/logs.ts';
import { AGGREGATIONS, METRIC_NAME, SCOPE_VALUE, TAG_KEY } from '../datadog/metrics.ts';
import {
  commaList,
  cursorParam,
  jsonObject,
  limitParam,
  plainValue,
  queryParam,
  searchMetaSchema,
  serviceName,
  sortParam,
  timeParams,
  warningSchema,
  bucketSchema,
} from './common.ts';

/** Request and response schemas of the native routes (DESIGN §4.2–4.4). */

export const logsQuerySchema = z
  .object({
    service: commaList(serviceName, 'Service names (comma list).'),
    query: queryParam,
    level: commaList(z.enum(LEVELS), 'Levels (comma list of debug, info, warn, error, critical).'),
    ...timeParams,
    limit: limitParam(5000, 100),
    sort: sortParam,
    cursor: cursorParam,
    storage_tier: z.enum(STORAGE_TIERS).optional().describe('Datadog storage tier: indexes (default), online-archives or flex.'),
    indexes: commaList(
      z.string().regex(/^[A-Za-z0-9_.*-]{1,100}$/, 'index names are letters, digits, "_", ".", "-" and "*"'),
      'Log indexes to search (comma list); default all.',
    ),
  })
  .strict();

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

export const logsResponseSchema = z.object({ data: z.array(logRecordSchema), meta: searchMetaSchema });

export const metricsQuerySchema = z
  .object({
    query: z.string().min(1).max(4000).optional().describe('A raw Datadog metric query; not combinable with `metric`.'),
    metric: z.string().regex(METRIC_NAME, 'not a Datadog metric name').optional().describe('Metric name, e.g. `trace.web.request.hits`.'),
    service: z.string().regex(SCOPE_VALUE, 'letters, digits, "_", "-", "." and "/" only').optional().describe('Service to scope `metric` to.'),
    aggregation: z.enum(AGGREGATIONS).default('avg').describe('Space aggregation for `metric`.'),
    group_by: commaList(z.string().regex(TAG_KEY, 'not a tag key'), 'Tag keys to group `metric` by (comma list).'),
    ...timeParams,
  })
  .strict();

export const seriesSchema = z.object({
  metric: z.string().nullable(),
  expression: z.string().nullable(),
  scope: z.string().nullable(),
  tags: z.array(z.string()),
  unit: z.string().nullable(),
  interval_s: z.number().nullable(),
  points: z.array(z.tuple([z.number(), z.number().nullable()])).describe('`[epoch_ms, value | null]`, ascending.'),
});

export const metricsResponseSchema = z.object({
  series: z.array(seriesSchema),
  meta: z.object({
    from: z.string(),
    to: z.string(),
    query: z.string().describe('Exactly the query sent to Datadog.'),
    partial: z.boolean(),
    warnings: z.array(warningSchema),
    bucket_s: bucketSchema,
  }),
});

export const tracesQuerySchema = z
  .object({
    service: commaList(serviceName, 'Service names (comma list).'),
    query: queryParam,
    env: plainValue.optional().describe('Environment, e.g. `prod`.'),
    operation: plainValue.optional().describe('Operation name, e.g. `web.request`.'),
    resource: z.string().min(1).max(1000).optional().describe('Resource name, e.g. `POST /charge`.'),
    status: z.enum(['ok', 'error']).optional(),
    ...timeParams,
    limit: limitParam(5000, 50),
    sort: sortParam,
    cursor: cursorParam,
  })
  .strict();

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

export const tracesResponseSchema = z.object({ data: z.array(spanSchema), meta: searchMetaSchema });

/** Largest 64-bit unsigned trace id. */
const MAX_U64 = 18_446_744_073_709_551_615n;

export const traceParamsSchema = z.object({
  trace_id: z
    .string()
    .regex(/^(\d{1,20}|[0-9a-fA-F]{32})$/, 'expected a decimal 64-bit or a 32-character hex 128-bit trace id')
    // zod runs refinements even after the regex failed, so only digits reach BigInt.
    .refine((id) => !/^\d{1,20}$/.test(id) || BigInt(id) <= MAX_U64, 'larger than a 64-bit id')
    .transform((id) => (id.length === 32 ? id.toLowerCase() : BigInt(id).toString()))
    .describe('Decimal 64-bit or hex 128-bit trace id.'),
});

export const traceQuerySchema = z.object({ ...timeParams }).strict();

export const traceResponseSchema = z.object({
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
});
