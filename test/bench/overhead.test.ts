import { describe, expect, it } from 'vitest';
import { formatOverhead } from '../../bench/lib/report.ts';
import { runOverhead, type TargetSummary } from '../../bench/overhead.ts';

/**
 * The overhead benchmark in a tiny configuration (a few hundred ms of autocannon per target),
 * so it cannot rot. It asserts that every request was answered and that the bypass runs really
 * went upstream once per request; never how fast.
 */

function expectAllAnswered(summary: TargetSummary, rounds: number): void {
  expect(summary.runs).toHaveLength(rounds);
  expect(summary.responses).toBeGreaterThan(0);
  expect(summary.non2xx).toBe(0);
  expect(summary.errors).toBe(0);
  expect(Object.values(summary.cache).reduce((a, b) => a + b, 0)).toBe(summary.responses);
}

describe('overhead benchmark', () => {
  it('compares server and references side by side with every request answered', async () => {
    const report = await runOverhead({ runMs: 300, warmupMs: 0, rounds: 1, connections: 2 });

    // The direct request is the one the server sends: same query, same answer.
    expect(report.equivalence).toMatchObject({ same: true });
    expect(report.equivalence.gatewayItems).toBeGreaterThan(0);

    for (const comparison of [report.bypass, report.cached]) {
      expectAllAnswered(comparison.subjectSummary, 1);
      expectAllAnswered(comparison.referenceSummary, 1);
      expect(comparison.throughputRatio).toBeGreaterThan(0);
      expect(comparison.referenceSummary.cache).toEqual({ '(none)': comparison.referenceSummary.responses });
    }

    // Bypassed and unique: nothing served from a cache or shared; one upstream call per request.
    const bypass = report.bypass.subjectSummary;
    for (const status of Object.keys(bypass.cache)) expect(['miss', 'bypass']).toContain(status);
    expect(bypass.upstreamCalls).toBeGreaterThanOrEqual(bypass.responses);
    expect(bypass.upstreamCalls).toBeLessThanOrEqual(bypass.sent);

    // Cacheable: whatever the server does, it never calls upstream more than once per request.
    const cached = report.cached.subjectSummary;
    for (const status of Object.keys(cached.cache)) expect(['hit', 'miss', 'coalesced', 'stale']).toContain(status);
    expect(cached.upstreamCalls).toBeLessThanOrEqual(cached.sent);

    expect(formatOverhead(report)).toContain('(a) caching bypassed');
  });

  it('refuses options past its bounds', async () => {
    await expect(runOverhead({ runMs: 300, warmupMs: 0, rounds: 0, connections: 2 })).rejects.toThrow(RangeError);
  });
});
