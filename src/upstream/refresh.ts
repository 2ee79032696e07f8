import type { Clock } from '../clock.ts';
import { isAppError } from '../errors.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { Family } from '../upstream-call.ts';
import { BudgetDenied } from './budget.ts';
import type { Coalescer, Flight } from './coalesce.ts';

/**
 * Stale-while-revalidate (docs/budget-and-caching.md): when an answer has just gone out of date, callers get it
 * at once (`stale`) while one refresh runs in the background. The refresh is a flight like any
 * other (coalesce.ts: callers that must wait join it), but it belongs to no caller: it has its
 * own deadline and no caller's signal. Its failure is only logged and counted; the old answer
 * keeps being served until its window ends, and no further refresh of that key is tried in the
 * meantime (so an outage costs one attempt per key and window, not one per request).
 */

export interface RefreshLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RefreshJob {
  key: string;
  family: Family;
  route: string;
  /** The end of the stale answer's window: a failed refresh is not retried before it. */
  windowEndsAt: number;
  run(flight: Flight): Promise<unknown>;
}

export interface Refresher {
  /** Starts a background refresh of `job.key` unless one runs, failed this window, or too many run. */
  start(job: RefreshJob): void;
  /** Refreshes in flight. */
  readonly running: number;
}

/**
 * Background refreshes at once. Each is one flight (and at most one upstream call at a time
 * behind the concurrency limit); this bounds the bookkeeping when many panels roll at once. A
 * key over the bound is served stale and refreshed by a later request.
 */
export const MAX_BACKGROUND_REFRESHES = 256;
/** Keys whose refresh failed in their current window; the oldest is forgotten first. */
export const MAX_FAILED_REFRESHES = 10_000;

export interface RefresherDeps {
  flights: Coalescer;
  clock: Clock;
  telemetry: Telemetry;
  /** The request timeout: a refresh gets as long as a request would. */
  timeoutMs: number;
  log?: RefreshLog | undefined;
}

export function createRefresher(deps: RefresherDeps): Refresher {
  const running = new Set<string>();
  /** key → end of the window in which its refresh failed. */
  const failed = new Map<string, number>();

  function failedRecently(key: string, now: number): boolean {
    const until = failed.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    failed.delete(key);
    return false;
  }

  function remember(key: string, until: number): void {
    failed.delete(key);
    if (failed.size >= MAX_FAILED_REFRESHES) failed.delete(failed.keys().next().value!);
    failed.set(key, until);
  }

  return {
    start(job) {
      const now = deps.clock.now();
      if (running.has(job.key) || running.size >= MAX_BACKGROUND_REFRESHES || failedRecently(job.key, now)) return;
      running.add(job.key);
      // Nobody hangs up on a background refresh: only its own deadline ends it.
      const owner = new AbortController();
      deps.flights.run(job.key, { signal: owner.signal, deadline: now + deps.timeoutMs }, job.run).then(
        () => deps.telemetry.cacheRefresh(job.family, 'refreshed'),
        (error: unknown) => {
          remember(job.key, job.windowEndsAt);
          // A budget that holds the refresh back is the gate doing its job (counted there too).
          if (error instanceof BudgetDenied) return deps.telemetry.cacheRefresh(job.family, 'denied');
          deps.telemetry.cacheRefresh(job.family, 'failed');
          deps.log?.warn(
            { family: job.family, route: job.route, code: isAppError(error) ? error.code : 'INTERNAL' },
            'background refresh failed; the cached answer is served until its window ends',
          );
        },
      ).finally(() => running.delete(job.key));
    },
    get running() {
      return running.size;
    },
  };
}
