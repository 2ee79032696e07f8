import type { Clock } from '../clock.ts';
import type { DatadogClient } from '../datadog/client.ts';
import type { SecretValues } from '../secrets/scrub.ts';
import type { DatadogCredentials } from '../secrets/types.ts';
import { upstreamTimeout, type UpstreamReply, type UpstreamRequest } from '../upstream-call.ts';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, isRetryableFailure, isRetryableStatus, type RetryPolicy } from './retry.ts';
import type { CallContext, Upstream } from './types.ts';

/** The part of the credential store this layer needs. */
export interface Credentials extends SecretValues {
  current(): DatadogCredentials;
  /** After a 401/403 with `used`: true when different keys are now current. */
  refreshAfterAuthFailure(used: DatadogCredentials): Promise<boolean>;
}

export interface RetryingCallDeps {
  client: DatadogClient;
  credentials: Credentials;
  clock: Clock;
  retry?: RetryPolicy;
  random?: () => number;
}

/**
 * The innermost Upstream: one logical read against Datadog, with the current keys, bounded
 * retries on 5xx and broken connections, one key refresh on 401/403, and every failure mapped
 * to a public error (by the client, datadog/client.ts). Nothing here outlives the request's
 * deadline.
 */
export function createRetryingCall(deps: RetryingCallDeps): Upstream {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  const random = deps.random ?? Math.random;

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
        if (ctx.signal.aborted) throw upstreamTimeout(request.family, ctx.signal.reason);
        const used = deps.credentials.current();
        ctx.stats.upstreamCalls++;
        const exchange = await deps.client.exchange(request, used, ctx.signal);
        if (exchange.kind === 'reply') return exchange.reply;
        if (exchange.kind === 'failure') {
          if (!ctx.signal.aborted && isRetryableFailure(exchange.cause) && (await backoff(attempt, ctx))) continue;
          throw ctx.signal.aborted ? upstreamTimeout(request.family, exchange.cause) : exchange.error;
        }
        const { status } = exchange;
        if ((status === 401 || status === 403) && !refreshedKeys) {
          refreshedKeys = true;
          // Key rotation: new keys get one immediate try that does not count as a retry.
          if (await deps.credentials.refreshAfterAuthFailure(used)) {
            attempt--;
            continue;
          }
        }
        if (isRetryableStatus(status) && (await backoff(attempt, ctx))) continue;
        if (ctx.signal.aborted && status >= 500) throw upstreamTimeout(request.family);
        throw exchange.error;
      }
    },
  };
}
