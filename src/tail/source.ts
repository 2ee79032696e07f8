import { logsSearchRequest, readLogsPage, type LogRecord } from '../datadog/logs.ts';
import type { Page } from '../upstream/paging.ts';
import type { Engine } from '../upstream/answer.ts';
import type { CallContext } from '../upstream/types.ts';

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

export function createTailSource(engine: Pick<Engine, 'call'>): TailSource {
  return {
    async page(request, ctx) {
      const reply = await engine.call(
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
      return readLogsPage(reply.body);
    },
  };
}
