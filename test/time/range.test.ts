import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { resolveRange } from '../../src/time/range.ts';
import { DEFAULT_STEPS } from '../../src/time/buckets.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const rules = { nowMs: NOW, defaultSpanMs: 15 * 60_000, maxRangeMs: 7 * 86_400_000 };

function problem(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a BAD_REQUEST');
}

describe('resolveRange', () => {
  it('defaults to the last 15 minutes, relative', () => {
    expect(resolveRange({}, rules)).toEqual({ fromMs: NOW - 900_000, toMs: NOW, relative: true, stepMs: 0 });
  });

  it('reads since as from=now-<since>&to=now', () => {
    expect(resolveRange({ since: '1h' }, rules)).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW, relative: true, stepMs: 0 });
  });

  it('is absolute as soon as one end is a timestamp', () => {
    const r = resolveRange({ from: '2026-11-25T03:00:00Z' }, rules);
    expect(r).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW, relative: false, stepMs: 0 });
  });

  it('snaps a relative range forward onto the grid of its step, keeping its length', () => {
    const at = { ...rules, nowMs: NOW + 7_300, steps: DEFAULT_STEPS };
    expect(resolveRange({ since: '15m' }, at)).toEqual({ fromMs: NOW + 10_000 - 900_000, toMs: NOW + 10_000, relative: true, stepMs: 10_000 });
    // to = now-5m = NOW-292.7 s, moved forward onto the 30 s grid of a 55-minute range.
    expect(resolveRange({ from: 'now-1h', to: 'now-5m' }, at)).toEqual({ fromMs: NOW - 270_000 - 3_300_000, toMs: NOW - 270_000, relative: true, stepMs: 30_000 });
    const day = resolveRange({ since: '1d' }, { ...at, nowMs: NOW + 59_999 });
    expect(day).toEqual({ fromMs: NOW + 60_000 - 86_400_000, toMs: NOW + 60_000, relative: true, stepMs: 60_000 });
  });

  it('gives every instant within one step the same range, and the next step the next one', () => {
    const at = (offset: number) => resolveRange({}, { ...rules, nowMs: NOW + offset, steps: DEFAULT_STEPS });
    expect(at(0).toMs).toBe(NOW);
    expect(at(1)).toEqual(at(10_000));
    expect(at(10_000).toMs).toBe(NOW + 10_000);
    expect(at(10_001).toMs).toBe(NOW + 20_000);
  });

  it('never snaps an absolute range', () => {
    const r = resolveRange({ from: String(NOW - 60_000 + 1), to: String(NOW + 1) }, { ...rules, steps: DEFAULT_STEPS });
    expect(r).toEqual({ fromMs: NOW - 60_000 + 1, toMs: NOW + 1, relative: false, stepMs: 0 });
    const halfRelative = resolveRange({ from: String(NOW - 60_000 + 1) }, { ...rules, nowMs: NOW + 3, steps: DEFAULT_STEPS });
    expect(halfRelative).toEqual({ fromMs: NOW - 60_000 + 1, toMs: NOW + 3, relative: false, stepMs: 0 });
  });

  it('refuses since together with from or to', () => {
    const error = problem(() => resolveRange({ since: '1h', from: 'now-2h' }, rules));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.errors?.[0]?.path).toBe('since');
  });

  it('refuses a reversed or empty range', () => {
    expect(problem(() => resolveRange({ from: 'now', to: 'now-5m' }, rules)).message).toMatch(/before/);
    expect(problem(() => resolveRange({ from: '1000', to: '1000' }, rules)).code).toBe('BAD_REQUEST');
  });

  it("refuses a range longer than the profile's limit", () => {
    expect(problem(() => resolveRange({ since: '8d' }, rules)).message).toMatch(/longer than this profile allows \(7d\)/);
    expect(resolveRange({ since: '7d' }, rules).fromMs).toBe(NOW - 7 * 86_400_000);
  });

  it('lists every bad parameter at once', () => {
    const error = problem(() => resolveRange({ from: '2026-11-25T03:00:00', to: 'soon' }, rules));
    expect(error.errors?.map((e) => e.path)).toEqual(['from', 'to']);
  });

  it('refuses a zero or malformed since', () => {
    expect(problem(() => resolveRange({ since: '0m' }, rules)).errors?.[0]?.path).toBe('since');
    expect(problem(() => resolveRange({ since: '1y' }, rules)).errors?.[0]?.path).toBe('since');
  });
});
