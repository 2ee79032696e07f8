import { resolveIndexes, SPANS_RETENTION_MS, tierWindow } from '../data/log-indexes.ts';
import type { SimData } from '../data/source.ts';
import { QuerySyntaxError, type Node } from '../search/ast.ts';
import { TRACE_PERIOD_MS } from '../data/traces.ts';
import { matches, type SearchTarget } from '../search/evaluate.ts';
import { parseSearchQuery } from '../search/parse.ts';
import { logTarget, spanTarget } from '../search/targets.ts';
import { parseTimeExpression } from '../time-expr.ts';
import type { LogEvent, SpanEvent, Timed } from '../wire.ts';
import { aggregate, aggregateInSteps, fieldsOf, resolveIntervals, type AggregateBucket, type AggregateSource, type ResolvedCompute } from './compute.ts';
import { projectRow, type Row } from './rows.ts';
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
  /** Remember the rows of settled slots in `data.rows` (the endpoints); the truth reads afresh. */
  remember: boolean;
}

export type RunResult = { ok: true; buckets: AggregateBucket[]; unknownIndexes: string[] } | { ok: false; message: string };

/** At once, for the ground truth. */
export function runLogsAggregate(input: AggregateInput, env: RunEnv): RunResult {
  const p = prepareLogs(input, env);
  return p.ok ? resultOf(p, aggregate(p.computes, input.groupBy, p.source)) : p;
}

export function runSpansAggregate(input: AggregateInput, env: RunEnv): RunResult {
  const p = prepareSpans(input, env);
  return p.ok ? resultOf(p, aggregate(p.computes, input.groupBy, p.source)) : p;
}

/** In steps that let the event loop breathe, for the endpoints. */
export async function runLogsAggregateInSteps(input: AggregateInput, env: RunEnv): Promise<RunResult> {
  const p = prepareLogs(input, env);
  return p.ok ? resultOf(p, await aggregateInSteps(p.computes, input.groupBy, p.source)) : p;
}

export async function runSpansAggregateInSteps(input: AggregateInput, env: RunEnv): Promise<RunResult> {
  const p = prepareSpans(input, env);
  return p.ok ? resultOf(p, await aggregateInSteps(p.computes, input.groupBy, p.source)) : p;
}

function prepareLogs(input: AggregateInput, env: RunEnv): Prepared {
  const { searched, unknown } = resolveIndexes(input.indexes);
  const prepared = prepare<LogEvent>(input, env, 'logs', '', {
    window: (fromMs, toMs) => (searched.length === 0 ? { fromMs, toMs: fromMs } : tierWindow(input.storageTier, fromMs, toMs, env.nowMs)),
    eventsInSlot: (slot) => env.data.logsInSlot(slot, env.nowMs),
    target: logTarget,
  });
  return prepared.ok ? { ...prepared, unknownIndexes: unknown } : prepared;
}

function prepareSpans(input: AggregateInput, env: RunEnv): Prepared {
  return prepare<SpanEvent>(input, env, 'spans', 'data.attributes.', {
    window: (fromMs, toMs) => ({ fromMs: Math.max(fromMs, env.nowMs - SPANS_RETENTION_MS), toMs }),
    eventsInSlot: (slot) => env.data.spansInSlot(slot, env.nowMs),
    target: spanTarget,
  });
}

/** A request checked and resolved, ready to aggregate. */
type Prepared =
  | { ok: true; computes: ResolvedCompute[]; source: AggregateSource; unknownIndexes: string[] }
  | { ok: false; message: string };

function resultOf(prepared: { unknownIndexes: string[] }, buckets: AggregateBucket[] | string): RunResult {
  return typeof buckets === 'string' ? { ok: false, message: buckets } : { ok: true, buckets, unknownIndexes: prepared.unknownIndexes };
}

interface Kind<T> {
  window(fromMs: number, toMs: number): { fromMs: number; toMs: number };
  eventsInSlot(slot: number): Timed<T>[];
  target(event: T): SearchTarget;
}

function prepare<T>(input: AggregateInput, env: RunEnv, name: string, prefix: string, kind: Kind<T>): Prepared {
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
  const matching = (slot: number): Row[] => {
    const rows: Row[] = [];
    for (const { ms, event } of kind.eventsInSlot(slot)) {
      const target = kind.target(event);
      if (matches(ast, target)) rows.push({ ms, target });
    }
    return rows;
  };
  let rowsInSlot: (slot: number) => readonly Row[] = matching;
  if (env.remember) {
    const fields = fieldsOf(computes, input.groupBy);
    const key = JSON.stringify([name, input.query, fields, env.data.version]);
    // A slot is settled once it is over: its traces have finished and its logs been written.
    rowsInSlot = (slot) =>
      env.data.rows.rows(key, slot, (slot + 1) * TRACE_PERIOD_MS <= env.nowMs, () => matching(slot).map((r) => projectRow(r.ms, r.target, fields)));
  }
  return { ok: true, computes, source: { ...window, rowsInSlot }, unknownIndexes: [] };
}
