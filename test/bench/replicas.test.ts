import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS, type SideReport } from '../../bench/fleet.ts';
import { fleetSchedule } from '../../bench/fleet/schedule.ts';
import { formatReplicas, markdown } from '../../bench/lib/report.ts';
import { getCalls, HIT_LABELS, runReplicas, TARGET_CALL_RATIO } from '../../bench/replicas.ts';

/**
 * The replicas benchmark in a tiny configuration (a real redis-server, three replicas, a few
 * hundred ms per run), so it cannot rot: its counts add up and agree with the simulators, its
 * hit runs were all answered from the cache, the hits "read from Redis" did read Redis and the
 * report prints every row. Nothing here looks at how fast anything was.
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
  it('runs one replica and three sharing Redis side by side, and hits via Redis (near copy, and read from Redis) against one in process', { timeout: 180_000 }, async () => {
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

    // Hits on the three servers, measured in their own processes in the same rounds; never a
    // request that waits for Datadog.
    const { hitNearCopy: near, hitFromRedis: far } = report;
    expect([near.subject, near.reference]).toEqual([HIT_LABELS.nearCopy, HIT_LABELS.inProcess]);
    expect([far.subject, far.reference]).toEqual([HIT_LABELS.fromRedis, HIT_LABELS.inProcess]);
    expect(far.referenceSummary).toBe(near.referenceSummary);
    for (const summary of [near.subjectSummary, far.subjectSummary, near.referenceSummary]) {
      expect(summary.responses).toBeGreaterThan(0);
      expect(summary.non2xx).toBe(0);
      expect(summary.errors).toBe(0);
      const { hit: hits = 0, stale = 0, ...others } = summary.cache;
      expect(others).toEqual({});
      expect(hits + stale).toBe(summary.responses);
      expect(summary.cpuPerRequestUs).toBeGreaterThan(0);
      expect(Number.isFinite(summary.latencyP50Ms)).toBe(true);
    }
    for (const c of [near, far]) {
      expect(Number.isFinite(c.addedP50Ms)).toBe(true);
      expect(Number.isFinite(c.cpuRatio)).toBe(true);
    }
    // The server without near copies read every answer from Redis (one GET a hit, a few more at
    // a bucket roll); the one with them served its hits from its copy.
    expect(far.subjectSummary.redisGets).toBeGreaterThanOrEqual(far.subjectSummary.responses);
    expect(far.subjectSummary.redisGetsPerRequest).toBeGreaterThanOrEqual(1);
    expect(near.subjectSummary.redisGets).toBeLessThan(near.subjectSummary.responses / 2);
    expect(near.referenceSummary.redisGets).toBeUndefined();

    const text = formatReplicas(report);
    expect(text).toContain('upstream calls, 3 replicas / one replica');
    expect(text).toMatch(/a cache hit at p50 with one connection: \d+\.\d\d ms in process, \d+\.\d\d ms via Redis with a near copy \([+-]\d+\.\d\d ms\), \d+\.\d\d ms read from Redis \([+-]\d+\.\d\d ms\)/);
    expect(text).toMatch(/server CPU per hit: \d+ µs in process, \d+ µs via Redis with a near copy \(\d+\.\d\d\), \d+ µs read from Redis \(\d+\.\d\d\); Redis GETs per hit: \d+\.\d\d with a near copy, \d+\.\d\d read from Redis/);
    const md = markdown({ command: 'test', machine: { cpus: 1, cpuModel: 'x', node: '24', platform: 'linux', memoryGb: 1 }, startedAt: '', finishedAt: '', replicas: report });
    expect(md).toContain('#### Replicas: 3 sharing Redis vs one');
    expect(md).toContain('| upstream calls (counted by the simulator) |');
    expect(md).toContain(`|  | ${HIT_LABELS.inProcess} | ${HIT_LABELS.nearCopy} | ratio | ${HIT_LABELS.fromRedis} | ratio |`);
    expect(md).toMatch(/\| latency p50 \(ms\) \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|/);
    expect(md).toMatch(/\| Redis GETs per request \| – \| \d+\.\d\d \|  \| \d+\.\d\d \|  \|/);
  });

  it("reads Redis's GET count from INFO commandstats", () => {
    const info = '# Commandstats\r\ncmdstat_set:calls=3,usec=9\r\ncmdstat_get:calls=1234,usec=500,usec_per_call=0.41\r\ncmdstat_getex:calls=7\r\n';
    expect(getCalls(info)).toBe(1234);
    expect(getCalls('# Commandstats\r\ncmdstat_getex:calls=7\r\n')).toBe(0);
  });

  it('refuses options past its bounds', async () => {
    const hit = { runMs: 300, warmupMs: 0, rounds: 1 };
    await expect(runReplicas({ fleet: FLEET_DEFAULTS, replicas: 1, hit })).rejects.toThrow(RangeError);
    await expect(runReplicas({ fleet: { ...FLEET_DEFAULTS, dashboards: 0 }, replicas: 3, hit })).rejects.toThrow(RangeError);
  });
});
