import type { UpstreamReply, UpstreamRequest } from '../upstream-call.ts';
import type { Entitlement } from './budget.ts';

/**
 * The seam between the engine and Datadog. Services translate a query into UpstreamRequests
 * (pure translation) inside an answer's `produce` (answer.ts); the engine sends each through an
 * Upstream, the gated call chain of credentials, retries, concurrency and budget
 * (upstream/gated-call.ts). Everything is composed in upstream/pipeline.ts.
 */

/** How an answer was obtained; shown as `x-tinkr-cache` (docs/http-api.md). */
export type CacheStatus = 'hit' | 'miss' | 'coalesced' | 'stale' | 'bypass';

/** Per-request facts the upstream layers need and report back. */
export interface CallContext {
  /**
   * Aborts at the request deadline or when the caller goes away. Created when first read, so
   * a request answered from the cache never builds its deadline machinery.
   */
  readonly signal: AbortSignal;
  /** Epoch ms (on the server's Clock) after which nothing more may be sent. */
  readonly deadline: number;
  /** The caller sent `Cache-Control: no-cache`. */
  noCache: boolean;
  /**
   * The caller's data scope as a short non-secret string ('' when unrestricted). Anything kept
   * across requests (cache entries) is kept apart per partition, so scopes never share answers.
   */
  partition: string;
  /** Filled in as calls are made; logged with the request. */
  stats: RequestStats;
  /**
   * What the caller has to fall back on if the budget gate refuses the call (budget.ts). The
   * engine sets it for the first call of an answer; absent: nothing cached.
   */
  entitlement?: Entitlement | undefined;
  /**
   * Set by a caller that polls (the live tail, through Engine.call). Each poll asks about a
   * range never asked before, so nothing is cached. When the caller already holds an answer
   * (`heldAt`, epoch ms), the budget gate may hold the call back (pacing, reserve) as it would a
   * cached panel's refresh; the call then rejects with the gate's BudgetDenied, and the caller
   * keeps serving what it holds.
   */
  poll?: { heldAt: number | undefined } | undefined;
  /**
   * Who is asking: the upstream calls this request makes are spent by this key, up to its fair
   * share of each Datadog limit (upstream/fair-share.ts). Absent for the server's own calls.
   */
  caller?: UpstreamCaller | undefined;
}

/** A caller as the fair share of Datadog's budget sees it (auth/keyring.ts `Caller` is one). */
export interface UpstreamCaller {
  /** A short, non-secret id of the key: spends and activity are counted per key. */
  keyId: string;
  /** The key's subject, as metrics show spends (bounded by the configured keys). */
  subject: string;
  /** Most of each Datadog limit this key may spend while another key is active, in (0, 1]. */
  upstreamShare: number;
}

export interface RequestStats {
  upstreamCalls: number;
}

/** One Datadog call (upstream/gated-call.ts is the real one; tests pass fakes). */
export interface Upstream {
  send(request: UpstreamRequest, ctx: CallContext): Promise<UpstreamReply>;
}
