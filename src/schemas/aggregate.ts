import { z } from 'zod';
import { AGGREGATION_FUNCTIONS, FACET, MAX_FACET_LENGTH, type AggregationFunction, type Compute } from '../datadog/aggregate.ts';
import { parseDuration } from '../time/duration.ts';
import type { Asked, LogsPanelParams, PanelParams, SpansPanelParams } from '../signals/aggregate.ts';
import { DEFAULT_SPAN_MS } from '../signals/default-range.ts';
import { bucketSchema, must, strictParams, timed, timeParams, warningSchema } from './common.ts';
import { logFilterOf, logsParams, spanFilterOf, tracesParams } from './routes.ts';

/** `GET /logs/aggregate` and `GET /traces/aggregate` (docs/analytics.md#get-logsaggregate-and-get-tracesaggregate). */

/** Facets per panel: Datadog nests top lists; three deep is as far as a panel can show. */
export const MAX_GROUP_BY = 3;
/** Groups kept per facet. */
export const MAX_GROUP_LIMIT = 100;
export const DEFAULT_GROUP_LIMIT = 10;
/** Bucket widths: finer than 30 s is noise on any panel; coarser than a day is not a series. */
export const MIN_INTERVAL_MS = 30_000;
export const MAX_INTERVAL_MS = 86_400_000;

const MEASURED = AGGREGATION_FUNCTIONS.filter((f) => f !== 'count');
const COMPUTE_HELP = `count, or one of ${MEASURED.join(', ')} followed by :@field (e.g. pc95:@duration)`;

/** `count`, `pc95:@duration`, `cardinality:@usr.id` → the compute; undefined when it is none. */
export function parseCompute(text: string): Compute | undefined {
  if (text === 'count') return { aggregation: 'count' };
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const aggregation = text.slice(0, colon) as AggregationFunction;
  const metric = text.slice(colon + 1);
  if (aggregation === 'count' || !(AGGREGATION_FUNCTIONS as readonly string[]).includes(aggregation)) return undefined;
  if (metric.length > MAX_FACET_LENGTH || !FACET.test(metric)) return undefined;
  return { aggregation, metric };
}

const FACET_RULE = must(
  'group_by',
  `up to ${MAX_GROUP_BY} different facets, each an attribute or tag name such as status, service or @http.status_code (letters, digits, "_", "-", "." and a leading "@"; at most ${MAX_FACET_LENGTH} characters)`,
);
const facet = z.string({ error: FACET_RULE }).max(MAX_FACET_LENGTH, FACET_RULE).regex(FACET, FACET_RULE);

const COMPUTE_RULE = must('compute', COMPUTE_HELP);
const GROUP_LIMIT_RULE = must('limit', `1–${MAX_GROUP_LIMIT} (a whole number)`);
const INTERVAL_RULE = must('interval', 'a bucket width from 30s to 1d, such as 1m, 5m or 1h');

const aggregateParams = {
  compute: z
    .string({ error: COMPUTE_RULE })
    .max(200, COMPUTE_RULE)
    .default('count')
    .refine((text) => parseCompute(text) !== undefined, COMPUTE_RULE)
    .describe(`What to compute: ${COMPUTE_HELP}. Default \`count\`.`),
  group_by: z
    .preprocess(
      (value) => (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [v])).map((v) => (typeof v === 'string' ? v.trim() : v)).filter((v) => v !== ''),
      z
        .array(facet)
        .max(MAX_GROUP_BY, FACET_RULE)
        .refine((list) => new Set(list).size === list.length, FACET_RULE),
    )
    .optional()
    .describe(`Facets to group by (comma list, up to ${MAX_GROUP_BY}), e.g. \`status,@http.status_code\`.`),
  limit: z.coerce
    .number({ error: GROUP_LIMIT_RULE })
    .int(GROUP_LIMIT_RULE)
    .min(1, GROUP_LIMIT_RULE)
    .max(MAX_GROUP_LIMIT, GROUP_LIMIT_RULE)
    .default(DEFAULT_GROUP_LIMIT)
    .describe(`Groups kept per facet, the largest by the compute, 1-${MAX_GROUP_LIMIT} (default ${DEFAULT_GROUP_LIMIT}).`),
  interval: z
    .string({ error: INTERVAL_RULE })
    .max(16, INTERVAL_RULE)
    .optional()
    .refine((text) => {
      if (text === undefined) return true;
      const ms = parseDuration(text, ['s', 'm', 'h', 'd']);
      return ms !== undefined && ms % 1000 === 0 && ms >= MIN_INTERVAL_MS && ms <= MAX_INTERVAL_MS;
    }, INTERVAL_RULE)
    .describe('Bucket width of `points`, 30s to 1d (e.g. `1m`); without it, totals only. At most 1500 buckets over the range.'),
  ...timeParams,
};

/** The panel parameters both routes share, as the service takes them. */
function panelOf(q: { compute: string; group_by?: string[] | undefined; limit: number; interval?: string | undefined }): PanelParams {
  return {
    // Both parse: the fields' own refinements ran first.
    compute: parseCompute(q.compute)!,
    computeText: q.compute,
    groupBy: q.group_by ?? [],
    limit: q.limit,
    intervalMs: q.interval === undefined ? undefined : parseDuration(q.interval, ['s', 'm', 'h', 'd']),
  };
}

const logs = logsParams;
const traces = tracesParams;

/** Each with its own parameter list, so an unknown parameter is named against the right names. */
export const logsAggregateQuerySchema = timed(
  strictParams({
    service: logs.service,
    query: logs.query,
    level: logs.level,
    storage_tier: logs.storage_tier,
    indexes: logs.indexes,
    ...aggregateParams,
  }),
  DEFAULT_SPAN_MS,
  (q, time): Asked<LogsPanelParams> => ({
    ...panelOf(q),
    ...logFilterOf(q),
    storageTier: q.storage_tier,
    indexes: q.indexes,
    time,
  }),
);

export const tracesAggregateQuerySchema = timed(
  strictParams({
    service: traces.service,
    query: traces.query,
    env: traces.env,
    operation: traces.operation,
    resource: traces.resource,
    status: traces.status,
    ...aggregateParams,
  }),
  DEFAULT_SPAN_MS,
  (q, time): Asked<SpansPanelParams> => ({ ...panelOf(q), ...spanFilterOf(q), time }),
);

const facetValue = z.union([z.string(), z.number(), z.boolean()]);

export const aggregateItemSchema = z.object({
  group: z.record(z.string(), facetValue).describe('Facet → value of this group; `{}` without `group_by`.'),
  tags: z.array(z.string()).describe('The group as `facet:value` strings.'),
  value: z.number().nullable().describe('The compute over the whole range; 0 for an empty count, null for a measure with no value.'),
  points: z
    .array(z.tuple([z.number(), z.number().nullable()]))
    .optional()
    .describe('With `interval`: `[epoch_ms, value | null]` per bucket, ascending; 0 for an empty count bucket, null for other computes.'),
});

export const aggregateResponseSchema = z
  .object({
    data: z.array(aggregateItemSchema).describe('Groups, largest `value` first.'),
    meta: z.object({
      from: z.string(),
      to: z.string(),
      compute: z.string().describe('The `compute` parameter as given.'),
      interval_s: z.number().nullable().describe('Bucket width of `points` in seconds; null without `interval`.'),
      partial: z.boolean(),
      warnings: z.array(warningSchema),
      bucket_s: bucketSchema,
    }),
  })
  .describe('One entry per group (one in all without `group_by`): its value over the range, and per bucket with `interval`');
