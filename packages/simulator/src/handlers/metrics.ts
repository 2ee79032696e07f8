import { apiError, JSON_TYPE, type Reply } from '../http/reply.ts';
import { queryMetrics } from '../metrics/evaluate.ts';
import { MetricQueryError } from '../metrics/query.ts';

/** `GET /api/v1/query?from=<epoch s>&to=<epoch s>&query=<metric query>`. */

const EPOCH_SECONDS = /^-?\d{1,12}$/;

export function queryMetricsEndpoint(query: Readonly<Record<string, string>>, nowMs: number): Reply {
  for (const name of ['from', 'to', 'query'] as const) {
    if (query[name] === undefined) return apiError(400, `Missing required parameter '${name}'`);
  }
  for (const name of ['from', 'to'] as const) {
    if (!EPOCH_SECONDS.test(query[name]!)) {
      return apiError(400, `The value provided for parameter '${name}' is invalid: expected an integer number of seconds since the epoch`);
    }
  }
  const fromS = Number(query['from']);
  const toS = Number(query['to']);
  if (fromS >= toS) return apiError(400, "The value provided for parameter 'from' must be before 'to'");
  try {
    return { status: 200, body: queryMetrics(query['query']!, fromS, toS, nowMs), contentType: JSON_TYPE };
  } catch (error) {
    if (error instanceof MetricQueryError) return apiError(400, error.message);
    throw error;
  }
}
