/**
 * The seam between the signal services and everything that talks to Datadog. Services build an
 * UpstreamRequest (pure translation) and send it through an Upstream; the layers behind it
 * (credentials, retries, budget, cache, coalescing) are composed in upstream/pipeline.ts.
 */

/**
 * Datadog rate-limit families: each has its own budget upstream. The analytics aggregates are
 * families of their own, so the budget gate learns their `X-RateLimit-Name` apart from the
 * searches' (and still shares one limit if Datadog names both the same).
 */
export const FAMILIES = ['logs', 'spans', 'metrics', 'logs_aggregate', 'spans_aggregate'] as const;
export type Family = (typeof FAMILIES)[number];

export interface UpstreamRequest {
  family: Family;
  method: 'GET' | 'POST';
  /** Path under the API base URL, e.g. `/api/v2/logs/events/search`. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** The searched time range, for the cache's lifetimes; not part of what is sent. */
  window?: RequestWindow;
}

/**
 * What the cache needs to know about a request's time range (upstream/window.ts builds it):
 * whether the data can still change, and, for a relative range, which earlier answers were the
 * same panel (so one can be served stale when the budget is spent).
 */
export interface RequestWindow {
  fromMs: number;
  toMs: number;
  /**
   * For a relative range: the same request built for a fixed range of the same length. Every
   * bucket of one panel has the same series, so the newest answer of any bucket can be found.
   */
  series?: Omit<UpstreamRequest, 'window'>;
}

/** How an answer was obtained; shown as `x-tinkr-cache` (DESIGN §4). */
export type CacheStatus = 'hit' | 'miss' | 'coalesced' | 'stale' | 'bypass';

export interface UpstreamReply {
  /** The parsed JSON body of a 2xx answer. */
  body: unknown;
  cache: CacheStatus;
  /** When Datadog gave this answer (epoch ms on the server's Clock); the `Age` header. */
  fetchedAt: number;
  /**
   * The range the answer covers, when it may differ from the one asked for: a stale answer can
   * come from an earlier bucket of the same panel, and `meta.from/to` must say so.
   */
  window?: { fromMs: number; toMs: number };
  /** Size of the answer as Datadog sent it (bytes of JSON text); what the cache counts. */
  bytes?: number;
  /** Why the answer may be older or smaller than asked (e.g. served stale); merged into meta.warnings. */
  warnings?: Warning[];
}

export interface Warning {
  code: string;
  message: string;
}

/** Per-request facts the upstream layers need and report back. */
export interface CallContext {
  /** Aborts at the request deadline or when the caller goes away. */
  signal: AbortSignal;
  /** Epoch ms (on the server's Clock) after which nothing more may be sent. */
  deadline: number;
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
   * Set by a caller that polls (the live tail). Each poll asks about a range never asked
   * before, so the call skips the answer cache. When the caller already holds an answer
   * (`heldAt`, epoch ms), the budget gate may hold the call back (pacing, reserve) as it would
   * a cached panel's refresh; the call then rejects with the gate's BudgetDenied, and the caller
   * keeps serving what it holds.
   */
  poll?: { heldAt: number | undefined };
  /**
   * Who is asking: the upstream calls this request makes are spent by this key, up to its fair
   * share of each Datadog limit (upstream/fair-share.ts). Absent for the server's own calls.
   */
  caller?: UpstreamCaller;
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

export interface Upstream {
  send(request: UpstreamRequest, ctx: CallContext): Promise<UpstreamReply>;
}
