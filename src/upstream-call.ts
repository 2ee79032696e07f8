import { AppError } from './errors.ts';

/**
 * One call to Datadog as both sides see it. The engine (upstream/) decides whether and when a
 * call is made; the Datadog adapter (datadog/) builds its request, makes the HTTP exchange
 * (datadog/client.ts) and reads its answer. Neither side imports the other's internals: both
 * import what they share from here.
 */

/**
 * Datadog rate-limit families: each has its own budget upstream. The analytics aggregates are
 * families of their own, so the budget gate learns their `X-RateLimit-Name` apart from the
 * searches' (and still shares one limit if Datadog names both the same).
 */
export const FAMILIES = ['logs', 'spans', 'metrics', 'logs_aggregate', 'spans_aggregate'] as const;
export type Family = (typeof FAMILIES)[number];

const SIGNAL_NAME: Record<Family, string> = {
  logs: 'logs',
  spans: 'spans',
  metrics: 'metrics',
  logs_aggregate: 'logs aggregate',
  spans_aggregate: 'spans aggregate',
};

/** How messages name a family's data ("logs aggregate"). */
export function signalName(family: Family): string {
  return SIGNAL_NAME[family];
}

export interface UpstreamRequest {
  family: Family;
  method: 'GET' | 'POST';
  /** Path under the API base URL, e.g. `/api/v2/logs/events/search`. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

/** One 2xx answer from Datadog. */
export interface UpstreamReply {
  /** The parsed JSON body. */
  body: unknown;
  /** When Datadog gave this answer (epoch ms on the server's Clock). */
  fetchedAt: number;
  /** Size of the answer as Datadog sent it (bytes of JSON text). */
  bytes?: number;
}

/** Datadog's `X-RateLimit-*` headers of one answer (datadog-api.md §0 "Rate limits"). */
export interface RateLimitInfo {
  name: string;
  limit: number;
  periodS: number;
  remaining: number;
  /** Seconds until the period resets. */
  resetS: number;
}

/** Used when Datadog sends a 429 without saying when to come back. */
export const DEFAULT_RETRY_AFTER_S = 60;

/** The public error for a call the request's deadline cut short (docs/http-api.md#errors). */
export function upstreamTimeout(family: Family, cause?: unknown): AppError {
  return new AppError('UPSTREAM_TIMEOUT', `Datadog did not answer the ${signalName(family)} query within the request deadline`, {
    cause,
  });
}
