import type { Clock } from './clock.ts';
import { resolveIndexes, SPANS_RETENTION_MS, tierWindow } from './data/log-indexes.ts';
import { slotOfTraceId, uses128BitTraceId } from './data/ids.ts';
import { scan } from './data/scan.ts';
import { BurstSet } from './data/bursts.ts';
import { simData, type SimData } from './data/source.ts';
import { toSpanEvent, traceVisible } from './data/spans.ts';
import { slotOf, traceAt, type TraceTemplate } from './data/traces.ts';
import { queryMetrics } from './metrics/evaluate.ts';
import { matches } from './search/evaluate.ts';
import { parseSearchQuery } from './search/parse.ts';
import { logTarget, spanTarget } from './search/targets.ts';
import { parseTimeExpression } from './time-expr.ts';
import { createAggregateTruth, type AggregateTruth } from './truth-aggregate.ts';
import type { LogEvent, LogsStorageTier, MetricsQueryResponse, SortOrder, SpanEvent } from './wire.ts';

/**
 * Ground truth for tests: what a complete, correct client would collect from the simulator,
 * computed straight from the generators (no HTTP, no cursors). Gateway tests compare their
 * answers against it. Time bounds are half-open [from, to), like the endpoints.
 */

/** A time as epoch ms, or any expression `filter.from` accepts (`now-15m`, ISO 8601, ...). */
export type TimeInput = number | string;

export interface LogsTruthQuery {
  query?: string;
  from: TimeInput;
  to: TimeInput;
  indexes?: readonly string[];
  storageTier?: LogsStorageTier;
  /** Default `-timestamp` (newest first). */
  sort?: SortOrder;
}

export interface SpansTruthQuery {
  query?: string;
  from: TimeInput;
  to: TimeInput;
  sort?: SortOrder;
}

export interface SampleTraceOptions {
  template?: TraceTemplate;
  error?: boolean;
  hex128?: boolean;
  env?: 'prod' | 'staging';
}

export interface GroundTruth extends AggregateTruth {
  /** Every matching log, in Datadog wire shape. */
  logs(query: LogsTruthQuery): LogEvent[];
  /** Every matching span, in Datadog wire shape. */
  spans(query: SpansTruthQuery): SpanEvent[];
  /** All spans of a finished trace, by start time (root first); [] when unknown or unfinished. */
  trace(traceId: string): SpanEvent[];
  /** The response `GET /api/v1/query` gives for this query and range (epoch seconds). */
  metrics(query: string, fromS: number, toS: number): MetricsQueryResponse;
  /** The id of the latest finished trace at or before `atMs` (default: now) matching the options. */
  sampleTraceId(atMs?: number, options?: SampleTraceOptions): string;
}

/** Most events a truth query may return; a test asking for more has picked too wide a range. */
export const MAX_TRUTH_EVENTS = 250_000;
/** How far back `sampleTraceId` looks (slots) before giving up. */
const SAMPLE_SEARCH_SLOTS = 100_000;

/** `data` defaults to the generated data alone (no bursts of either kind). */
export function createGroundTruth(clock: Clock, data: SimData = simData(new BurstSet())): GroundTruth {
  const resolve = (t: TimeInput, name: string, nowMs: number): number => {
    if (typeof t === 'number') return t;
    const ms = parseTimeExpression(t, nowMs);
    if (ms === undefined) throw new TypeError(`truth: invalid ${name} time "${t}"`);
    return ms;
  };

  const collect = <T>(events: Iterable<{ event: T }>): T[] => {
    const out: T[] = [];
    for (const { event } of events) {
      if (out.length >= MAX_TRUTH_EVENTS) throw new RangeError(`truth: more than ${MAX_TRUTH_EVENTS} events; narrow the range`);
      out.push(event);
    }
    return out;
  };

  return {
    ...createAggregateTruth(clock, data),

    logs(q) {
      const nowMs = clock.now();
      const ast = parseSearchQuery(q.query ?? '*');
      const from = resolve(q.from, 'from', nowMs);
      const to = Math.min(resolve(q.to, 'to', nowMs), nowMs + 1);
      if (resolveIndexes(q.indexes ?? ['*']).searched.length === 0) return [];
      const window = tierWindow(q.storageTier ?? 'indexes', from, to, nowMs);
      return collect(
        scan({
          ...window,
          descending: (q.sort ?? '-timestamp') === '-timestamp',
          eventsInSlot: (slot) => data.logsInSlot(slot, nowMs),
          accept: (event) => matches(ast, logTarget(event)),
        }),
      );
    },

    spans(q) {
      const nowMs = clock.now();
      const ast = parseSearchQuery(q.query ?? '*');
      const from = Math.max(resolve(q.from, 'from', nowMs), nowMs - SPANS_RETENTION_MS);
      const to = Math.min(resolve(q.to, 'to', nowMs), nowMs + 1);
      return collect(
        scan({
          fromMs: from,
          toMs: to,
          descending: (q.sort ?? '-timestamp') === '-timestamp',
          eventsInSlot: (slot) => data.spansInSlot(slot, nowMs),
          accept: (event) => matches(ast, spanTarget(event)),
        }),
      );
    },

    trace(traceId) {
      const slot = slotOfTraceId(traceId);
      if (slot === undefined) return [];
      const trace = data.traceAt(slot);
      if (trace.traceId !== traceId || !traceVisible(trace, clock.now())) return [];
      return trace.spans.map(toSpanEvent);
    },

    metrics(query, fromS, toS) {
      return queryMetrics(query, fromS, toS, clock.now());
    },

    sampleTraceId(atMs = clock.now(), options = {}) {
      const nowMs = clock.now();
      const start = slotOf(Math.min(atMs, nowMs));
      for (let slot = start; slot > start - SAMPLE_SEARCH_SLOTS; slot--) {
        const trace = traceAt(slot);
        if (!traceVisible(trace, nowMs) || trace.startMs > atMs) continue;
        if (options.template !== undefined && trace.template !== options.template) continue;
        if (options.error !== undefined && trace.error !== options.error) continue;
        if (options.hex128 !== undefined && uses128BitTraceId(slot) !== options.hex128) continue;
        if (options.env !== undefined && trace.env !== options.env) continue;
        return trace.traceId;
      }
      throw new RangeError('truth: no trace matches these options');
    },
  };
}
