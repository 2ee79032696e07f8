import { resolveIndexes, SPANS_RETENTION_MS, tierWindow } from '../data/log-indexes.ts';
import type { SimData } from '../data/source.ts';
import { QuerySyntaxError, type Node } from '../search/ast.ts';
import { matches, type SearchTarget } from '../search/evaluate.ts';
import { parseSearchQuery } from '../search/parse.ts';
import { logTarget, spanTarget } from '../search/targets.ts';
import { parseTimeExpression } from '../time-expr.ts';
import type { LogEvent, SpanEvent, Timed } from '../wire.ts';
import { aggregate, resolveIntervals, type AggregateBucket } from './compute.ts';
import type { AggregateInput } from './request.ts';

/**
 * One aggregate request against the simulator's data: resolve the time range (the same
 * expressions as the searches; half-open; never past now), parse the query, narrow the range to
 * where the data lives (log tiers and indexes, span retention) and run the engine. Shared by the
 * endpoints and the ground truth.
 */

export interface RunEnv {
  nowMs: number;
  data: SimData;
  /** A `timeout` fault: aggregate only the first half of the range, as a query cut short. */
  timedOut: boolean;
}

export type RunResult = { ok: true; buckets: AggregateBucket[]; unknownIndexes: string[] } | { ok: false; message: string };

export function runLogsAggregate(input: AggregateInput, env: RunEnv): RunResult {
  const { searched, unknown } = resolveIndexes(input.indexes);
  const result = run<LogEvent>(input, env, '', {
    window: (fromMs, toMs) => (searched.length === 0 ? { fromMs, toMs: fromMs } : tierWindow(input.storageTier, fromMs, toMs, env.nowMs)),
    eventsInSlot: (slot) => env.data.logsInSlot(slot, env.nowMs),
    target: logTarget,
  });
  return result.ok ? { ...result, unknownIndexes: unknown } : result;
}

export function runSpansAggregate(input: AggregateInput, env: RunEnv): RunResult {
  return run<SpanEvent>(input, env, 'data.attributes.', {
    window: (fromMs, toMs) => ({ fromMs: Math.max(fromMs, env.nowMs - SPANS_RETENTION_MS), toMs }),
    eventsInSlot: (slot) => env.data.spansInSlot(slot, env.nowMs),
    target: spanTarget,
  });
}

interface Kind<T> {
  window(fromMs: number, toMs: number): { fromMs: number; toMs: number };
  eventsInSlot(slot: number): Timed<T>[];
  target(event: T): SearchTarget;
}

function run<T>(input: AggregateInput, env: RunEnv, prefix: string, kind: Kind<T>): RunResult {
  const from = parseTimeExpression(input.from, env.nowMs);
  if (from === undefined) return { ok: false, message: `Invalid time "${input.from}" for 'from'` };
  const to = parseTimeExpression(input.to, env.nowMs);
  if (to === undefined) return { ok: false, message: `Invalid time "${input.to}" for 'to'` };
  if (from >= to) return { ok: false, message: "'from' should be anterior to 'to'" };
  const computes = resolveIntervals(input.computes, from, to, prefix);
  if (typeof computes === 'string') return { ok: false, message: computes };
  let ast: Node;
  try {
    ast = parseSearchQuery(input.query);
  } catch (error) {
    if (error instanceof QuerySyntaxError) return { ok: false, message: `Invalid query: ${error.message} (at position ${error.position})` };
    throw error;
  }
  const end = Math.min(to, env.nowMs + 1);
  const cut = env.timedOut ? from + Math.floor((end - from) / 2) : end;
  const window = kind.window(from, Math.max(from, cut));
  const buckets = aggregate(computes, input.groupBy, {
    ...window,
    eventsInSlot: kind.eventsInSlot,
    target: kind.target,
    accept: (target) => matches(ast, target),
  });
  return typeof buckets === 'string' ? { ok: false, message: buckets } : { ok: true, buckets, unknownIndexes: [] };
}
