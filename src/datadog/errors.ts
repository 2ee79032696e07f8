import { AppError } from '../errors.ts';
import type { Scrub } from '../secrets/scrub.ts';
import type { Family } from '../upstream/types.ts';
import { retryAfterSeconds } from './rate-limit-headers.ts';
import type { RawResponse } from './transport.ts';

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

/** Longest piece of Datadog's own error text passed on to a caller. */
const MAX_UPSTREAM_MESSAGE = 500;

/**
 * Datadog's message from an error body: `{"errors":["..."]}` (logs, metrics) or
 * `{"errors":[{"title","detail"}]}` (spans, JSON:API), scrubbed of secrets before it is cut to
 * length (a cut through a key would leave its first part). Undefined when there is none.
 */
export function datadogMessage(text: string, scrub: Scrub): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return undefined;
  const parts = errors
    .map((e: unknown) => {
      if (typeof e === 'string') return e;
      if (e && typeof e === 'object') {
        const { detail, title } = e as { detail?: unknown; title?: unknown };
        return typeof detail === 'string' ? detail : typeof title === 'string' ? title : undefined;
      }
      return undefined;
    })
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (parts.length === 0) return undefined;
  const joined = scrub(parts.join('; '));
  return joined.length > MAX_UPSTREAM_MESSAGE ? `${joined.slice(0, MAX_UPSTREAM_MESSAGE)}…` : joined;
}

/** The public error for a non-2xx answer from Datadog (docs/http-api.md#errors); Datadog's words are scrubbed. */
export function errorForStatus(response: RawResponse, family: Family, scrub: Scrub): AppError {
  const signal = SIGNAL_NAME[family];
  const { status } = response;
  if (status === 400 || status === 422) {
    const message = datadogMessage(response.text, scrub) ?? `HTTP ${status}`;
    return new AppError('UPSTREAM_BAD_QUERY', `Datadog rejected the ${signal} query: ${message}`);
  }
  if (status === 401 || status === 403) {
    return new AppError(
      'UPSTREAM_AUTH',
      `Datadog refused the configured keys (HTTP ${status}); check the API and application keys and the site`,
    );
  }
  if (status === 429) {
    const retryAfterS = retryAfterSeconds(response.headers);
    return new AppError('UPSTREAM_RATE_LIMITED', `Datadog ${signal} rate limit reached; retry in ${retryAfterS} s`, {
      retryAfterS,
    });
  }
  return new AppError('UPSTREAM_ERROR', `Datadog answered HTTP ${status} to the ${signal} query`);
}

/** The public error for a request that got no answer at all. */
export function errorForFailure(error: unknown, family: Family, timedOut: boolean): AppError {
  const signal = SIGNAL_NAME[family];
  if (timedOut) {
    return new AppError('UPSTREAM_TIMEOUT', `Datadog did not answer the ${signal} query within the request deadline`, {
      cause: error,
    });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new AppError('UPSTREAM_ERROR', `Datadog's answer to the ${signal} query was too large`, { cause: error });
  }
  return new AppError('UPSTREAM_ERROR', `Could not reach Datadog for the ${signal} query`, { cause: error });
}

/** Statuses worth another try: the request is a read, so repeating it is safe. */
export function isRetryableStatus(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}

/** Failures of the connection itself (not of our deadline) that another try may fix. */
export function isRetryableFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    [
      'ECONNRESET',
      'ECONNREFUSED',
      'EPIPE',
      'ETIMEDOUT',
      'EAI_AGAIN',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_CLOSED',
    ].includes(code)
  );
}
