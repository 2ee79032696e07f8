import type { ErrorCode } from './errors.ts';

/**
 * The one registry of warning codes: what an answer's `meta.warnings` and the live tail's
 * `event: warning` can say (docs/http-api.md#get-logs, docs/live-tail.md). A warning does not
 * fail the request: the answer is served, and the code says what is missing or held back.
 */
export const WARNING_CODES = {
  upstream_timeout: 'Datadog stopped a search, aggregation or poll early; results are incomplete',
  page_failed: 'a later upstream page failed; results are incomplete',
  page_cap: 'more than upstream.max_pages pages were needed; continue with next_cursor',
  span_cap: 'the trace has more spans than one answer holds; only the first are shown',
  budget_exhausted: "Datadog's rate-limit budget is spent",
  budget_share: "the caller's key has spent its fair share of the budget",
  budget_pacing: 'the budget gate is spreading the budget over its period',
  budget_reserve: 'the budget is down to the reserve kept for new questions',
  upstream_rate_limited: 'Datadog answered 429',
  tail_gap: 'more new logs matched between two polls than a poll reads; the oldest were skipped',
  resume_gap: 'the Last-Event-ID is no longer held; logs since it may be missing',
} as const satisfies Record<string, string>;

/**
 * A warning's code: one of the list, Datadog's own warning passed on as `datadog_<code>`, or
 * the error code (lower case) of a live-tail poll that failed and is tried again.
 */
export type WarningCode = keyof typeof WARNING_CODES | `datadog_${string}` | Lowercase<ErrorCode>;

export interface Warning {
  code: WarningCode;
  message: string;
}

/** Longest warning code relayed from Datadog; theirs are short, this only bounds a strange one. */
const MAX_RELAYED_CODE_LENGTH = 100;

/** The code of Datadog's own warning `code` (e.g. `unknown_index`) as passed on. */
export function relayedWarningCode(code: string): `datadog_${string}` {
  return `datadog_${code}`.slice(0, MAX_RELAYED_CODE_LENGTH) as `datadog_${string}`;
}

/** The code of a live-tail poll that failed with `code`: the error's code in lower case. */
export function failedPollCode(code: ErrorCode): Lowercase<ErrorCode> {
  return code.toLowerCase() as Lowercase<ErrorCode>;
}
