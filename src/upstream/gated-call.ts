import { isAppError } from '../errors.ts';
import { DEFAULT_RETRY_AFTER_S, upstreamTimeout, type UpstreamReply, type UpstreamRequest } from '../upstream-call.ts';
import { BudgetDenied, type BudgetGate, type Entitlement } from './budget.ts';
import type { Limiter } from './concurrency.ts';
import type { CallContext, Upstream } from './types.ts';

/**
 * One Datadog call, admitted: the budget gate (which also holds the caller's key to its fair
 * share, fair-share.ts), then a concurrency slot, then the client (which brings the keys and
 * retries 5xx). Nothing here is cached or shared; the engine decides what is (engine.ts). A
 * refusal by the gate is thrown as BudgetDenied (ShareDenied for a key past its share) for the
 * engine to answer from the cache or with a 429.
 *
 *   gate.acquire (budget, then the key's share) → limiter slot → client.send
 */

/** Calls after a 429 before the request gives up (each only when the gate lets it through). */
const MAX_CALLS_AFTER_429 = 2;

export interface GatedCallDeps {
  gate: BudgetGate;
  limiter: Limiter;
  client: Upstream;
  /** Fingerprint of the Datadog key in use: budgets belong to the account behind it. */
  keyPrint(): string;
}

export interface GatedUpstream extends Upstream {
  /** Calls waiting on a spent budget, running and queued for a slot. */
  inspect(): { active: number; queued: number; budgetWaits: number };
}

export function createGatedCall(deps: GatedCallDeps): GatedUpstream {
  const { gate, limiter, client } = deps;

  async function send(request: UpstreamRequest, ctx: CallContext): Promise<UpstreamReply> {
    const keyPrint = deps.keyPrint();
    // A call nobody keeps (engine.call) has nothing cached to fall back on.
    const entitlement: Entitlement = ctx.entitlement ?? { hasFallback: false, noCache: ctx.noCache, caller: ctx.caller };
    try {
      for (let calls = 0; ; calls++) {
        const ticket = await gate.acquire(request.family, keyPrint, ctx, entitlement);
        try {
          const release = await limiter.acquire(ctx.signal);
          try {
            return await client.send(request, ctx);
          } finally {
            release();
          }
        } catch (error) {
          if (isAppError(error) && error.code === 'UPSTREAM_RATE_LIMITED' && calls < MAX_CALLS_AFTER_429) {
            // Close the gate (the headers may have done so already); it then waits for the
            // reset with jitter if that comes in time, or refuses.
            await gate.exhausted(request.family, keyPrint, error.retryAfterS ?? DEFAULT_RETRY_AFTER_S).catch(() => {});
            continue;
          }
          throw error;
        } finally {
          ticket.release();
        }
      }
    } catch (error) {
      if (isAppError(error) || error instanceof BudgetDenied || !ctx.signal.aborted) throw error;
      // Aborted while waiting for the gate or a slot: the deadline passed or the caller left.
      throw upstreamTimeout(request.family, ctx.signal.reason);
    }
  }

  return {
    send,
    inspect: () => ({ active: limiter.active, queued: limiter.queued, budgetWaits: gate.waiting }),
  };
}
