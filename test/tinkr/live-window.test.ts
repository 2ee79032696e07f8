import { describe, expect, it } from 'vitest';
import { liveWindow } from '../../src/tinkr/live-window.ts';
import { DEFAULT_STEPS } from '../../src/upstream/step.ts';

const NOW = Date.parse('2026-11-25T04:00:02.345Z');
const DAY = 86_400_000;
const rules = { nowMs: NOW, steps: DEFAULT_STEPS, maxRangeMs: 31 * DAY };
const iso = (ms: number) => new Date(ms).toISOString();

describe('liveWindow', () => {
  it("asks a tail's poll as its bucket's panel: end forward onto the 5 s grid, 5 minutes wide, start kept for the answer", () => {
    expect(liveWindow(iso(NOW - 2_000), '2026-11-25T04:00:02.345678+00:00', rules)).toEqual({
      fromMs: Date.parse('2026-11-25T03:55:05.000Z'),
      toMs: Date.parse('2026-11-25T04:00:05.000Z'),
      keepFromMs: NOW - 2_000,
      stepMs: 5_000,
    });
  });

  it('takes "now" as anything within one step of ours, either way', () => {
    expect(liveWindow(iso(NOW - 10_000), iso(NOW + 4_000), rules)?.toMs).toBe(Date.parse('2026-11-25T04:00:10.000Z'));
    expect(liveWindow(iso(NOW - 10_000), iso(NOW - 5_000), rules)?.toMs).toBe(Date.parse('2026-11-25T04:00:00.000Z'));
    expect(liveWindow(iso(NOW - 10_000), iso(NOW - 6_000), rules)).toBeUndefined();
    expect(liveWindow(iso(NOW - 10_000), iso(NOW + 6_000), rules)).toBeUndefined();
  });

  it('uses the step of the range asked: a 30-minute first fetch shares a one-hour panel on the 30 s grid', () => {
    const w = liveWindow(iso(NOW - 30 * 60_000), iso(NOW), rules)!;
    expect([w.stepMs, w.toMs, w.toMs - w.fromMs, w.keepFromMs]).toEqual([30_000, Date.parse('2026-11-25T04:00:30.000Z'), 3_600_000, NOW - 30 * 60_000]);
  });

  it('only widens a range longer than its panel, and leaves anything else alone', () => {
    const long = liveWindow(iso(NOW - 40 * DAY + 1), iso(NOW), { ...rules, maxRangeMs: 50 * DAY })!;
    expect([long.fromMs, long.toMs]).toEqual([NOW - 40 * DAY + 1, Date.parse('2026-11-25T04:15:00.000Z')]);
    expect(liveWindow(iso(NOW - 31 * DAY), iso(NOW), rules)).toBeUndefined();
    expect(liveWindow('2026-11-25T04:00:00', iso(NOW), rules)).toBeUndefined();
    expect(liveWindow(iso(NOW), iso(NOW - 1_000), rules)).toBeUndefined();
  });
});
