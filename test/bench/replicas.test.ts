import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS, type SideReport } from '../../bench/fleet.ts';
import { fleetSchedule } from '../../bench/fleet/schedule.ts';
import { formatReplicas, markdown } from '../../bench/lib/report.ts';
import { runReplicas, TARGET_CALL_RATIO } from '../../bench/replicas.ts';

/**
 * The replicas benchmark in a tiny configuration (a real redis-server, three replicas, a few
 * hundred ms per run), so it cannot rot: its counts add up and agree with the simulators, its
 * hit runs were all answered from the cache. Nothing here looks at how fast anything was.
 */

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

function expectAnsweredWell(side: SideReport, scheduled: number): void {
  expect(side.sent + side.skipped).toBe(scheduled);
  expect(side.answered + side.noAnswer).toBe(side.sent);
  expect(side.noAnswer).toBe(0);
  expect(side.byStatus).toEqual({ 200: side.sent });
  expect(total(side.cache)).toBe(side.answered);
  for (const status of Object.keys(side.cache)) expect(['hit', 'miss', 'coalesced', 'stale']).toContain(status);
  expect(side.upstream.total).toBeGreaterThan(0);
  expect(side.upstream.total).toBeLessThanOrEqual(side.sent);
  expect(side.upstream.other).toBe(0);
}

describe('replicas benchmark', () => {
  it('runs one replica and three sharing Redis side by side, and a hit through Redis against one in process', { timeout: 180_000 }, async () => {
    const fleet = { ...FLEET_DEFAULTS, dashboards: 2, panels: 2, durationMs: 300, intervalMs: 150, mix: 'mixed' as const };
    const report = await runReplicas({ fleet, replicas: 3, hit: { runMs: 300, warmupMs: 0, rounds: 1 } });

    const scheduled = fleetSchedule(fleet).length * fleet.panels;
    expect(report.fleet.refreshes).toBe(fleetSchedule(fleet).length);
    expectAnsweredWell(report.fleet.single, scheduled);
    expectAnsweredWell(report.fleet.fleet, scheduled);
    expect(report.fleet.replicas).toBe(3);
    expect(report.fleet.callRatio).toBe(report.fleet.fleet.upstream.total / report.fleet.single.upstream.total);
    expect(report.fleet.target).toEqual({
      callRatio: TARGET_CALL_RATIO,
      callRatioMet: report.fleet.callRatio <= TARGET_CALL_RATIO,
      zero5xx: true,
      met: report.fleet.callRatio <= TARGET_CALL_RATIO,
    });

    // Hits on both servers, measured in their own processes; never a request that waits for Datadog.
    const hit = report.hit;
    expect([hit.subject, hit.reference]).toEqual(['hit through Redis', 'hit in process']);
    for (const summary of [hit.subjectSummary, hit.referenceSummary]) {
      expect(summary.responses).toBeGreaterThan(0);
      expect(summary.non2xx).toBe(0);
      expect(summary.errors).toBe(0);
      const { hit: hits = 0, stale = 0, ...others } = summary.cache;
      expect(others).toEqual({});
      expect(hits + stale).toBe(summary.responses);
      expect(summary.cpuPerRequestUs).toBeGreaterThan(0);
    }

    expect(formatReplicas(report)).toContain('upstream calls, 3 replicas / one replica');
    const md = markdown({ command: 'test', machine: { cpus: 1, cpuModel: 'x', node: '24', platform: 'linux', memoryGb: 1 }, startedAt: '', finishedAt: '', replicas: report });
    expect(md).toContain('#### Replicas: 3 sharing Redis vs one');
    expect(md).toContain('| upstream calls (counted by the simulator) |');
  });

  it('refuses options past its bounds', async () => {
    const hit = { runMs: 300, warmupMs: 0, rounds: 1 };
    await expect(runReplicas({ fleet: FLEET_DEFAULTS, replicas: 1, hit })).rejects.toThrow(RangeError);
    await expect(runReplicas({ fleet: { ...FLEET_DEFAULTS, dashboards: 0 }, replicas: 3, hit })).rejects.toThrow(RangeError);
  });
});
