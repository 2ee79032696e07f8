import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/datadog/logs.ts';
import { messageTemplate, summarizeLogs } from '../../src/tinkr/log-summary.ts';

function log(message: string, timestamp: string, extra: Partial<LogRecord> = {}): LogRecord {
  return {
    id: timestamp,
    timestamp,
    service: 'payments-api',
    level: 'error',
    status: 'error',
    message,
    host: 'ip-10-0-1-7',
    trace_id: null,
    span_id: null,
    tags: ['env:prod', 'service:payments-api', `host:${extra.host ?? 'ip-10-0-1-7'}`],
    attributes: {},
    ...extra,
  };
}

describe('message templates', () => {
  it.each([
    ['upstream 10.0.3.7:8443 refused connection after 3 retries', 'upstream <ip> refused connection after <n> retries'],
    ['charge 7f3a9c2e-1b4d-4e8f-9a0b-1c2d3e4f5a6b failed', 'charge <uuid> failed'],
    ['deadline 2026-11-25T04:01:02.345Z passed at 1764043262345', 'deadline <ts> passed at <ts>'],
    ['commit 4f2a9c81be0d1234 broke it', 'commit <hex> broke it'],
    ['cannot open /etc/app/config.yaml', 'cannot open <path>'],
    ['bad value "a rather long quoted value" here', 'bad value "<str>" here'],
    ['took 12.5 ms   and   3 tries', 'took <n> ms and <n> tries'],
  ])('%s', (message, template) => {
    expect(messageTemplate(message)).toBe(template);
  });
});

describe('summaries', () => {
  it('counts patterns and stack traces, and dates the errors', () => {
    const stack = 'ValueError: invalid amount: "12,50"\n  File "/app/batch/reconcile.py", line 12, in run';
    const logs = [
      log('timeout after 3000 ms', '2026-11-25T04:01:10.000Z'),
      log('timeout after 1500 ms', '2026-11-25T04:01:50.000Z'),
      log('timeout after 900 ms', '2026-11-25T04:02:05.000Z', { attributes: { error: { stack } }, tags: ['source:python', 'env:prod'] }),
      log('disk full', '2026-11-25T04:00:01.000Z', { host: 'ip-10-0-9-9' }),
    ];
    const summary = summarizeLogs(logs, 40, 10);
    expect(summary).toEqual({
      total_count: 40,
      unique_pattern_count: 2,
      window_minutes: 10,
      unique_patterns: [
        { template: 'timeout after <n> ms', count: 3, example: 'timeout after 3000 ms' },
        { template: 'disk full', count: 1, example: 'disk full' },
      ],
      stack_traces: [{ language: 'python', signature: 'ValueError: invalid amount: "<n>,<n>" | File "/app/batch/reconcile.py", line 12, in run', full_trace: stack, count: 1 }],
      time_distribution: { first_seen: '2026-11-25T04:00:01.000Z', last_seen: '2026-11-25T04:02:05.000Z', peak_minute: '2026-11-25T04:01:00Z' },
      common_fields: { env: 'prod', service: 'payments-api', host: 'ip-10-0-1-7' },
      sample_count: 4,
    });
  });

  it('an empty window has an empty summary with its count', () => {
    expect(summarizeLogs([], 0, 5)).toMatchObject({ total_count: 0, unique_pattern_count: 0, unique_patterns: [], sample_count: 0, time_distribution: { first_seen: null } });
  });
});
