import type { TimeRange, TimeSpec } from '../time/range.ts';
import type { Family, UpstreamReply, UpstreamRequest } from '../upstream-call.ts';
import type { StepTable } from '../time/buckets.ts';
import type { CacheStatus, CallContext } from './types.ts';

/**
 * The engine's contract with the services. A service describes one finished answer as an
 * AnswerQuery: what defines it, the time it covers, and how to produce it from Datadog. The
 * engine owns everything around that: resolving and snapping the range, the finished-answer
 * cache, coalescing, stale-while-revalidate, the budget gate and its stale fallback. A route
 * then sends the bytes it gets back as they are.
 */

export interface AnswerQuery {
  /** The Datadog budget the answer spends, and its telemetry label. */
  family: Family;
  /** A stable name of the route's answer shape (`logs`, `tinkr.logs`): routes never share entries. */
  route: string;
  /**
   * The canonical parameters that define the answer, time aside (the engine adds the range):
   * plain JSON built in a fixed order by the service, so equal questions give equal text.
   */
  identity: unknown;
  time: TimeSpec;
  /** The profile's longest allowed range for this signal (ms). */
  maxRangeMs: number;
  /**
   * The records (logs, spans) the answer is expected to hold while it is made, for the bound on
   * answers in production (production-gate.ts); DEFAULT_ANSWER_WEIGHT when not given.
   */
  weight?: number;
  /**
   * Builds the finished response body for `range`: every Datadog call through `io.fetch`. The
   * engine serialises the result once; a throw is the request's error and is never cached.
   */
  produce(range: TimeRange, io: AnswerIO): Promise<unknown>;
}

export interface AnswerIO {
  /**
   * One Datadog call, gated and counted for this answer. The first call of an answer may be
   * refused by the budget gate (the engine then falls back to a cached answer); later ones,
   * needed to finish an answer already begun, fail as 429 UPSTREAM_RATE_LIMITED instead.
   */
  fetch(request: UpstreamRequest): Promise<UpstreamReply>;
  /**
   * The last moment the finished answer may be served from the cache (epoch ms). A cursor in it
   * must stay valid until then, plus its own lifetime, whoever it is served to.
   */
  readonly servedUntil: number;
}

/** The weight of an answer that does not say: a metric's few series of a few hundred points. */
export const DEFAULT_ANSWER_WEIGHT = 100;

/** A finished answer: the response body as sent, and how it was obtained. */
export interface Answer {
  /** The JSON body, UTF-8; sent as it is. */
  bytes: Buffer;
  cache: CacheStatus;
  /** When Datadog gave (the oldest part of) this answer, epoch ms; the `Age` header. */
  fetchedAt: number;
}

/** What is going on inside, for tests and metrics. */
export interface EngineState {
  flights: number;
  waiters: number;
  active: number;
  queued: number;
  budgetWaits: number;
  /** Background refreshes (stale-while-revalidate) in flight. */
  refreshes: number;
  /** Weight of the answers being made, and productions waiting for room (production-gate.ts). */
  inProduction: number;
  productionsQueued: number;
  /** Finished answers and series pointers held, and what they are counted to cost. */
  cacheEntries: number;
  cacheBytes: number;
}

export interface Engine {
  /** The finished answer to `query` for this caller: from the cache, a shared flight or Datadog. */
  answer(query: AnswerQuery, ctx: CallContext): Promise<Answer>;
  /**
   * One gated Datadog call that is not an answer to cache (a live-tail poll): budget gate,
   * concurrency limit, retries and credentials; with `coalesce`, identical calls in flight at
   * once (same request, same caller partition) share one. Refused by the budget: 429
   * UPSTREAM_RATE_LIMITED with Retry-After (`RATE_LIMITED` past the key's share), or, for a
   * poller (`ctx.poll`), the gate's BudgetDenied itself: it keeps what it holds and asks later.
   */
  call(request: UpstreamRequest, ctx: CallContext, options?: { coalesce?: boolean }): Promise<UpstreamReply>;
  /** The bucket table relative ranges are snapped to (for services that bucket a range their own way). */
  readonly steps: StepTable;
  inspect(): EngineState;
}
