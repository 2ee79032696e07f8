import { describe, expect, it } from 'vitest';
import type { FleetFlightOutcome } from '../../src/telemetry/telemetry.ts';
import type { Flight } from '../../src/upstream/coalesce.ts';
import { MAX_LEASE_ROUNDS, runLeased, type FleetLeases, type HeldLease, type LeaseWaitOutcome } from '../../src/upstream/fleet-flight.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/**
 * One flight per cache key across the fleet, seen from one replica: leases answered by a
 * scripted fake of the narrow lease interface (the real leases on a real Redis are tested in
 * test/redis/lease.test.ts, the whole on three replicas in test/replicas/).
 */

const NOW = Date.parse('2026-11-25T04:00:00.000Z');

interface Script {
  /** Successive answers of acquire: true (this replica gets it), false (another holds it), 'throw'. */
  acquire: Array<boolean | 'throw'>;
  /** Successive outcomes of waitFor. */
  waits: LeaseWaitOutcome[];
}

function fakeLeases(script: Script) {
  const log: string[] = [];
  let releases = 0;
  const leases: FleetLeases = {
    async acquire(key) {
      const next = script.acquire.shift() ?? false;
      log.push(`acquire ${key}: ${String(next)}`);
      if (next === 'throw') throw new Error('store unavailable');
      if (!next) return undefined;
      const lease: HeldLease = {
        async release() {
          releases++;
          log.push(`release ${key}`);
        },
      };
      return lease;
    },
    async waitFor(key) {
      const outcome = script.waits.shift() ?? 'deadline';
      log.push(`wait ${key}: ${outcome}`);
      return outcome;
    },
  };
  return { leases, log, releases: () => releases };
}

function steps(found: Array<string | undefined>) {
  const calls = { recheck: 0, produce: 0 };
  const outcomes: FleetFlightOutcome[] = [];
  return {
    calls,
    outcomes,
    steps: {
      settled: (outcome: FleetFlightOutcome) => void outcomes.push(outcome),
      async recheck() {
        calls.recheck++;
        return found.shift();
      },
      async produce() {
        calls.produce++;
        return 'produced here';
      },
      timedOut: () => new Error('timed out waiting for another replica'),
    },
  };
}

const flightOf = (deadline: number, controller = new AbortController()): Flight => ({ signal: controller.signal, deadline });

describe('a flight under a fleet-wide lease', () => {
  it('holder: looks in the cache once more, produces, and lets go', async () => {
    const { leases, log, releases } = fakeLeases({ acquire: [true], waits: [] });
    const s = steps([undefined]);
    expect(await runLeased(leases, 'k', flightOf(NOW + 1_000), new ManualClock(NOW), s.steps)).toBe('produced here');
    expect(s.calls).toEqual({ recheck: 1, produce: 1 });
    expect(s.outcomes).toEqual(['produced']);
    expect(releases()).toBe(1);
    expect(log).toEqual(['acquire k: true', 'release k']);
  });

  it('holder that finds the answer another replica has just kept: no production', async () => {
    const { leases, releases } = fakeLeases({ acquire: [true], waits: [] });
    const s = steps(['kept by B']);
    expect(await runLeased(leases, 'k', flightOf(NOW + 1_000), new ManualClock(NOW), s.steps)).toBe('kept by B');
    expect(s.calls.produce).toBe(0);
    expect(s.outcomes).toEqual(['read']);
    expect(releases()).toBe(1);
  });

  it('lets go even when producing fails', async () => {
    const { leases, releases } = fakeLeases({ acquire: [true], waits: [] });
    const failing = { ...steps([undefined]).steps, produce: () => Promise.reject(new Error('Datadog said no')) };
    await expect(runLeased(leases, 'k', flightOf(NOW + 1_000), new ManualClock(NOW), failing)).rejects.toThrow('Datadog said no');
    expect(releases()).toBe(1);
  });

  it('waiter: reads what the holder kept once it is released', async () => {
    const { leases, log } = fakeLeases({ acquire: [false], waits: ['released'] });
    const s = steps(['kept by the holder']);
    expect(await runLeased(leases, 'k', flightOf(NOW + 1_000), new ManualClock(NOW), s.steps)).toBe('kept by the holder');
    expect(s.calls).toEqual({ recheck: 1, produce: 0 });
    expect(s.outcomes).toEqual(['read']);
    expect(log).toEqual(['acquire k: false', 'wait k: released']);
  });

  it('waiter of a holder that died (the lease lapsed, nothing kept): takes the lease and produces', async () => {
    const { leases, log, releases } = fakeLeases({ acquire: [false, true], waits: ['free'] });
    const s = steps([undefined, undefined]);
    expect(await runLeased(leases, 'k', flightOf(NOW + 1_000), new ManualClock(NOW), s.steps)).toBe('produced here');
    expect(s.calls).toEqual({ recheck: 2, produce: 1 });
    expect(s.outcomes).toEqual(['took_over']);
    expect(releases()).toBe(1);
    expect(log).toEqual(['acquire k: false', 'wait k: free', 'acquire k: true', 'release k']);
  });

  it('produces alone when the store cannot answer, at acquire or while waiting', async () => {
    const down = steps([]);
    expect(await runLeased(fakeLeases({ acquire: ['throw'], waits: [] }).leases, 'k', flightOf(NOW + 1_000), new ManualClock(NOW), down.steps)).toBe('produced here');
    expect(down.calls).toEqual({ recheck: 0, produce: 1 });
    expect(down.outcomes).toEqual(['alone']);

    const lost = steps([undefined]);
    expect(await runLeased(fakeLeases({ acquire: [false], waits: ['unavailable'] }).leases, 'k', flightOf(NOW + 1_000), new ManualClock(NOW), lost.steps)).toBe('produced here');
    expect(lost.calls).toEqual({ recheck: 1, produce: 1 });
    expect(lost.outcomes).toEqual(['alone']);
  });

  it("ends with the flight's abort reason when every caller went away while it waited", async () => {
    const controller = new AbortController();
    const s = steps([]);
    const leases = fakeLeases({ acquire: [false], waits: [] });
    // The wait ends because the flight's signal aborted, as redis/lease.ts reports it.
    leases.leases.waitFor = async () => {
      controller.abort(new Error('every caller went away'));
      return 'deadline';
    };
    const run = runLeased(leases.leases, 'k', flightOf(NOW + 1_000, controller), new ManualClock(NOW), s.steps);
    await expect(run).rejects.toThrow('every caller went away');
    expect(s.calls.produce).toBe(0);
  });

  it('does not take the lease for a flight nobody waits for any more', async () => {
    const controller = new AbortController();
    const s = steps([]);
    const { leases, log } = fakeLeases({ acquire: [false], waits: ['released'] });
    leases.waitFor = async () => {
      controller.abort(new Error('every caller went away'));
      return 'free';
    };
    await expect(runLeased(leases, 'k', flightOf(NOW + 1_000, controller), new ManualClock(NOW), s.steps)).rejects.toThrow('every caller went away');
    expect(log).toEqual(['acquire k: false']);
    expect(s.calls.produce).toBe(0);
  });

  it('times out at the deadline while the holder is still busy, and waits on when a later caller moved it', async () => {
    const clock = new ManualClock(NOW + 1_000);
    const s = steps([]);
    await expect(runLeased(fakeLeases({ acquire: [false], waits: ['deadline'] }).leases, 'k', flightOf(NOW + 1_000), clock, s.steps)).rejects.toThrow('timed out waiting');
    expect(s.calls.produce).toBe(0);

    // The deadline grew while it waited (a later caller joined the flight): it waits once more.
    const later = steps(['kept by the holder']);
    const { leases, log } = fakeLeases({ acquire: [false, false], waits: ['deadline', 'released'] });
    expect(await runLeased(leases, 'k', flightOf(NOW + 5_000), clock, later.steps)).toBe('kept by the holder');
    expect(log).toEqual(['acquire k: false', 'wait k: deadline', 'acquire k: false', 'wait k: released']);
  });

  it(`stops waiting on others after ${MAX_LEASE_ROUNDS} rounds and produces itself`, async () => {
    // Every holder lets go without keeping anything (say, its answers are over the size cap).
    const rounds = Array.from({ length: MAX_LEASE_ROUNDS }, () => false);
    const { leases, log } = fakeLeases({ acquire: rounds, waits: rounds.map((): LeaseWaitOutcome => 'released') });
    const s = steps([]);
    expect(await runLeased(leases, 'k', flightOf(NOW + 60_000), new ManualClock(NOW), s.steps)).toBe('produced here');
    expect(s.calls).toEqual({ recheck: MAX_LEASE_ROUNDS, produce: 1 });
    expect(s.outcomes).toEqual(['alone']);
    expect(log.filter((l) => l.startsWith('acquire'))).toHaveLength(MAX_LEASE_ROUNDS);
  });
});
