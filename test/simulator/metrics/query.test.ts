import { describe, expect, it } from 'vitest';
import { MetricQueryError, parseMetricQueries } from '@tinkr/datadog-simulator/metrics/query';
import { chooseIntervalS, defaultIntervalS, MAX_POINTS_PER_SERIES } from '@tinkr/datadog-simulator/metrics/evaluate';

describe('parseMetricQueries', () => {
  it('reads aggregator, metric, scope, grouping and functions', () => {
    const [q] = parseMetricQueries('sum:trace.web.request.hits{service:checkout,!host:ip-10-0-1-12,env:pr*} by {resource_name,host}.as_count()');
    expect(q).toMatchObject({
      aggregator: 'sum',
      metric: 'trace.web.request.hits',
      scope: [
        { tag: 'service:checkout', negated: false },
        { tag: 'host:ip-10-0-1-12', negated: true },
        { tag: 'env:pr*', negated: false },
      ],
      groupBy: ['resource_name', 'host'],
      asCount: true,
      asRate: false,
      suffix: '.as_count()',
    });
  });

  it.each([
    ['system.cpu.user{*}', { aggregator: 'avg', scope: [], groupBy: [] }],
    ['max:system.cpu.user{*}by{host}', { aggregator: 'max', groupBy: ['host'] }],
    ['avg:trace.web.request.duration{service:ledger}.rollup(max, 600)', { rollup: { method: 'max', seconds: 600 } }],
    ['avg:trace.web.request.duration{*}.rollup(avg)', { rollup: { method: 'avg', seconds: undefined } }],
    ['sum:trace.web.request.hits{*}.as_rate()', { asRate: true }],
    ['avg:system.cpu.user{*}.fill(zero)', { fillZero: true }],
    ['min:system.cpu.user{ host:a , env:prod }', { scope: [{ tag: 'host:a', negated: false }, { tag: 'env:prod', negated: false }] }],
  ])('%s', (text, expected) => {
    expect(parseMetricQueries(text)[0]).toMatchObject(expected);
  });

  it('splits several queries at top-level commas', () => {
    const queries = parseMetricQueries('avg:system.cpu.user{host:a,env:prod},sum:trace.web.request.hits{*} by {service}');
    expect(queries.map((q) => q.metric)).toEqual(['system.cpu.user', 'trace.web.request.hits']);
  });

  it.each([
    'avg:system.cpu.user',
    'avg:system.cpu.user{',
    'avg:system.cpu.user{}',
    'median:system.cpu.user{*}',
    'avg:system.cpu.user{host:a b}',
    'avg:system.cpu.user{*} by host',
    'avg:system.cpu.user{*}.as_count',
    'avg:system.cpu.user{*}.top(10)',
    'avg:system.cpu.user{*}.rollup(p99)',
    'avg:system.cpu.user{*}.rollup(avg, -5)',
    'avg:system.cpu.user{*}.as_count().as_rate()',
    'abs(avg:system.cpu.user{*})',
    '{*}',
    '',
  ])('rejects %j with Datadog\'s "Error parsing query" message', (text) => {
    expect(() => parseMetricQueries(text)).toThrow(MetricQueryError);
    expect(() => parseMetricQueries(text)).toThrow(/^Error parsing query: /);
  });
});

describe('interval', () => {
  it.each([
    [15 * 60, 20],
    [3_600, 20],
    [2 * 3_600, 60],
    [4 * 3_600, 60],
    [12 * 3_600, 300],
    [86_400, 300],
    [3 * 86_400, 3_600],
    [7 * 86_400, 3_600],
    [30 * 86_400, 14_400],
  ])('is %i s → %i s by default', (range, interval) => {
    expect(defaultIntervalS(range)).toBe(interval);
  });

  it('honours a coarser rollup and caps the number of points', () => {
    expect(chooseIntervalS(3_600, 600)).toBe(600);
    expect(chooseIntervalS(3_600, 5)).toBe(20);
    const year = 365 * 86_400;
    expect(year / chooseIntervalS(year, undefined)).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
  });
});
