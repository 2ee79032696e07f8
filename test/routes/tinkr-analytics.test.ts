import { describe, expect, it } from 'vitest';
import { levelOf } from '../../src/datadog/levels.ts';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * `tinkr slo`, `tinkr anomaly` and `tinkr diff` as the real CLI drives them (tinkr.md §5.1; its
 * `client/remote.py` and `interfaces/handlers.py`): the exact JSON text it sends (Python's
 * json.dumps, with its spaces), and every field it reads back in the form it reads it, so a
 * missing key (KeyError), a null (float(None)) or a timestamp fromisoformat() refuses fails here.
 */
const HOUR = 3_600_000;
const { stack } = sharedStack();

/** Python's isoformat() with microseconds and +00:00, as the CLI sends. */
const pyIso = (ms: number) => new Date(ms).toISOString().replace('Z', '000+00:00');
/** What Python 3.11's datetime.fromisoformat(s.replace("Z", "+00:00")) accepts, as our times are written. */
const PY_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

async function send(path: string, json: string): Promise<{ status: number; body: any }> {
  const res = await fetch(stack.app.url + path, {
    method: 'POST',
    headers: { authorization: 'Bearer test-token-unrestricted', 'content-type': 'application/json' },
    body: json,
  });
  return { status: res.status, body: await res.json() };
}

/** The fields `Anomaly(...)` in client/remote.py reads, the way it reads them. */
function expectCliAnomaly(a: Record<string, unknown>): void {
  for (const key of ['service', 'metric', 'description', 'severity']) expect(typeof a[key], key).toBe('string');
  expect(['low', 'medium', 'high', 'critical']).toContain(a['severity']);
  expect(a['detected_at']).toMatch(PY_ISO);
  expect(isNumber(a['current_value'])).toBe(true);
  expect(isNumber(a['threshold'])).toBe(true);
}

describe('tinkr slo payments-api -t 99.9 -w 1d', () => {
  it('answers every field render_slo formats, as numbers', async () => {
    const { status, body } = await send('/api/v1/slo', '{"service": "payments-api", "target_pct": 99.9, "window": "1d"}');
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(
      ['availability_pct', 'budget_remaining_pct', 'budget_total', 'budget_used', 'burn_rate', 'error_count', 'service', 'status', 'target_pct', 'total_requests', 'window'].sort(),
    );
    for (const key of ['availability_pct', 'target_pct', 'budget_total', 'budget_remaining_pct', 'burn_rate']) expect(isNumber(body[key]), key).toBe(true);
    for (const key of ['total_requests', 'error_count', 'budget_used']) expect(Number.isInteger(body[key]), key).toBe(true);
    expect(body).toMatchObject({ service: 'payments-api', window: '1d', target_pct: 99.9, status: 'breach' });
  });
});

describe('tinkr anomaly payments-api -s 1h', () => {
  it('sends window_minutes 60 and reads anomalies the CLI can build', async () => {
    stack.sim.bursts.add({ service: 'payments-api', fromMs: NOW - HOUR, toMs: NOW, everyMs: 2_000 });
    try {
      const { status, body } = await send('/api/v1/anomalies', '{"service": "payments-api", "window_minutes": 60}');
      expect(status).toBe(200);
      expect(body.anomalies.length).toBeGreaterThan(0);
      for (const anomaly of body.anomalies) expectCliAnomaly(anomaly);
      expect(body.anomalies.map((a: { metric: string }) => a.metric)).toContain('log_error_count');
    } finally {
      stack.sim.bursts.clear();
    }
  });
});

describe('tinkr diff ledger -b 2h -c 1h', () => {
  it('answers its two log searches and two anomaly calls', async () => {
    // handlers.get_diff: compare = the last hour; baseline = the 2 h before it.
    const compare = { start: NOW - HOUR, end: NOW };
    const baseline = { start: NOW - 3 * HOUR, end: NOW - HOUR };
    const logsBody = (w: { start: number; end: number }) =>
      `{"service": "ledger", "query": "level:ERROR OR level:CRITICAL", "start": "${pyIso(w.start)}", "end": "${pyIso(w.end)}", "limit": 1000}`;
    const [b, c, ba, ca] = await Promise.all([
      send('/api/v1/logs', logsBody(baseline)),
      send('/api/v1/logs', logsBody(compare)),
      send('/api/v1/anomalies', '{"service": "ledger", "window_minutes": 120}'),
      send('/api/v1/anomalies', '{"service": "ledger", "window_minutes": 60}'),
    ]);
    const errorsIn = (w: { start: number; end: number }) =>
      stack.sim.truth
        .logs({ query: 'service:ledger', from: w.start, to: w.end })
        .filter((l) => ['error', 'critical'].includes(levelOf(l.attributes.status))).length;
    // The CLI counts entries: every error log of each window, up to its limit of 1000.
    expect(b.body.entries).toHaveLength(Math.min(1000, errorsIn(baseline)));
    expect(c.body.entries).toHaveLength(Math.min(1000, errorsIn(compare)));
    for (const entry of [...b.body.entries, ...c.body.entries]) {
      expect(['ERROR', 'CRITICAL']).toContain(entry.level);
      expect(entry.timestamp).toMatch(PY_ISO);
    }
    for (const answer of [ba, ca]) {
      expect(answer.status).toBe(200);
      expect(Array.isArray(answer.body.anomalies)).toBe(true);
      for (const anomaly of answer.body.anomalies) expectCliAnomaly(anomaly);
    }
  });
});
