import { z } from 'zod';
import { AGGREGATIONS, METRIC_NAME, SCOPE_VALUE, TAG_KEY } from '../datadog/metrics.ts';
import { checkQuery } from '../datadog/search-syntax.ts';
import type { MetricsQueryParts } from '../signals/metrics.ts';
import { parseDuration } from '../time/duration.ts';
import type { AskedRange, TimeNames } from '../time/range.ts';
import { rewriteTinkrQuery } from '../tinkr/query-rewrite.ts';
import { countOf, must, plainValue, readTime, serviceName } from './common.ts';

/**
 * The Tinkr-compatible routes (docs/http-api.md#tinkr-compatible-routes; tinkr.md §1.2–1.3): Tinkr's own field names, and
 * unknown body fields are ignored (zod objects strip them) because the Tinkr CLI sends extras.
 */

/** Most tag filters in one traces request: each is one more clause in the span search. */
export const MAX_TAG_FILTERS = 20;

/** A Tinkr body: a JSON object; unknown fields are dropped, not refused. */
const body = <T extends z.ZodRawShape>(shape: T) =>
  z.object(shape, { error: `the body must be a JSON object with ${Object.keys(shape).join(', ')}` });

/** Tinkr's `start`/`end`: the range's ends, reported under their own names. */
const START_END: TimeNames = { from: 'start', to: 'end' };
/** A body whose range is one duration before now (`since`, `window`): every problem is that field's. */
const onlyField = (name: string): TimeNames => ({ from: name, to: name, since: name });

/** The range of a body with `start`/`end` (read like from/to: ISO 8601 with an offset, epoch ms, `now-15m`). */
function startEnd(body: { start: string; end: string }, ctx: z.RefinementCtx): AskedRange {
  // Both ends are required, so no default span applies.
  return readTime({ from: body.start, to: body.end }, ctx, { defaultSpanMs: 0, names: START_END, reportAt: 'body.start' });
}

/** The range of a body that asks for the last `since` (a duration, checked by its field). */
function lastOf(name: string, since: string, ctx: z.RefinementCtx): AskedRange {
  // `since` is always there (it has a default), so no default span applies.
  return readTime({ since }, ctx, { defaultSpanMs: 0, names: onlyField(name), reportAt: `body.${name}` });
}

const dateTime = (name: string) => {
  const rule = must(name, 'an ISO 8601 date-time with an offset, such as 2026-11-25T03:16:03.293064+00:00');
  return z.string({ error: rule }).min(1, rule).max(64, rule).describe('ISO 8601 with an offset, as the Tinkr CLI sends (`...+00:00`).');
};
const TINKR_QUERY_RULE = must('query', 'one Datadog search query of at most 4000 characters');
const RESOURCE_TYPE_RULE = must('resource_type', 'null or a text of at most 200 characters');

/**
 * `POST /api/v1/logs`, read into its search: the query checked and Tinkr's level aliases
 * rewritten into Datadog's (tinkr/query-rewrite.ts), the range parsed, `resource_type` dropped.
 */
export const tinkrLogsBody = body({
  service: serviceName,
  query: z
    .string({ error: TINKR_QUERY_RULE })
    .max(4000, TINKR_QUERY_RULE)
    .default('*')
    .describe('Datadog search syntax; Tinkr aliases `level:`, `lvl:` and `severity:` are understood.'),
  start: dateTime('start'),
  end: dateTime('end'),
  limit: countOf('limit', 5000, false).default(100),
  resource_type: z
    .string({ error: RESOURCE_TYPE_RULE })
    .max(200, RESOURCE_TYPE_RULE)
    .nullable()
    .optional()
    .describe('Accepted for compatibility; Datadog has no use for it.'),
}).transform(({ service, query, limit, ...body }, ctx) => {
  const checked = checkQuery(query);
  if (!checked.ok) ctx.addIssue({ code: 'custom', path: ['query'], message: `the search query ${checked.message}`, input: query });
  return { service, query: checked.ok ? rewriteTinkrQuery(query) : query, limit, time: startEnd(body, ctx) };
});

export const tinkrLogEntry = z.object({
  timestamp: z.string(),
  level: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL']),
  message: z.string(),
  service: z.string(),
  trace_id: z.string(),
  span_id: z.string(),
  extra: z.record(z.string(), z.string()),
});
export const tinkrLogsResponse = z.object({ entries: z.array(tinkrLogEntry) }).describe('Log entries in Tinkr\'s shape, newest first');

const TINKR_METRIC_RULE = must('metric', 'a metric name or a Datadog metric query, 1–4000 characters');
const SCOPED_SERVICE_RULE = must('service', 'letters, digits, "_", "-", "." and "/" only to scope a metric name (or send a full metric query in metric)');

/**
 * `POST /api/v1/metrics`, read into its query: a bare metric name is scoped to the service (so
 * the service must be a tag value), anything else is a full Datadog query sent as it is.
 */
export const tinkrMetricsBody = body({
  service: serviceName,
  metric: z
    .string({ error: TINKR_METRIC_RULE })
    .min(1, TINKR_METRIC_RULE)
    .max(4000, TINKR_METRIC_RULE)
    .describe('A metric name (scoped to the service with avg) or a full Datadog metric query.'),
  start: dateTime('start'),
  end: dateTime('end'),
}).transform(({ service, metric, ...body }, ctx): { service: string; metric: MetricsQueryParts; time: AskedRange } => {
  const time = startEnd(body, ctx);
  if (!METRIC_NAME.test(metric)) return { service, metric: { kind: 'raw', query: metric }, time };
  if (!SCOPE_VALUE.test(service)) ctx.addIssue({ code: 'custom', path: ['service'], message: SCOPED_SERVICE_RULE, input: service });
  return { service, metric: { kind: 'built', metric, service, aggregation: AGGREGATIONS[0], groupBy: [] }, time };
});

export const tinkrMetricPoint = z.object({
  timestamp: z.string(),
  value: z.number(),
  unit: z.string(),
  dimensions: z.record(z.string(), z.string()),
});
export const tinkrMetricsResponse = z
  .object({ points: z.array(tinkrMetricPoint) })
  .describe('Every non-null point of every series, in Tinkr\'s shape, with the series\' tags as `dimensions`');

const SINCE_RULE = must('since', 'a positive duration such as 30m, 1h or 2d (units s m h d w)');
const TAG_NAME_RULE = must('each tag name', 'a tag key: a letter, then letters, digits, "_", "-", "." and "/"');
const TAGS_RULE = must('tags', `null or an object of at most ${MAX_TAG_FILTERS} tags, each "name": "value" (names up to 200 characters)`);

/** `POST /api/v1/traces`, read into its range and its tag filters (sorted: the same filters in another order are one answer). */
export const tinkrTracesBody = body({
  service: serviceName,
  since: z
    .string({ error: SINCE_RULE })
    .max(16, SINCE_RULE)
    .refine((text) => (parseDuration(text) ?? 0) > 0, SINCE_RULE)
    .default('1h')
    .describe('Relative window, e.g. `30m`, `1h`, `2d`.'),
  limit: countOf('limit', 100, false).default(20).describe('Traces to return.'),
  tags: z
    .record(z.string({ error: TAGS_RULE }).max(200, TAGS_RULE), plainValue('each tag value'), { error: TAGS_RULE })
    .refine((tags) => Object.keys(tags).length <= MAX_TAG_FILTERS, `tags takes at most ${MAX_TAG_FILTERS} tags`)
    .superRefine((tags, ctx) => {
      for (const key of Object.keys(tags)) {
        if (!TAG_KEY.test(key)) ctx.addIssue({ code: 'custom', path: [key.slice(0, 50)], message: TAG_NAME_RULE, input: key });
      }
    })
    .nullable()
    .optional()
    .describe(`Span tags that must match, e.g. \`{"env": "prod"}\`; at most ${MAX_TAG_FILTERS}.`),
}).transform(({ service, since, limit, tags }, ctx) => ({
  service,
  limit,
  tags: Object.fromEntries(Object.entries(tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  time: lastOf('since', since, ctx),
}));

const tinkrSpan = z.object({
  span_id: z.string(),
  parent_span_id: z.string(),
  operation_name: z.string(),
  service: z.string(),
  start_time: z.string(),
  duration_ms: z.number(),
  status: z.enum(['ok', 'error']),
  tags: z.record(z.string(), z.string()),
});

export const tinkrTrace = z.object({
  trace_id: z.string(),
  service: z.string(),
  operation_name: z.string(),
  start_time: z.string(),
  duration_ms: z.number(),
  span_count: z.number().int(),
  status: z.enum(['ok', 'error']),
  spans: z.array(tinkrSpan),
});
export const tinkrTracesResponse = z.object({ traces: z.array(tinkrTrace) }).describe('The newest traces of the service, with their real spans, in Tinkr\'s shape');

const WINDOW_MINUTES_RULE = must('window_minutes', '1–525600 (a whole number of minutes)');

export const tinkrAnomaliesBody = body({
  service: serviceName,
  window_minutes: z
    .number({ error: WINDOW_MINUTES_RULE })
    .int(WINDOW_MINUTES_RULE)
    .min(1, WINDOW_MINUTES_RULE)
    .max(525_600, WINDOW_MINUTES_RULE)
    .default(10)
    .describe('The window under test, in minutes; its baseline is the 6 windows of the same length before it (all 7 within the profile range limit).'),
});

export const tinkrAnomaly = z.object({
  service: z.string(),
  metric: z.enum(['log_error_count', 'log_error_rate', 'span_p95_latency_ms']),
  description: z.string(),
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  detected_at: z.string().describe('End of the window under test, ISO 8601.'),
  current_value: z.number(),
  threshold: z.number(),
  log_summary: z
    .record(z.string(), z.unknown())
    .describe(
      'For log anomalies, the window\'s error logs in the shape of Tinkr\'s LogSummarizer: total_count, unique_pattern_count, window_minutes, unique_patterns [{template, count, example}], stack_traces, time_distribution, common_fields, sample_count; `{}` otherwise.',
    ),
});
export const tinkrAnomaliesResponse = z
  .object({ anomalies: z.array(tinkrAnomaly) })
  .describe('The anomalies found in the window under test against its baseline, in Tinkr\'s shape; none is an empty list');

const TARGET_RULE = must('target_pct', 'a percentage from 0 to 100, such as 99.9');
const SLO_WINDOW_RULE = must('window', 'a whole number of days, hours or minutes, such as 30d, 12h or 90m');
/** Tinkr's window grammar: a whole number of days, hours or minutes. */
const SLO_WINDOW = /^([1-9]\d{0,5})([dhm])$/;

/** `POST /api/v1/slo`, read into its window (echoed as written) and the range it covers. */
export const tinkrSloBody = body({
  service: serviceName,
  target_pct: z
    .number({ error: TARGET_RULE })
    .min(0, TARGET_RULE)
    .max(100, TARGET_RULE)
    .default(99.9)
    .describe('SLO target, percent of requests that must not be errors.'),
  window: z
    .string({ error: SLO_WINDOW_RULE })
    .min(1, SLO_WINDOW_RULE)
    .max(16, SLO_WINDOW_RULE)
    .regex(SLO_WINDOW, SLO_WINDOW_RULE)
    .default('30d')
    .describe('`<int><d|h|m>`, e.g. `30d`, `12h`, `90m`.'),
}).transform((body, ctx) => ({ ...body, time: lastOf('window', body.window, ctx) }));

export const tinkrSloResponse = z
  .object({
    service: z.string(),
    window: z.string(),
    target_pct: z.number(),
    availability_pct: z.number().describe('Rounded to 4 places.'),
    total_requests: z.number().int().describe('Every log of the service in the window, counted exactly.'),
    error_count: z.number().int().describe('Logs whose status normalizes to error or critical.'),
    budget_total: z.number().describe('Errors the target allows over the window; 1 place.'),
    budget_used: z.number().int(),
    budget_remaining_pct: z.number().describe('1 place.'),
    burn_rate: z.number().describe('error_count / budget_total; 2 places.'),
    status: z.enum(['ok', 'breach']),
  })
  .describe('Availability and error budget of the service over the window, counted from every log, in Tinkr\'s shape');

export const tinkrHealthResponse = z
  .object({
    status: z.literal('ok'),
    version: z.string(),
    active_profile: z.string(),
    profiles: z.record(z.string(), z.string()),
  })
  .describe('The server is up: its version and profiles, as the Tinkr CLI reads them');
