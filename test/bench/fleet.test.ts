import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS, runFleet, TARGET_REDUCTION, type SideReport } from '../../bench/fleet.ts';
import { buildDashboards } from '../../bench/fleet/mix.ts';
import { fleetSchedule } from '../../bench/fleet/schedule.ts';
import { formatFleet, markdown } from '../../bench/lib/report.ts';

/**
 * The fleet benchmark in a tiny configuration, so it cannot rot: the report's counts must add
 * up and agree with the simulators. Nothing here looks at how fast anything was.
 */

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

function expectConsistent(side: SideReport, scheduled: number, kinds: Record<string, number>): void {
  expect(side.sent + side.skipped).toBe(scheduled);
  expect(total(side.sentByKind)).toBe(side.sent);
  // Skipped refreshes aside, each kind was sent as often as the dashboards hold it.
  if (side.skipped === 0) expect(side.sentByKind).toEqual(kinds);
  expect(side.answered + side.noAnswer).toBe(side.sent);
  expect(total(side.byStatus)).toBe(side.answered);
  expect(total(side.cache)).toBe(side.answered);
  expect(side.latencyMs.count).toBe(side.answered);
  expect(side.ageS.count).toBe(side.byStatus['200'] ?? 0);
  expect(side.upstream.total).toBe(
    side.upstream.logs + side.upstream.spans + side.upstream.metrics + side.upstream.logs_aggregate + side.upstream.spans_aggregate + side.upstream.other,
  );
  expect(side.upstream.other).toBe(0);
}

describe('dashboard fleet benchmark', () => {
  it('runs gateway and pass-through side by side and reports counts that add up', async () => {
    const options = { ...FLEET_DEFAULTS, dashboards: 2, panels: 2, durationMs: 300, intervalMs: 150, mix: 'mixed' as const };
    const report = await runFleet(options);

    const refreshes = fleetSchedule(options).length;
    expect(report.refreshes).toBe(refreshes);
    expect(refreshes).toBe(4);
    const scheduled = refreshes * options.panels;
    // Both tiny dashboards are checkout dashboards: per refresh, the template's first two panels.
    const kinds = { logs: 0, metrics: 0, spans: 0, aggregate: 0 };
    for (const p of buildDashboards(options.dashboards, options.panels, options.mix, Date.now())[0]!.panels) kinds[p.kind] += refreshes;
    expectConsistent(report.gateway, scheduled, kinds);
    expectConsistent(report.passThrough, scheduled, kinds);

    // Every panel was answered, and answered well, on both sides.
    for (const side of [report.gateway, report.passThrough]) {
      expect(side.noAnswer).toBe(0);
      expect(side.byStatus).toEqual({ 200: side.sent });
      expect(side.status5xx).toBe(0);
    }
    // Pass-through forwards each panel request once; the simulator counted exactly those, by family.
    const pass = report.passThrough;
    expect(pass.upstream.total).toBe(pass.sent);
    expect({ logs: pass.upstream.logs, metrics: pass.upstream.metrics, spans: pass.upstream.spans, aggregate: 0 }).toEqual(pass.sentByKind);
    expect(report.passThrough.cache).toEqual({ '(none)': report.passThrough.answered });
    // The gateway answers with its cache vocabulary and never calls more than once per panel request.
    for (const status of Object.keys(report.gateway.cache)) expect(['hit', 'miss', 'coalesced', 'stale', 'bypass']).toContain(status);
    expect(report.gateway.upstream.total).toBeGreaterThan(0);
    expect(report.gateway.upstream.total).toBeLessThanOrEqual(report.gateway.sent);

    expect(report.reduction).toBe(report.passThrough.upstream.total / report.gateway.upstream.total);
    expect(report.target).toEqual({
      reduction: TARGET_REDUCTION,
      reductionMet: report.reduction >= TARGET_REDUCTION,
      zero5xx: true,
      met: report.reduction >= TARGET_REDUCTION,
    });
    expect(report.onePerIntervalFloor).toBe(report.mixSummary.distinctRelative * 2 + report.mixSummary.distinctAbsolute);

    // The report renders, as text and as the README's tables.
    expect(formatFleet(report)).toContain('upstream reduction vs pass-through');
    const md = markdown({
      command: 'test',
      machine: { cpus: 1, cpuModel: 'test', node: process.versions.node, platform: 'test', memoryGb: 1 },
      startedAt: report.startedAt,
      finishedAt: report.startedAt,
      fleet: [report],
    });
    expect(md).toContain('| upstream calls (counted by the simulator) |');
  });

  it('the analytics mix: aggregate panels, each costing pass-through one aggregate call', async () => {
    const options = { ...FLEET_DEFAULTS, dashboards: 2, panels: 3, durationMs: 300, intervalMs: 150, mix: 'analytics' as const };
    const report = await runFleet(options);
    const scheduled = fleetSchedule(options).length * options.panels;
    expectConsistent(report.gateway, scheduled, { logs: 0, metrics: 0, spans: 0, aggregate: scheduled });
    expectConsistent(report.passThrough, scheduled, { logs: 0, metrics: 0, spans: 0, aggregate: scheduled });
    for (const side of [report.gateway, report.passThrough]) expect(side.byStatus).toEqual({ 200: side.sent });
    const pass = report.passThrough.upstream;
    // One aggregate call per panel request sent; the template's first three panels are logs,
    // spans and logs aggregates (a slow one may skip a refresh while it loads).
    expect(pass.logs_aggregate + pass.spans_aggregate).toBe(report.passThrough.sent);
    expect(pass.logs_aggregate).toBeGreaterThan(pass.spans_aggregate);
    expect(pass.spans_aggregate).toBeGreaterThan(0);
    expect(pass.logs + pass.spans + pass.metrics).toBe(0);
    expect(report.gateway.upstream.logs_aggregate + report.gateway.upstream.spans_aggregate).toBe(report.gateway.upstream.total);
    expect(report.gateway.upstream.total).toBeLessThanOrEqual(report.gateway.sent);
    expect(formatFleet(report)).toMatch(/\(logs_aggregate \d+, spans_aggregate \d+\)/);
  });

  it('refuses options past its bounds', async () => {
    await expect(runFleet({ ...FLEET_DEFAULTS, dashboards: 0 })).rejects.toThrow(RangeError);
    await expect(runFleet({ ...FLEET_DEFAULTS, intervalMs: 1 })).rejects.toThrow(RangeError);
  });
});
