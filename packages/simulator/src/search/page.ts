import { decodeCursor, encodeCursor, fingerprint } from '../cursor.ts';
import { slotOfTraceId, locateSpanId } from '../data/ids.ts';
import { scan } from '../data/scan.ts';
import { parseTimeExpression } from '../time-expr.ts';
import type { SortOrder, Timed } from '../wire.ts';
import { QuerySyntaxError, type Node } from './ast.ts';
import { matches, type SearchTarget } from './evaluate.ts';
import { parseSearchQuery } from './parse.ts';
import { pinnedValues } from './pin.ts';

/**
 * One page of a logs or spans search: resolve the time range (or take it from the cursor),
 * parse the query, scan from the cursor position, and issue the next cursor when more events
 * match. Shared by both endpoints; the wire framing is the handlers' job.
 */
export interface PageRequest<T> {
  /** Distinguishes log cursors from span cursors. */
  readonly family: 'logs' | 'spans';
  readonly query: string;
  readonly from: string;
  readonly to: string;
  readonly sort: SortOrder;
  readonly limit: number;
  readonly cursor: string | undefined;
  /** Other request parts a cursor is tied to (indexes, storage tier). */
  readonly scope: readonly unknown[];
  readonly nowMs: number;
  /** Narrows the resolved [from, to) to where the data lives (retention, tiers). */
  readonly window: (fromMs: number, toMs: number) => { fromMs: number; toMs: number };
  readonly eventsInSlot: (slot: number) => Timed<T>[];
  readonly target: (event: T) => SearchTarget;
  /** Fields whose exact values name trace ids / span ids (pinning the scan to their slots). */
  readonly traceIdFields: readonly string[];
  readonly spanIdFields: readonly string[];
}

export type PageFailure =
  | { kind: 'bad-time'; message: string }
  | { kind: 'reversed'; message: string }
  | { kind: 'syntax'; message: string }
  | { kind: 'bad-cursor'; message: string };

export type PageResult<T> =
  | { ok: true; page: Timed<T>[]; after: string | undefined; fromMs: number; toMs: number; key: string }
  | ({ ok: false } & PageFailure);

export function runPage<T>(req: PageRequest<T>): PageResult<T> {
  const key = fingerprint([req.family, req.query, req.from, req.to, req.sort, ...req.scope]);
  let fromMs: number;
  let toMs: number;
  let after: { ms: number; id: string } | undefined;
  if (req.cursor !== undefined) {
    const state = decodeCursor(req.cursor);
    if (!state) return { ok: false, kind: 'bad-cursor', message: 'Invalid cursor: it was not issued by this API' };
    if (state.query !== key) {
      return { ok: false, kind: 'bad-cursor', message: 'Invalid cursor: it was issued for a different query, time range or sort' };
    }
    ({ fromMs, toMs } = state);
    after = { ms: state.ms, id: state.id };
  } else {
    const from = parseTimeExpression(req.from, req.nowMs);
    if (from === undefined) return { ok: false, kind: 'bad-time', message: `Invalid time "${req.from}" for 'from'` };
    const to = parseTimeExpression(req.to, req.nowMs);
    if (to === undefined) return { ok: false, kind: 'bad-time', message: `Invalid time "${req.to}" for 'to'` };
    if (from >= to) return { ok: false, kind: 'reversed', message: "'from' should be anterior to 'to'" };
    fromMs = from;
    toMs = to;
  }

  let ast: Node;
  try {
    ast = parseSearchQuery(req.query);
  } catch (error) {
    if (error instanceof QuerySyntaxError) {
      return { ok: false, kind: 'syntax', message: `${error.message} (at position ${error.position})` };
    }
    throw error;
  }

  const window = req.window(fromMs, Math.min(toMs, req.nowMs + 1));
  const descending = req.sort === '-timestamp';
  const found: Timed<T>[] = [];
  for (const timed of scan({
    fromMs: window.fromMs,
    toMs: window.toMs,
    descending,
    after,
    slots: pinnedSlots(ast, req.traceIdFields, req.spanIdFields),
    eventsInSlot: req.eventsInSlot,
    accept: (event) => matches(ast, req.target(event)),
  })) {
    found.push(timed);
    // One past the page tells whether a next page exists, so a cursor is only sent when it will
    // yield data (Datadog may also send one that leads to an empty page; clients handle both).
    if (found.length > req.limit) break;
  }
  const page = found.slice(0, req.limit);
  const last = page[page.length - 1];
  const next =
    found.length > req.limit && last
      ? encodeCursor({ query: key, fromMs, toMs, ms: last.ms, id: last.id })
      : undefined;
  return { ok: true, page, after: next, fromMs, toMs, key };
}

/**
 * The page cut to its first `keep` events, with a cursor that resumes right after them: what a
 * search that timed out upstream (`meta.status: "timeout"`) returns.
 */
export function truncatePage<T>(
  result: { page: Timed<T>[]; fromMs: number; toMs: number; key: string },
  keep: number,
): { page: Timed<T>[]; after: string | undefined } {
  const page = result.page.slice(0, keep);
  const last = page[page.length - 1];
  const after = last ? encodeCursor({ query: result.key, fromMs: result.fromMs, toMs: result.toMs, ms: last.ms, id: last.id }) : undefined;
  return { page, after };
}

function pinnedSlots(ast: Node, traceFields: readonly string[], spanFields: readonly string[]): number[] | undefined {
  const traceIds = pinnedValues(ast, traceFields);
  if (traceIds) return traceIds.map(slotOfTraceId).filter((s): s is number => s !== undefined);
  const spanIds = pinnedValues(ast, spanFields);
  if (spanIds) return spanIds.map((id) => locateSpanId(id)?.slot).filter((s): s is number => s !== undefined);
  return undefined;
}
