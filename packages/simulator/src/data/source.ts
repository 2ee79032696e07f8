import { RowCache } from '../analytics/rows.ts';
import type { BurstSet } from './bursts.ts';
import { LatencyBurstSet } from './latency-bursts.ts';
import { logsInSlot } from './logs.ts';
import { spansOfTrace } from './spans.ts';
import { traceAt, type SimTrace } from './traces.ts';
import { compareTimed, type LogEvent, type SpanEvent, type Timed } from '../wire.ts';

/**
 * The events one simulator serves, slot by slot: the generated data plus its injected error
 * bursts (extra logs) and latency bursts (slower spans). Handlers and the ground truth read
 * through this, so all of them see the same events.
 */
export interface SimData {
  /** The logs of `slot` that exist at `nowMs`, in (timestamp, id) order. */
  logsInSlot(slot: number, nowMs: number): Timed<LogEvent>[];
  spansInSlot(slot: number, nowMs: number): Timed<SpanEvent>[];
  /** The trace of `slot` as served: generated, then slowed by the latency bursts. */
  traceAt(slot: number): SimTrace;
  /** Changes whenever the data does (a burst armed or cleared). */
  readonly version: number;
  /** What the analytics endpoints remember of settled slots (analytics/rows.ts). */
  readonly rows: RowCache;
}

export function simData(bursts: BurstSet, latency: LatencyBurstSet = new LatencyBurstSet()): SimData {
  const rows = new RowCache();
  const served = (slot: number): SimTrace => latency.slow(traceAt(slot));
  return {
    logsInSlot(slot, nowMs) {
      const generated = logsInSlot(slot, nowMs);
      if (bursts.size === 0) return generated;
      const extra = bursts.logsInSlot(slot, nowMs);
      return extra.length === 0 ? generated : [...generated, ...extra].sort(compareTimed);
    },
    spansInSlot: (slot, nowMs) => spansOfTrace(served(slot), nowMs),
    traceAt: served,
    get version() {
      // Both counters only grow, so their sum changes whenever either set does.
      return bursts.version + latency.version;
    },
    rows,
  };
}
