import { describe, expect, it } from 'vitest';
import { liveWindow } from '../../src/tinkr/live-window.ts';
import { parseInstant, type Instant } from '../../src/time/instant.ts';
import { DEFAULT_STEPS } from '../../src/time/buckets.ts';

const NOW = Date.parse('2026-11-25T04:00:02.345Z');
const DAY = 86_400_000;
const rules = { nowMs: NOW, steps: DEFAULT_STEPS, maxRangeMs: 31 * DAY };
const iso = (ms: number) => new Date(ms).toISOString();

/** An instant as the route's schema reads it (the schema refuses what does not parse). */
function at(text: string): Instant {
  const parsed = parseInstant(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.instant;
}
const windowOf = (start: string, end: string, r = rules) => liveWindow(at(start), at(end), r);

describe('liveWindow', () => {
  it("asks a tail's poll as its bucket's panel: end forward onto the 5 s grid, 5 minutes wide, start kept for the answer", () => {
    expect(windowOf(iso(NOW - 2_000), '2026-11-25T04:00:02.345678+00:00', rules)).toEqual({
      fromMs: Date.parse('2026-11-25T03:55:05.000Z'),
      toMs: Date.parse('2026-11-25T04:00:05.000Z'),
      keepFromMs: NOW - 2_000,
      stepMs: 5_000,
    });
  });

  it('takes "now" as anything within one step of ours, either way', () => {
    expect(windowOf(iso(NOW - 10_000), iso(NOW + 4_000), rules)?.toMs).toBe(Date.parse('2026-11-25T04:00:10.000Z'));
    expect(windowOf(iso(NOW - 10_000), iso(NOW - 5_000), rules)?.toMs).toBe(Date.parse('2026-11-25T04:00:00.000Z'));
    expect(windowOf(iso(NOW - 10_000), iso(NOW - 6_000), rules)).toBeUndefined();
    expect(windowOf(iso(NOW - 10_000), iso(NOW + 6_000), rules)).toBeUndefined();
    // `end=now` (date math) is read against our clock: always live.
    expect(windowOf('now-10s', 'now')?.toMs).toBe(Date.parse('2026-11-25T04:00:05.000Z'));
  });

  it('uses the step of the range asked: a 30-minute first fetch shares a one-hour panel on the 30 s grid', () => {
    const w = windowOf(iso(NOW - 30 * 60_000), iso(NOW), rules)!;
    expect([w.stepMs, w.toMs, w.toMs - w.fromMs, w.keepFromMs]).toEqual([30_000, Date.parse('2026-11-25T04:00:30.000Z'), 3_600_000, NOW - 30 * 60_000]);
  });

  it('only widens a range longer than its panel, and leaves anything else alone', () => {
    const long = windowOf(iso(NOW - 40 * DAY + 1), iso(NOW), { ...rules, maxRangeMs: 50 * DAY })!;
    expect([long.fromMs, long.toMs]).toEqual([NOW - 40 * DAY + 1, Date.parse('2026-11-25T04:15:00.000Z')]);
    expect(windowOf(iso(NOW - 31 * DAY), iso(NOW), rules)).toBeUndefined();
    expect(windowOf(iso(NOW), iso(NOW - 1_000), rules)).toBeUndefined();
  });
});
