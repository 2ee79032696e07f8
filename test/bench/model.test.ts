import { describe, expect, it } from 'vitest';
import { buildDashboards, MAX_PANELS, summarizeMix, templatePanels, TEMPLATES } from '../../bench/fleet/mix.ts';
import { panelPath } from '../../bench/fleet/panels.ts';
import { fleetSchedule } from '../../bench/fleet/schedule.ts';
import { percentile, percentiles } from '../../bench/lib/stats.ts';

/** The fleet's workload model: who refreshes when, and which panels the dashboards share. */

const START = Date.parse('2026-11-25T04:00:00.000Z');

describe('fleet schedule', () => {
  it('staggers first loads over one interval and refreshes every interval until the end', () => {
    const schedule = fleetSchedule({ dashboards: 4, durationMs: 1_000, intervalMs: 400, jitter: 0, seed: 1 });
    expect(schedule.filter((r) => r.refresh === 0).map((r) => [r.dashboard, r.atMs])).toEqual([
      [0, 0],
      [1, 100],
      [2, 200],
      [3, 300],
    ]);
    // 0, 400, 800 for dashboard 0; 100, 500, 900 for 1; 200, 600 for 2; 300, 700 for 3.
    expect(schedule).toHaveLength(10);
    expect(schedule.every((r) => r.atMs < 1_000)).toBe(true);
    expect(schedule.map((r) => r.atMs)).toEqual([...schedule.map((r) => r.atMs)].sort((a, b) => a - b));
  });

  it('is the same for the same seed, and jitter stays within its share of the interval', () => {
    const options = { dashboards: 50, durationMs: 120_000, intervalMs: 10_000, jitter: 0.1, seed: 5 };
    expect(fleetSchedule(options)).toEqual(fleetSchedule(options));
    for (const r of fleetSchedule(options)) {
      const planned = (r.dashboard / 50) * 10_000 + r.refresh * 10_000;
      expect(Math.abs(r.atMs - planned)).toBeLessThanOrEqual(500 + 1);
    }
  });
});

describe('dashboard mix', () => {
  it('"same" is one dashboard fifty times: 8 distinct panels, 50 dashboards per panel', () => {
    const summary = summarizeMix(buildDashboards(50, 8, 'same', START), 'same');
    expect(summary).toMatchObject({ panelsPerRefresh: 400, distinctPanels: 8, distinctRelative: 8, distinctAbsolute: 0, sharing: 50 });
    expect(summary.panelsByKind).toEqual({ logs: 100, metrics: 200, spans: 100, aggregate: 0 });
  });

  it('"analytics" is aggregate panels only, shared by most viewers, a few at 4 hours', () => {
    const summary = summarizeMix(buildDashboards(50, 8, 'analytics', START), 'analytics');
    expect(summary.dashboards).toEqual({ analytics: 35, 'analytics@4h': 15 });
    expect(summary).toMatchObject({ panelsPerRefresh: 400, distinctPanels: 16, distinctRelative: 16 });
    expect(summary.panelsByKind).toEqual({ logs: 0, metrics: 0, spans: 0, aggregate: 400 });
  });

  it('"mixed" shares template panels and gives each zoomed viewer fixed windows of its own', () => {
    const dashboards = buildDashboards(50, 8, 'mixed', START);
    const summary = summarizeMix(dashboards, 'mixed');
    expect(summary.dashboards).toEqual({ checkout: 20, payments: 15, overview: 5, 'checkout@4h': 5, 'checkout@zoomed': 5 });
    // 8 checkout + 7 payments (CPU shared) + 4 overview-only + 8 at 4h; 5 zoomed viewers × 8.
    expect(summary).toMatchObject({ distinctRelative: 27, distinctAbsolute: 40, distinctPanels: 67 });
    const zoomed = dashboards.filter((d) => d.name === 'checkout@zoomed');
    for (const d of zoomed) {
      const time = d.panels[0]!.time;
      expect('from' in time && Date.parse(time.to) - Date.parse(time.from)).toBe(30 * 60_000);
      expect('to' in time && Date.parse(time.to)).toBeLessThan(START);
    }
  });

  it('keeps logs, metrics and spans in a smaller dashboard and repeats panels at other ranges past eight', () => {
    expect(new Set(templatePanels(TEMPLATES.checkout, 3).map((p) => p.kind))).toEqual(new Set(['logs', 'metrics', 'spans']));
    const many = templatePanels(TEMPLATES.checkout, MAX_PANELS);
    expect(new Set(many.map(panelPath)).size).toBe(MAX_PANELS);
    expect(() => templatePanels(TEMPLATES.checkout, MAX_PANELS + 1)).toThrow(RangeError);
  });
});

describe('percentiles', () => {
  it('uses the nearest rank, so every percentile is a measured value', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(values)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(percentile([], 50)).toBeNaN();
  });
});
