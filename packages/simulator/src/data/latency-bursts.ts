import { ArmedSet } from './armed-set.ts';
import type { Env } from './catalog.ts';
import { parseStagedWindow } from './staged-window.ts';
import type { SimSpan, SimTrace } from './traces.ts';

/**
 * Injected latency bursts: one service's spans made slower over a window, so tests and demos can
 * stage a latency incident on demand (the generated durations are steady, as error bursts are
 * for the error rate, see bursts.ts). A span of `service` in `env` starting in [`fromMs`,
 * `toMs`) lasts `round(duration · factor) + addMs` instead (whole ms, as every span). Span
 * searches, span aggregates and the ground truth see the same slower spans.
 *
 * Only the durations change, and only the service's own spans (its callers' spans keep theirs, so
 * a test can pin the incident on one service). Start times, the trace's visibility and the logs
 * of the trace keep their generated timing: every event stays in its slot (traces.ts) and a
 * settled slot's aggregate rows stay right (analytics/rows.ts). A slowed span near "now" can
 * therefore be searchable before its slowed end.
 */
export interface LatencyBurst {
  service: string;
  fromMs: number;
  toMs: number;
  /** Durations are multiplied by this, at least 1; default 1. */
  factor?: number;
  /** Then this many ms are added; default 0. */
  addMs?: number;
  /** Default `prod`. */
  env?: Env;
}

/** Latency bursts armed at once; a runaway test fails loudly rather than slowing every scan. */
export const MAX_LATENCY_BURSTS = 100;
/** Slower than this is no longer a latency incident but an outage, which other tools stage. */
export const MAX_LATENCY_FACTOR = 100;
export const MAX_LATENCY_ADD_MS = 60_000;

/** Checks a latency burst given as JSON (control endpoint) or in code; throws a TypeError naming the problem. */
export function parseLatencyBurst(input: unknown): Required<LatencyBurst> {
  const { window, fields: b } = parseStagedWindow(input, 'latencyBurst', 'a latency burst');
  const factor = b['factor'] ?? 1;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1 || factor > MAX_LATENCY_FACTOR) {
    throw new TypeError(`latencyBurst.factor must be a number from 1 to ${MAX_LATENCY_FACTOR}`);
  }
  const addMs = b['addMs'] ?? 0;
  if (typeof addMs !== 'number' || !Number.isInteger(addMs) || addMs < 0 || addMs > MAX_LATENCY_ADD_MS) {
    throw new TypeError(`latencyBurst.addMs must be an integer from 0 to ${MAX_LATENCY_ADD_MS}`);
  }
  // A burst that changes nothing is a mistake in the test that armed it.
  if (factor === 1 && addMs === 0) throw new TypeError('a latency burst needs latencyBurst.factor above 1 or latencyBurst.addMs above 0');
  return { ...window, factor, addMs };
}

export class LatencyBurstSet extends ArmedSet<Required<LatencyBurst>> {
  constructor() {
    super(parseLatencyBurst, MAX_LATENCY_BURSTS, 'latency bursts');
  }

  /**
   * `trace` with the spans the armed bursts cover slowed (each burst in turn); the same object
   * when none is. `endMs` stays the generated one: it decides when the trace is visible.
   */
  slow(trace: SimTrace): SimTrace {
    if (this.armed.length === 0) return trace;
    let changed = false;
    const spans = trace.spans.map((span) => {
      let durationMs = span.durationMs;
      for (const burst of this.armed) {
        if (covers(burst, span)) durationMs = Math.round(durationMs * burst.factor) + burst.addMs;
      }
      if (durationMs === span.durationMs) return span;
      changed = true;
      return { ...span, durationMs } satisfies SimSpan;
    });
    return changed ? { ...trace, spans } : trace;
  }
}

function covers(burst: Required<LatencyBurst>, span: SimSpan): boolean {
  return span.service.name === burst.service && span.env === burst.env && span.startMs >= burst.fromMs && span.startMs < burst.toMs;
}
