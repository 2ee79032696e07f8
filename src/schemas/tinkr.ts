import { z } from 'zod';
import { plainValue, serviceName } from './common.ts';

/**
 * The Tinkr-compatible routes (DESIGN §4.5; tinkr.md §1.2–1.3): Tinkr's own field names, and
 * unknown body fields are ignored (zod objects strip them) because the Tinkr CLI sends extras.
 */

/** Most tag filters in one traces request: each is one more clause in the span search. */
export const MAX_TAG_FILTERS = 20;

const dateTime = z.string().min(1).max(64).describe('ISO 8601 with an offset, as the Tinkr CLI sends (`...+00:00`).');

export const tinkrLogsBody = z.object({
  service: serviceName,
  query: z.string().max(4000).default('*').describe('Datadog search syntax; Tinkr aliases `level:`, `lvl:` and `severity:` are understood.'),
  start: dateTime,
  end: dateTime,
  limit: z.number().int().min(1).max(5000).default(100),
  resource_type: z.string().max(200).nullable().optional().describe('Accepted for compatibility; Datadog has no use for it.'),
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
export const tinkrLogsResponse = z.object({ entries: z.array(tinkrLogEntry) });

export const tinkrMetricsBody = z.object({
  service: serviceName,
  metric: z.string().min(1).max(4000).describe('A metric name (scoped to the service with avg) or a full Datadog metric query.'),
  start: dateTime,
  end: dateTime,
});

export const tinkrMetricPoint = z.object({
  timestamp: z.string(),
  value: z.number(),
  unit: z.string(),
  dimensions: z.record(z.string(), z.string()),
});
export const tinkrMetricsResponse = z.object({ points: z.array(tinkrMetricPoint) });

export const tinkrTracesBody = z.object({
  service: serviceName,
  since: z.string().max(16).default('1h').describe('Relative window, e.g. `30m`, `1h`, `2d`.'),
  limit: z.number().int().min(1).max(100).default(20).describe('Traces to return.'),
  tags: z
    .record(z.string().max(200), plainValue)
    .refine((tags) => Object.keys(tags).length <= MAX_TAG_FILTERS, `at most ${MAX_TAG_FILTERS} tags`)
    .nullable()
    .optional()
    .describe(`Span tags that must match, e.g. \`{"env": "prod"}\`; at most ${MAX_TAG_FILTERS}.`),
});

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
export const tinkrTracesResponse = z.object({ traces: z.array(tinkrTrace) });

export const tinkrAnomaliesBody = z.object({
  service: serviceName,
  window_minutes: z
    .number()
    .int()
    .min(1)
    .max(525_600)
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
export const tinkrAnomaliesResponse = z.object({ anomalies: z.array(tinkrAnomaly) });

export const tinkrSloBody = z.object({
  service: serviceName,
  target_pct: z.number().min(0).max(100).default(99.9).describe('SLO target, percent of requests that must not be errors.'),
  window: z.string().min(1).max(16).default('30d').describe('`<int><d|h|m>`, e.g. `30d`, `12h`, `90m`.'),
});

export const tinkrSloResponse = z.object({
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
});

export const tinkrHealthResponse = z.object({
  status: z.literal('ok'),
  version: z.string(),
  active_profile: z.string(),
  profiles: z.record(z.string(), z.string()),
});
