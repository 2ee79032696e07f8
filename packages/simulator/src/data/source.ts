import { RowCache } from '../analytics/rows.ts';
import type { BurstSet } from './bursts.ts';
import { logsInSlot } from './logs.ts';
import { spansInSlot } from './spans.ts';
import { compareTimed, type LogEvent, type SpanEvent, type Timed } from '../wire.ts';

/**
 * The events one simulator serves, slot by slot: the generated data plus its injected bursts.
 * Handlers and the ground truth read through this, so both see the same events.
 */
export interface SimData {
  /** The logs of `slot` that exist at `nowMs`, in (timestamp, id) order. */
  logsInSlot(slot: number, nowMs: number): Timed<LogEvent>[];
  spansInSlot(slot: number, nowMs: number): Timed<SpanEvent>[];
  /** Changes whenever the data does (a burst armed or cleared). */
  readonly version: number;
  /** What the analytics endpoints remember of settled slots (analytics/rows.ts). */
  readonly rows: RowCache;
}

export function simData(bursts: BurstSet): SimData {
  const rows = new RowCache();
  return {
    logsInSlot(slot, nowMs) {
      const generated = logsInSlot(slot, nowMs);
      if (bursts.size === 0) return generated;
      const extra = bursts.logsInSlot(slot, nowMs);
      return extra.length === 0 ? generated : [...generated, ...extra].sort(compareTimed);
    },
    spansInSlot,
    get version() {
      return bursts.version;
    },
    rows,
  };
}
