import { resolveInstant, type Instant } from '../time/instant.ts';
import type { StepRule, StepTable } from '../time/buckets.ts';

/**
 * Polls that end at "now": `tinkr tail` sends `POST /api/v1/logs` every 2 s with `start` = the
 * newest timestamp it has printed and `end` = its own clock, so twenty viewers of one service
 * send twenty different ranges every 2 s, each a Datadog search. Such a request (an `end` within
 * one step of now) is asked upstream as the panel of its time bucket instead:
 *
 *   upstream range: [B - W, B), where the step rule covering the requested length has step S
 *   and covers lengths up to W, and B is `end` moved forward onto the S grid;
 *   answer: the logs of that range at or after `start`, newest first.
 *
 * Every request of one bucket (same service, query and limit, any `start` within W) is then
 * the same upstream request: one Datadog call per step, whatever the number of viewers.
 *
 * The answer is the one the request as sent would get. Newest first, the `limit` newest logs of
 * [B - W, B) hold the `limit` newest of [start, B) (those are the newest of the wider range),
 * so filtering them to `start` gives exactly the newest of [start, B): no line before `start`
 * reappears, and none after it is missing. Widening `end` only adds lines. No line is skipped
 * across polls either: an answer may come from the cache, up to one step old, but the client's
 * next `start` is the newest timestamp it received, no later than the moment that answer was
 * fetched, and the next bucket's answer is fetched later; a line that came after the cached
 * answer is in the next one.
 */
export interface LiveWindow {
  /** The range asked upstream: the bucket's panel. */
  fromMs: number;
  toMs: number;
  /** Logs before this (the request's own `start`) are not part of the answer. */
  keepFromMs: number;
  stepMs: number;
}

/** The live window of a request's `start`/`end`, or undefined when it does not end near now. */
export function liveWindow(start: Instant, end: Instant, rules: { nowMs: number; steps: StepTable; maxRangeMs: number }): LiveWindow | undefined {
  const fromMs = resolveInstant(start, rules.nowMs);
  const toMs = resolveInstant(end, rules.nowMs);
  if (fromMs >= toMs) return undefined;
  const rule = ruleFor(toMs - fromMs, rules.steps);
  // Client clocks differ from ours: "now" is anything within one step, either way.
  if (!rule || rule.stepMs <= 0 || Math.abs(toMs - rules.nowMs) > rule.stepMs) return undefined;
  const bucketMs = Math.ceil(toMs / rule.stepMs) * rule.stepMs;
  const panelFromMs = bucketMs - rule.upToMs;
  // A request longer than its rule's panel (the last rule, or one pushed over by the bucket)
  // still has its end bucketed, which only widens it.
  if (panelFromMs > fromMs || rule.upToMs > rules.maxRangeMs) {
    return bucketMs - fromMs <= rules.maxRangeMs ? { fromMs, toMs: bucketMs, keepFromMs: fromMs, stepMs: rule.stepMs } : undefined;
  }
  return { fromMs: panelFromMs, toMs: bucketMs, keepFromMs: fromMs, stepMs: rule.stepMs };
}

/** The rule for a range of `spanMs` (as `stepFor` picks it). */
function ruleFor(spanMs: number, table: StepTable): StepRule | undefined {
  return table.find((rule) => spanMs <= rule.upToMs) ?? table.at(-1);
}
