import { isAppError } from '../errors.ts';
import type { Warning } from '../warnings.ts';

/** One page of a cursor-paged search, already read into records. */
export interface Page<T> {
  items: T[];
  after: string | undefined;
  timedOut: boolean;
  warnings: Warning[];
}

export interface PagingResult<T> {
  items: T[];
  /** Datadog's cursor for what comes next; undefined when the search is exhausted. */
  after: string | undefined;
  partial: boolean;
  warnings: Warning[];
  pages: number;
}

/**
 * Most upstream pages one request may cost. 5,000 items at 1,000 per page is 5 pages; the rest
 * absorbs short pages. Datadog's search budget is a few hundred calls an hour, so a request must
 * never loop freely.
 */
export const MAX_PAGES_PER_REQUEST = 10;

export interface PagingOptions<T> {
  /** Items wanted in all. */
  limit: number;
  /** Datadog's page size maximum. */
  pageMax: number;
  maxPages?: number;
  /** Resume from here (a decoded next_cursor). */
  cursor?: string | undefined;
  fetch(pageLimit: number, cursor: string | undefined): Promise<Page<T>>;
}

/**
 * Pages upstream until `limit` items, the end, or a stop reason. Anything that stops it early
 * after the first page (page cap, a failed page, Datadog's own timeout) makes the result
 * `partial` with a warning saying why; a failure of the first page is the request's failure.
 */
export async function collectPages<T>(options: PagingOptions<T>): Promise<PagingResult<T>> {
  const maxPages = options.maxPages ?? MAX_PAGES_PER_REQUEST;
  const items: T[] = [];
  const warnings: Warning[] = [];
  let cursor = options.cursor;
  let partial = false;
  let pages = 0;
  while (items.length < options.limit) {
    if (pages >= maxPages) {
      partial = true;
      warnings.push({
        code: 'page_cap',
        message: `stopped after ${maxPages} upstream pages; use next_cursor to continue`,
      });
      break;
    }
    const pageLimit = Math.min(options.pageMax, options.limit - items.length);
    let page: Page<T>;
    try {
      page = await options.fetch(pageLimit, cursor);
    } catch (error) {
      if (pages === 0) throw error;
      partial = true;
      warnings.push(pageFailure(error, pages + 1));
      break;
    }
    pages++;
    items.push(...page.items.slice(0, options.limit - items.length));
    for (const w of page.warnings) {
      if (!warnings.some((seen) => seen.code === w.code && seen.message === w.message)) warnings.push(w);
    }
    cursor = page.after;
    if (page.timedOut) {
      partial = true;
      warnings.push({ code: 'upstream_timeout', message: 'Datadog stopped the search early (status "timeout"); results are incomplete' });
      break;
    }
    if (!page.after || page.items.length === 0) {
      cursor = undefined;
      break;
    }
  }
  return { items, after: cursor, partial, warnings, pages };
}

/** Why a later page is missing: a spent budget or share is named as such, anything else by its code. */
function pageFailure(error: unknown, page: number): Warning {
  if (isAppError(error) && error.code === 'UPSTREAM_RATE_LIMITED') {
    const retry = error.retryAfterS !== undefined ? ` (next call in ${error.retryAfterS} s)` : '';
    return { code: 'budget_exhausted', message: `Datadog's budget ran out before upstream page ${page}${retry}; results are incomplete` };
  }
  if (isAppError(error) && error.code === 'RATE_LIMITED') {
    // Only the fair share refuses a page this way (the caller's quota is checked before any call).
    const retry = error.retryAfterS !== undefined ? ` (next period in ${error.retryAfterS} s)` : '';
    return { code: 'budget_share', message: `this key's share of Datadog's budget ran out before upstream page ${page}${retry}; results are incomplete` };
  }
  const reason = isAppError(error) ? `${error.code}: ${error.message}` : 'an unexpected error';
  return { code: 'page_failed', message: `upstream page ${page} failed (${reason}); results are incomplete` };
}
