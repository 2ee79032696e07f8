/**
 * Time buckets for relative ranges. `since=15m` asked at 04:00:03 and at 04:00:07 must be the
 * same upstream request, or fifty dashboards refreshing the same panel would cost fifty calls.
 * So a relative range is moved forward onto a grid of `step` ms, where the step grows with the
 * range's length: every refresh within one step shares one cache entry and one upstream call,
 * and the answer is at most one step old. Moving forward (not back) keeps the newest data in
 * the range: a trace that ended a second ago is found, and the first caller of a step gets
 * everything up to now.
 */

export interface StepRule {
  /** Longest range (ms) this rule applies to; the last rule also covers anything longer. */
  upToMs: number;
  /** The grid (ms), whole seconds; 0 leaves ranges of this length unsnapped. */
  stepMs: number;
}

export type StepTable = readonly StepRule[];

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/**
 * The default grid. Up to an hour the step is about the refresh period of a live dashboard
 * (5–30 s), so refreshes share entries while the panel is at most a step behind (about 1% of
 * the range). Beyond an hour the step stays under one pixel column of a 1,000 px wide panel
 * (a day is 86 s per pixel, a week 10 min, a month 43 min), so snapping is invisible.
 */
export const DEFAULT_STEPS: StepTable = [
  { upToMs: 5 * M, stepMs: 5 * S }, // live-tail panels: 1.7% of the range
  { upToMs: 15 * M, stepMs: 10 * S }, // the default range: 1.1%; a 10 s dashboard refresh
  { upToMs: 1 * H, stepMs: 30 * S }, // 0.8%
  { upToMs: 1 * D, stepMs: 60 * S }, // under one pixel of a day-long panel
  { upToMs: 7 * D, stepMs: 5 * M }, // under one pixel of a week
  { upToMs: 31 * D, stepMs: 15 * M }, // under one pixel of a month; also anything longer
];

/** The step for a range of `spanMs`: the first rule that covers it, else the last; 0 without rules. */
export function stepFor(spanMs: number, table: StepTable): number {
  for (const rule of table) if (spanMs <= rule.upToMs) return rule.stepMs;
  return table.at(-1)?.stepMs ?? 0;
}

/**
 * Moves a relative range forward onto the grid: both ends shift by the same amount, so the
 * length is kept and `to` lands on the next multiple of the step (epoch-aligned, so every
 * replica agrees). `to` may lie up to one step in the future; Datadog answers up to now.
 */
export function snapRange(fromMs: number, toMs: number, stepMs: number): { fromMs: number; toMs: number } {
  if (stepMs <= 0) return { fromMs, toMs };
  const shift = Math.ceil(toMs / stepMs) * stepMs - toMs;
  return { fromMs: fromMs + shift, toMs: toMs + shift };
}

/** Problems with a configured table, for the config loader; empty when it is usable. */
export function checkStepTable(table: StepTable): string[] {
  const problems: string[] = [];
  table.forEach((rule, i) => {
    if (rule.stepMs % S !== 0) problems.push(`steps[${i}].step must be whole seconds (Datadog's metric times are seconds)`);
    if (rule.stepMs >= rule.upToMs) problems.push(`steps[${i}].step must be shorter than its up_to`);
    const previous = table[i - 1];
    if (previous && rule.upToMs <= previous.upToMs) problems.push(`steps[${i}].up_to must be longer than the one before`);
  });
  return problems;
}
