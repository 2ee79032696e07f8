import { LOGS_PAGE_MAX, type LogRecord } from '../datadog/logs.ts';
import { isAppError } from '../errors.ts';
import { BudgetDenied } from '../upstream/budget.ts';
import type { CallContext } from '../upstream/types.ts';
import { failedPollCode, type Warning } from '../warnings.ts';
import type { TailSource } from './source.ts';

/**
 * One poll of a stream's window, and what a failed one means. Pure of the stream's state: the
 * stream (stream.ts) says which ids it has sent and decides what to do with the outcome.
 */

export interface WindowRead {
  /** Newest first, as Datadog sends them; may repeat logs already sent. */
  items: LogRecord[];
  /** False when a page failed or Datadog stopped early: the window must be searched again. */
  complete: boolean;
  /** More new logs matched than the page cap let through: the oldest of them were skipped. */
  gap: boolean;
  warnings: Warning[];
}

export interface WindowQuery {
  source: TailSource;
  query: string;
  fromMs: number;
  toMs: number;
  /** Pages this poll may read. */
  maxPages: number;
  /** Whether a log was already sent (found by an earlier poll). */
  seen(id: string): boolean;
}

/**
 * Reads [fromMs, toMs) newest first, page after page while every log of a page is new: once a
 * page holds a log an earlier poll found, the rest of the window was read before. (A log that
 * arrives late, older than a page of newer ones, is therefore only found on services writing
 * under a page of logs per overlap window; on busier ones paging back for it would cost a call
 * per poll for every thousand logs re-read.)
 */
export async function readWindow(q: WindowQuery, ctx: CallContext): Promise<WindowRead> {
  const items: LogRecord[] = [];
  const warnings: Warning[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; ) {
    let page;
    try {
      page = await q.source.page({ query: q.query, fromMs: q.fromMs, toMs: q.toMs, pageLimit: LOGS_PAGE_MAX, cursor }, ctx);
    } catch (error) {
      if (pages === 0) throw error;
      const reason = isAppError(error) ? error.message : 'an unexpected error';
      warnings.push({ code: 'page_failed', message: `upstream page ${pages + 1} of a poll failed (${reason}); it is searched again next poll` });
      return { items, complete: false, gap: false, warnings };
    }
    pages++;
    items.push(...page.items);
    for (const w of page.warnings) if (!warnings.some((seen) => seen.code === w.code)) warnings.push(w);
    if (page.timedOut) {
      warnings.push({ code: 'upstream_timeout', message: 'Datadog stopped a poll early (status "timeout"); the window is searched again next poll' });
      return { items, complete: false, gap: false, warnings };
    }
    const allNew = page.items.every((log) => !q.seen(log.id));
    if (!page.after || page.items.length === 0 || !allNew) return { items, complete: true, gap: false, warnings };
    if (pages >= q.maxPages) return { items, complete: true, gap: true, warnings };
    cursor = page.after;
  }
}

/** What the stream does after a poll that did not answer. */
export interface PollFailure {
  outcome: 'held' | 'rate_limited' | 'failed';
  warning: Warning;
  /** Wait before the next poll: at least the interval, at most `maxDelayMs`. */
  delayMs: number;
  /** The query itself is wrong: polling again cannot help. */
  fatal: boolean;
}

/**
 * Classifies a failed poll. Held back by the budget gate (pacing, reserve): ask again after
 * the usual interval; the gate lets a poll through as the period passes, and always once the
 * stream's last answer is `max_paced_age` old, so the interval stretches exactly as far as the
 * budget needs. A spent budget, the paying key's spent share, or a Datadog 429: wait for the
 * reset (at most `maxDelayMs`: by then another key may pay). Anything else: back off
 * exponentially from the interval (`failures` is how many failed in a row before this one).
 */
export function classifyFailure(error: unknown, pacing: { intervalMs: number; maxDelayMs: number }, failures: number): PollFailure {
  const { intervalMs } = pacing;
  const within = (ms: number) => Math.min(pacing.maxDelayMs, Math.max(intervalMs, ms));
  if (error instanceof BudgetDenied) {
    if (error.reason === 'exhausted' || error.reason === 'share') {
      const delayMs = within(error.retryAfterS * 1000);
      const why = error.reason === 'share' ? error.message : "Datadog's logs budget is spent";
      return {
        outcome: 'rate_limited',
        delayMs,
        fatal: false,
        warning: { code: `budget_${error.reason}`, message: `${why}; the next poll in ${seconds(delayMs)} s` },
      };
    }
    const message =
      error.reason === 'pacing'
        ? "Datadog's logs budget is being spread over its period: polls are spaced out to make it last until the reset"
        : "Datadog's logs budget is down to the reserve kept for new questions: polls are spaced out until the reset";
    return { outcome: 'held', delayMs: intervalMs, fatal: false, warning: { code: `budget_${error.reason}`, message } };
  }
  if (isAppError(error) && error.code === 'UPSTREAM_RATE_LIMITED') {
    const delayMs = within((error.retryAfterS ?? 0) * 1000);
    return {
      outcome: 'rate_limited',
      delayMs,
      fatal: false,
      warning: { code: 'upstream_rate_limited', message: `Datadog answered 429 (rate limit reached); the next poll in ${seconds(delayMs)} s` },
    };
  }
  const delayMs = within(intervalMs * 2 ** Math.min(failures, 16));
  if (isAppError(error)) {
    return {
      outcome: 'failed',
      delayMs,
      fatal: error.code === 'UPSTREAM_BAD_QUERY',
      warning: { code: failedPollCode(error.code), message: `a poll failed (${error.message}); the next in ${seconds(delayMs)} s` },
    };
  }
  return { outcome: 'failed', delayMs, fatal: false, warning: { code: 'internal', message: 'a poll failed unexpectedly; the server log has the cause' } };
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
