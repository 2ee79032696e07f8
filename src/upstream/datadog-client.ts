import type { Clock } from '../clock.ts';
import { errorForFailure, errorForStatus, isRetryableFailure, isRetryableStatus } from '../datadog/errors.ts';
import { readRateLimit, type RateLimitInfo } from '../datadog/rate-limit-headers.ts';
import { scrubRelayedText } from '../datadog/relayed-text.ts';
import type { DatadogTransport, RawResponse } from '../datadog/transport.ts';
import { AppError } from '../errors.ts';
import { createScrubber, type SecretValues } from '../secrets/scrub.ts';
import type { DatadogCredentials } from '../secrets/types.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.ts';
import type { CallContext, Upstream, UpstreamReply, UpstreamRequest } from './types.ts';

/** The part of the credential store this layer needs. */
export interface Credentials extends SecretValues {
  current(): DatadogCredentials;
  /** After a 401/403 with `used`: true when different keys are now current. */
  refreshAfterAuthFailure(used: DatadogCredentials): Promise<boolean>;
}

export interface DatadogClientDeps {
  transport: DatadogTransport;
  credentials: Credentials;
  clock: Clock;
  telemetry: Telemetry;
  retry?: RetryPolicy;
  random?: () => number;
  /** Sees every answer's rate-limit headers, with the keys used (the budget gate listens here). */
  onRateLimit?: (request: UpstreamRequest, info: RateLimitInfo, status: number, used: DatadogCredentials) => void | Promise<void>;
}

/**
 * The innermost Upstream: one logical read against Datadog, with the current keys, bounded
 * retries on 5xx and broken connections, one key refresh on 401/403, and every failure mapped
 * to a public error. Nothing here outlives the request's deadline.
 */
export function createDatadogClient(deps: DatadogClientDeps): Upstream {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  const random = deps.random ?? Math.random;
  const scrub = createScrubber(deps.credentials);

  async function exchange(request: UpstreamRequest, ctx: CallContext, used: DatadogCredentials): Promise<RawResponse> {
    const started = deps.clock.now();
    ctx.stats.upstreamCalls++;
    try {
      const response = await deps.transport.request(request, used, ctx.signal);
      deps.telemetry.upstreamCall(request.family, response.status, deps.clock.now() - started);
      const info = readRateLimit(response.headers);
      if (info) {
        deps.telemetry.rateLimit(info);
        await deps.onRateLimit?.(request, info, response.status, used);
      }
      return response;
    } catch (error) {
      const outcome = ctx.signal.aborted ? 'timeout' : 'error';
      deps.telemetry.upstreamCall(request.family, outcome, deps.clock.now() - started);
      throw error;
    }
  }

  /** Waits before another try, unless that would run past the deadline. */
  async function backoff(attempt: number, ctx: CallContext): Promise<boolean> {
    if (attempt >= policy.maxAttempts) return false;
    const delay = backoffDelayMs(attempt, policy, random);
    if (deps.clock.now() + delay >= ctx.deadline) return false;
    try {
      await deps.clock.sleep(delay, ctx.signal);
      return true;
    } catch {
      return false;
    }
  }

  return {
    async send(request: UpstreamRequest, ctx: CallContext): Promise<UpstreamReply> {
      let refreshedKeys = false;
      for (let attempt = 1; ; attempt++) {
        if (ctx.signal.aborted) throw errorForFailure(ctx.signal.reason, request.family, true);
        const used = deps.credentials.current();
        let response: RawResponse;
        try {
          response = await exchange(request, ctx, used);
        } catch (error) {
          const timedOut = ctx.signal.aborted;
          if (!timedOut && isRetryableFailure(error) && (await backoff(attempt, ctx))) continue;
          throw errorForFailure(error, request.family, ctx.signal.aborted);
        }
        if (response.status >= 200 && response.status < 300) {
          const body = parseBody(response, request);
          scrubRelayedText(body, scrub);
          return { body, fetchedAt: deps.clock.now(), bytes: response.text.length };
        }
        if ((response.status === 401 || response.status === 403) && !refreshedKeys) {
          refreshedKeys = true;
          // Key rotation: new keys get one immediate try that does not count as a retry.
          if (await deps.credentials.refreshAfterAuthFailure(used)) {
            attempt--;
            continue;
          }
        }
        if (isRetryableStatus(response.status) && (await backoff(attempt, ctx))) continue;
        if (ctx.signal.aborted && response.status >= 500) throw errorForFailure(undefined, request.family, true);
        throw errorForStatus(response, request.family, scrub);
      }
    },
  };
}

function parseBody(response: RawResponse, request: UpstreamRequest): unknown {
  try {
    const body: unknown = JSON.parse(response.text);
    if (body !== null && typeof body === 'object') return body;
  } catch {
    // The parser's message quotes the body; it is not passed on.
  }
  return fail(request);
}

function fail(request: UpstreamRequest): never {
  throw new AppError('UPSTREAM_ERROR', `Datadog sent an answer to the ${request.family} query that is not valid JSON`);
}
