import { describe, expect, it } from 'vitest';
import { isoMs, parseInstant, resolveInstant } from '../../src/time/instant.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');

function at(text: string): number {
  const parsed = parseInstant(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return resolveInstant(parsed.instant, NOW);
}

describe('parseInstant', () => {
  it.each([
    ['2026-11-25T04:00:00Z', '2026-11-25T04:00:00.000Z'],
    ['2026-11-25T04:00:00.123Z', '2026-11-25T04:00:00.123Z'],
    ['2026-11-25T09:30:00+05:30', '2026-11-25T04:00:00.000Z'],
    ['2026-11-24T23:00:00-05:00', '2026-11-25T04:00:00.000Z'],
    ['2026-11-25T04:00+0000', '2026-11-25T04:00:00.000Z'],
    // Sub-millisecond digits round up (Datadog keeps whole ms): see millisecondsUp.
    ['2026-11-25T03:16:03.293064+00:00', '2026-11-25T03:16:03.294Z'],
    ['2026-11-25T03:16:03.293000+00:00', '2026-11-25T03:16:03.293Z'],
    ['2026-11-25T03:16:03.293000001Z', '2026-11-25T03:16:03.294Z'],
    ['2026-11-25T23:59:59.9995Z', '2026-11-26T00:00:00.000Z'],
    ['2026-12-31T23:59:59.999999+00:00', '2027-01-01T00:00:00.000Z'],
    ['1764043200000', '2025-11-25T04:00:00.000Z'],
    ['now', '2026-11-25T04:00:00.000Z'],
    ['now-15m', '2026-11-25T03:45:00.000Z'],
    ['now-2h', '2026-11-25T02:00:00.000Z'],
    ['now-1d', '2026-11-24T04:00:00.000Z'],
    ['now-1w', '2026-11-18T04:00:00.000Z'],
    ['now-30s', '2026-11-25T03:59:30.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(isoMs(at(text))).toBe(iso);
  });

  it('refuses a timestamp without an offset instead of guessing a zone', () => {
    for (const naive of ['2026-11-25T04:00:00', '2026-11-25 04:00:00', '2026-11-25']) {
      const parsed = parseInstant(naive);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.message).toMatch(/no UTC offset/);
    }
  });

  it.each(['2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-25T24:00:00Z', 'now-5y', 'now+5m', 'yesterday', '', '2026-11-25T04:00:00+25:00', '99999999999999999'])(
    'rejects %j',
    (text) => {
      expect(parseInstant(text).ok).toBe(false);
    },
  );

  it('marks date math as relative and timestamps as absolute', () => {
    expect(parseInstant('now-5m')).toEqual({ ok: true, instant: { kind: 'relative', offsetMs: 300_000 } });
    expect(parseInstant('0')).toEqual({ ok: true, instant: { kind: 'absolute', ms: 0 } });
  });
});
