import { describe, expect, it } from 'vitest';
import { createGroundTruth, MAX_TRUTH_EVENTS } from '@tinkr/datadog-simulator/truth';
import { ManualClock } from '../helpers/manual-clock.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('ground truth', () => {
  const truth = createGroundTruth(new ManualClock(NOW));

  it('is a pure function of time: the past does not change as now moves on', () => {
    const later = createGroundTruth(new ManualClock(NOW + DAY));
    const window = { from: NOW - 2 * HOUR, to: NOW - HOUR };
    expect(later.logs(window)).toEqual(truth.logs(window));
    expect(later.spans({ ...window, query: 'service:payments-api' })).toEqual(truth.spans({ ...window, query: 'service:payments-api' }));
    const q = 'sum:trace.web.request.errors{*} by {service}';
    expect(later.metrics(q, (NOW - 2 * HOUR) / 1000, (NOW - HOUR) / 1000)).toEqual(truth.metrics(q, (NOW - 2 * HOUR) / 1000, (NOW - HOUR) / 1000));
  });

  it("keeps a log's id when later logs of its slot appear (a live tail tells logs apart by id)", () => {
    for (let at = NOW - 60_000; at < NOW; at += 2_000) {
      const then = createGroundTruth(new ManualClock(at)).logs({ from: at - 20_000, to: at });
      const later = new Set(truth.logs({ from: at - 20_000, to: at }).map((l) => l.id));
      expect(then.filter((l) => !later.has(l.id))).toEqual([]);
    }
  });

  it('sorts newest first by default and oldest first on request', () => {
    const desc = truth.spans({ from: 'now-5m', to: 'now' });
    const asc = truth.spans({ from: 'now-5m', to: 'now', sort: 'timestamp' });
    expect(asc).toEqual([...desc].reverse());
    const starts = asc.map((s) => Date.parse(s.attributes.start_timestamp));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it('keeps three services flowing in prod, each with logs and spans', () => {
    const logs = truth.logs({ query: 'env:prod', from: 'now-1m', to: 'now' });
    expect(new Set(logs.map((l) => l.attributes.service))).toEqual(new Set(['checkout', 'payments-api', 'ledger']));
  });

  it('finds sample traces by shape and fails loudly when none fits', () => {
    const staging = truth.sampleTraceId(NOW, { env: 'staging' });
    expect(truth.trace(staging)[0]!.attributes.env).toBe('staging');
    const batch = truth.sampleTraceId(NOW, { template: 'batch' });
    expect(truth.trace(batch).map((s) => s.attributes.service)).toEqual(['batch "nightly" jobs:eu\\west']);
    expect(() => truth.sampleTraceId(NOW, { template: 'batch', env: 'staging', hex128: true, error: true })).toThrow(RangeError);
  });

  it('refuses a range too wide to hold in memory', () => {
    expect(() => truth.logs({ from: NOW - 14 * DAY, to: NOW })).toThrow(new RangeError(`truth: more than ${MAX_TRUTH_EVENTS} events; narrow the range`));
    expect(() => truth.logs({ from: 'last week', to: NOW })).toThrow(TypeError);
  });
});
