import { describe, expect, it } from 'vitest';
import { formatOverhead, markdown } from '../../bench/lib/report.ts';
import { runOverhead, type Comparison, type TargetSummary } from '../../bench/overhead.ts';

/**
 * The overhead benchmark in a tiny configuration (a few hundred ms per target, a few dozen
 * memory queries), so it cannot rot. It asserts that every request was answered, that the
 * bypass runs really went upstream once per request and the hit runs never did, that CPU was
 * read from the measured processes, and that the memory run saw its queries answered; never
 * how fast or how big.
 */

function expectAllAnswered(summary: TargetSummary, rounds: number): void {
  expect(summary.runs).toHaveLength(rounds);
  expect(summary.responses).toBeGreaterThan(0);
  expect(summary.non2xx).toBe(0);
  expect(summary.errors).toBe(0);
  expect(Object.values(summary.cache).reduce((a, b) => a + b, 0)).toBe(summary.responses);
}

function expectCpuMeasured(comparison: Comparison): void {
  expect(comparison.subjectSummary.cpuPerRequestUs).toBeGreaterThan(0);
  expect(comparison.referenceSummary.cpuPerRequestUs).toBeGreaterThan(0);
  expect(comparison.cpuRatio).toBeGreaterThan(0);
}

describe('overhead benchmark', () => {
  it('compares server and references side by side, each in its own process, with every request answered', { timeout: 180_000 }, async () => {
    const report = await runOverhead({ runMs: 300, warmupMs: 0, rounds: 1, connections: 2, memoryQueries: 20 });

    // The direct request is the one the server sends: same query, same answer.
    expect(report.equivalence).toMatchObject({ same: true });
    expect(report.equivalence.gatewayItems).toBeGreaterThan(0);

    for (const comparison of [report.bypass, report.hitLatency, report.hitThroughput]) {
      expectAllAnswered(comparison.subjectSummary, 1);
      expectAllAnswered(comparison.referenceSummary, 1);
      expect(comparison.throughputRatio).toBeGreaterThan(0);
      expect(comparison.referenceSummary.cache).toEqual({ '(none)': comparison.referenceSummary.responses });
    }
    expect([report.bypass.connections, report.hitLatency.connections, report.hitThroughput.connections]).toEqual([1, 1, 2]);

    // Bypassed and unique: nothing served from a cache or shared; one upstream call per request.
    const bypass = report.bypass.subjectSummary;
    expect(Object.keys(bypass.cache)).toEqual(['bypass']);
    expect(bypass.upstreamCalls).toBe(bypass.responses);
    expect(bypass.cpuPerRequestUs).toBeGreaterThan(0);
    // The simulator is not one of our measured processes.
    expect(report.bypass.referenceSummary.cpuPerRequestUs).toBeUndefined();

    // Cache hits: the body was captured (and cached) first. Real time passes, so a bucket may
    // roll during a run: then the previous answer is served stale while one refresh (at most one
    // upstream call per stale answer) asks Datadog. Never a request that waits for Datadog.
    let staleAnswers = 0;
    let refreshCalls = 0;
    for (const comparison of [report.hitLatency, report.hitThroughput]) {
      const { hit = 0, stale = 0, ...others } = comparison.subjectSummary.cache;
      expect(others).toEqual({});
      expect(hit).toBeGreaterThan(0);
      staleAnswers += stale;
      refreshCalls += comparison.subjectSummary.upstreamCalls!;
      expectCpuMeasured(comparison);
    }
    // (Summed: a refresh started late in one run may reach the simulator in the next.)
    expect(refreshCalls).toBeLessThanOrEqual(staleAnswers);
    expect(report.targets.hitCpuRatio).toBe(report.hitThroughput.cpuRatio);
    expect(report.targets.bypassAddedP50Ms).toBe(report.bypass.addedP50Ms);

    // Memory: every distinct query answered by a fresh server, and its memory read after a GC.
    expect(report.memory).toMatchObject({ queries: 20, rows: 500, ok: 20, failed: 0 });
    expect(report.memory!.answerBytes).toBeGreaterThan(10_000);
    expect(report.memory!.after.rss).toBeGreaterThan(0);
    expect(report.memory!.after.maxRss).toBeGreaterThanOrEqual(report.memory!.after.rss);

    expect(formatOverhead(report)).toContain('(a) Caching bypassed');
    expect(markdown({ command: 'test', machine: { cpus: 1, cpuModel: 'x', node: '24', platform: 'linux', memoryGb: 1 }, startedAt: '', finishedAt: '', overhead: report })).toContain(
      'Cache hits, throughput',
    );
  });

  it('refuses options past its bounds', async () => {
    await expect(runOverhead({ runMs: 300, warmupMs: 0, rounds: 0, connections: 2, memoryQueries: 0 })).rejects.toThrow(RangeError);
  });
});
