import { describe, expect, it } from 'vitest';
import { checkStepTable, DEFAULT_STEPS, snapRange, stepFor } from '../../src/time/buckets.ts';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('step table', () => {
  it('gives each range length the step of the first rule covering it', () => {
    expect(stepFor(1 * M, DEFAULT_STEPS)).toBe(5 * S);
    expect(stepFor(5 * M, DEFAULT_STEPS)).toBe(5 * S);
    expect(stepFor(5 * M + 1, DEFAULT_STEPS)).toBe(10 * S);
    expect(stepFor(15 * M, DEFAULT_STEPS)).toBe(10 * S);
    expect(stepFor(1 * H, DEFAULT_STEPS)).toBe(30 * S);
    expect(stepFor(1 * D, DEFAULT_STEPS)).toBe(60 * S);
    expect(stepFor(7 * D, DEFAULT_STEPS)).toBe(5 * M);
    expect(stepFor(30 * D, DEFAULT_STEPS)).toBe(15 * M);
  });

  it('uses the last rule beyond the table, and no step without one', () => {
    expect(stepFor(400 * D, DEFAULT_STEPS)).toBe(15 * M);
    expect(stepFor(15 * M, [])).toBe(0);
  });

  it('grows with the range, each step under 2% of the longest range it covers', () => {
    for (const [i, rule] of DEFAULT_STEPS.entries()) {
      expect(rule.stepMs).toBeGreaterThanOrEqual(DEFAULT_STEPS[i - 1]?.stepMs ?? 0);
      expect(rule.stepMs / rule.upToMs).toBeLessThan(0.02);
    }
    expect(checkStepTable(DEFAULT_STEPS)).toEqual([]);
  });

  it('snaps both ends forward by the same amount onto an epoch-aligned grid', () => {
    const to = Date.parse('2026-11-25T04:00:07.250Z');
    expect(snapRange(to - 15 * M, to, 10 * S)).toEqual({ fromMs: Date.parse('2026-11-25T03:45:10Z'), toMs: Date.parse('2026-11-25T04:00:10Z') });
    expect(snapRange(to - 15 * M, to, 0)).toEqual({ fromMs: to - 15 * M, toMs: to });
    const aligned = Date.parse('2026-11-25T04:00:00Z');
    expect(snapRange(aligned - H, aligned, 30 * S)).toEqual({ fromMs: aligned - H, toMs: aligned });
  });

  it('explains what is wrong with a configured table', () => {
    expect(checkStepTable([{ upToMs: H, stepMs: 1_500 }])).toEqual(['steps[0].step must be whole seconds (Datadog\'s metric times are seconds)']);
    expect(checkStepTable([{ upToMs: M, stepMs: M }])).toEqual(['steps[0].step must be shorter than its up_to']);
    expect(checkStepTable([{ upToMs: H, stepMs: S }, { upToMs: M, stepMs: S }])).toEqual(['steps[1].up_to must be longer than the one before']);
    expect(checkStepTable([{ upToMs: H, stepMs: 0 }])).toEqual([]);
  });
});
