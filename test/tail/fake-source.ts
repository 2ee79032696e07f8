import type { LogRecord } from '../../src/datadog/logs.ts';
import type { TailSource } from '../../src/tail/source.ts';

/**
 * A TailSource over a fixed list of logs, paged as Datadog pages a search (newest first,
 * `pageLimit` a page, a cursor while more remain), recording what each call asked. For unit
 * tests of the poll and the stream; the route tests use the real simulator.
 */
/** What one call asked. */
export interface SourceCall {
  fromMs: number;
  toMs: number;
  cursor: string | undefined;
}

export function fakeSource(logs: LogRecord[], calls: SourceCall[] = []): TailSource {
  return {
    async page(request) {
      calls.push({ fromMs: request.fromMs, toMs: request.toMs, cursor: request.cursor });
      const inRange = logs
        .filter((l) => Date.parse(l.timestamp!) >= request.fromMs && Date.parse(l.timestamp!) < request.toMs)
        .sort((a, b) => Date.parse(b.timestamp!) - Date.parse(a.timestamp!));
      const offset = request.cursor ? Number(request.cursor) : 0;
      const items = inRange.slice(offset, offset + request.pageLimit);
      const after = offset + request.pageLimit < inRange.length ? String(offset + request.pageLimit) : undefined;
      return { items, after, timedOut: false, warnings: [], cache: 'miss', fetchedAt: 0 };
    },
  };
}

export function log(id: string, ms: number): LogRecord {
  return {
    id,
    timestamp: new Date(ms).toISOString(),
    service: 'svc',
    level: 'info',
    status: 'info',
    message: `message ${id}`,
    host: null,
    trace_id: null,
    span_id: null,
    tags: [],
    attributes: {},
  };
}

