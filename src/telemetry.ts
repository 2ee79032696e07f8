import type { RateLimitInfo } from './datadog/rate-limit-headers.ts';
import type { CacheStatus, Family } from './upstream/types.ts';

/**
 * What the server reports about itself. The Prometheus exporter implements it; tests and the
 * default build use `noTelemetry`. Calls must be cheap and must never throw.
 */
export interface Telemetry {
  /** One HTTP exchange with Datadog; `outcome` is the status code, or `timeout` / `error`. */
  upstreamCall(family: Family, outcome: number | 'timeout' | 'error', durationMs: number): void;
  /** The `X-RateLimit-*` headers of an answer. */
  rateLimit(info: RateLimitInfo): void;
  /** How a query route's answer was obtained. */
  cacheOutcome(family: Family, status: CacheStatus): void;
  /** A secret re-fetch and how it ended. */
  secretsRefresh(outcome: 'changed' | 'unchanged' | 'failed'): void;
}

export const noTelemetry: Telemetry = {
  upstreamCall: () => {},
  rateLimit: () => {},
  cacheOutcome: () => {},
  secretsRefresh: () => {},
};
