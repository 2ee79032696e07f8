import { logsSearchRequest, readLogsPage, type LogRecord } from '../datadog/logs.ts';
import type { Page } from '../upstream/paging.ts';
import type { CallContext, Upstream } from '../upstream/types.ts';

/** One page of a tail's poll: the logs matching `query` in [fromMs, toMs), newest first. */
export interface TailPageRequest {
  /** The composed Datadog query (scope included). */
  query: string;
  fromMs: number;
  toMs: number;
  pageLimit: number;
  cursor: string | undefined;
}

/**
 * All the live tail needs from the upstream engine: one gated Datadog call per page, never
 * answered from the cache (`ctx.poll` says so, and carries what the poller holds for the
 * budget gate). A held-back call rejects with the gate's BudgetDenied.
 */
export interface TailSource {
  page(request: TailPageRequest, ctx: CallContext): Promise<Page<LogRecord>>;
}

export function createTailSource(upstream: Upstream): TailSource {
  return {
    async page(request, ctx) {
      const reply = await upstream.send(
        logsSearchRequest({
          query: request.query,
          fromMs: request.fromMs,
          toMs: request.toMs,
          sort: 'desc',
          pageLimit: request.pageLimit,
          cursor: request.cursor,
        }),
        ctx,
      );
      const page = readLogsPage(reply.body);
      return { ...page, warnings: [...page.warnings, ...(reply.warnings ?? [])], cache: reply.cache, fetchedAt: reply.fetchedAt };
    },
  };
}
