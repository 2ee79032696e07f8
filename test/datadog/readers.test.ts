import { describe, expect, it } from 'vitest';
import { logsSearchRequest, readLogsPage } from '../../src/datadog/logs.ts';
import { buildMetricQuery, metricsQueryRequest, readMetrics } from '../../src/datadog/metrics.ts';
import { readSpansPage, spansSearchRequest } from '../../src/datadog/spans.ts';
import { isoTimestamp } from '../../src/datadog/shape.ts';
import { AppError } from '../../src/errors.ts';

describe('logs translation', () => {
  it('builds the v2 search body with string times and Datadog sort names', () => {
    const request = logsSearchRequest({
      query: 'service:"a"',
      fromMs: Date.parse('2026-11-25T03:45:00Z'),
      toMs: Date.parse('2026-11-25T04:00:00Z'),
      sort: 'desc',
      pageLimit: 1000,
      cursor: 'abc',
      indexes: ['main'],
      storageTier: 'flex',
    });
    expect(request).toEqual({
      family: 'logs',
      method: 'POST',
      path: '/api/v2/logs/events/search',
      body: {
        filter: { query: 'service:"a"', from: '2026-11-25T03:45:00.000Z', to: '2026-11-25T04:00:00.000Z', indexes: ['main'], storage_tier: 'flex' },
        page: { limit: 1000, cursor: 'abc' },
        sort: '-timestamp',
      },
    });
  });

  it('reads logs, taking trace ids from log injection and normalizing the level', () => {
    const page = readLogsPage({
      data: [
        {
          id: 'AQAA',
          type: 'log',
          attributes: {
            timestamp: '2026-11-25T04:01:02.345Z',
            service: 'payments-api',
            status: 'emerg',
            message: 'charge failed',
            host: 'ip-10-0-1-7',
            tags: ['env:prod'],
            attributes: { dd: { trace_id: '5108427196612763385', span_id: '8209171342121457901' }, http: { status_code: 502 } },
          },
        },
        { id: 'AQAB', type: 'log', attributes: { timestamp: 1764043262345, attributes: { trace_id: 42 } } },
      ],
      meta: { page: { after: 'next' }, status: 'timeout', warnings: [{ code: 'unknown_index', title: 'One or several indexes are missing' }] },
    });
    expect(page.items[0]).toEqual({
      id: 'AQAA',
      timestamp: '2026-11-25T04:01:02.345Z',
      service: 'payments-api',
      level: 'critical',
      status: 'emerg',
      message: 'charge failed',
      host: 'ip-10-0-1-7',
      trace_id: '5108427196612763385',
      span_id: '8209171342121457901',
      tags: ['env:prod'],
      attributes: { dd: { trace_id: '5108427196612763385', span_id: '8209171342121457901' }, http: { status_code: 502 } },
    });
    expect(page.items[1]).toMatchObject({ timestamp: '2025-11-25T04:01:02.345Z', level: 'info', status: null, trace_id: '42', span_id: null });
    expect(page.after).toBe('next');
    expect(page.timedOut).toBe(true);
    expect(page.warnings).toEqual([{ code: 'datadog_unknown_index', message: 'One or several indexes are missing' }]);
  });

  it('reads the last page ({"data":[]}) and refuses a wrong shape', () => {
    expect(readLogsPage({ data: [] })).toEqual({ items: [], after: undefined, timedOut: false, warnings: [] });
    expect(() => readLogsPage({ data: 'nope' })).toThrow(AppError);
  });
});

describe('spans translation', () => {
  it('wraps the search in the JSON:API envelope', () => {
    const request = spansSearchRequest({ query: '*', fromMs: 0, toMs: 1000, sort: 'asc', pageLimit: 50 });
    expect(request.body).toEqual({
      data: {
        type: 'search_request',
        attributes: { filter: { query: '*', from: '1970-01-01T00:00:00.000Z', to: '1970-01-01T00:00:01.000Z' }, page: { limit: 50 }, sort: 'timestamp' },
      },
    });
  });

  it('reads spans: root parent, nanosecond duration, error status', () => {
    const page = readSpansPage({
      data: [
        {
          id: 's1',
          type: 'spans',
          attributes: {
            trace_id: '1',
            span_id: '2',
            parent_id: '0',
            service: 'checkout',
            resource_name: 'POST /charge',
            type: 'web',
            env: 'prod',
            host: 'h',
            start_timestamp: '2026-11-25T04:01:02.100Z',
            end_timestamp: '2026-11-25T04:01:02.412Z',
            tags: ['env:prod'],
            attributes: { operation_name: 'web.request', status: 'error' },
            custom: { duration: 312_000_000 },
          },
        },
      ],
    });
    expect(page.items[0]).toMatchObject({ parent_id: null, name: 'web.request', resource: 'POST /charge', duration_ms: 312, status: 'error' });
  });
});

describe('metrics translation', () => {
  it('builds queries and sends epoch seconds', () => {
    expect(buildMetricQuery({ metric: 'trace.web.request.hits', filters: ['service:a'], aggregation: 'sum', groupBy: ['host', 'env'] })).toBe(
      'sum:trace.web.request.hits{service:a} by {host,env}',
    );
    expect(buildMetricQuery({ metric: 'm', filters: [], aggregation: 'avg', groupBy: [] })).toBe('avg:m{*}');
    expect(metricsQueryRequest('avg:m{*}', 1_764_043_200_500, 1_764_043_260_500).query).toEqual({
      from: '1764043200',
      to: '1764043261',
      query: 'avg:m{*}',
    });
  });

  it('reads series: points ascending, interval from the points, tags from tag_set or scope', () => {
    const series = readMetrics({
      status: 'ok',
      series: [
        {
          metric: 'm',
          expression: 'avg:m{service:a}',
          scope: 'service:a,env:prod',
          pointlist: [
            [1764043220000, null],
            [1764043200000, 12.5],
          ],
          interval: 20,
          unit: [{ name: 'request', family: 'network' }, null],
        },
        { metric: 'n', scope: '*', tag_set: [], pointlist: [[1, 2]], interval: 300, unit: [null, null] },
      ],
    });
    expect(series[0]).toEqual({
      metric: 'm',
      expression: 'avg:m{service:a}',
      scope: 'service:a,env:prod',
      tags: ['service:a', 'env:prod'],
      unit: 'request',
      interval_s: 20,
      points: [
        [1764043200000, 12.5],
        [1764043220000, null],
      ],
    });
    expect(series[1]).toMatchObject({ tags: [], unit: null, interval_s: 300 });
  });

  it('turns status "error" into UPSTREAM_BAD_QUERY', () => {
    expect(() => readMetrics({ status: 'error', error: 'Error parsing query' })).toThrow(/Error parsing query/);
  });
});

describe('timestamps', () => {
  it('passes ISO 8601 UTC with milliseconds through as it is, and normalises every other form', () => {
    expect(isoTimestamp('2026-11-25T04:01:02.345Z')).toBe('2026-11-25T04:01:02.345Z');
    expect(isoTimestamp('2026-11-25T05:01:02.345+01:00')).toBe('2026-11-25T04:01:02.345Z');
    expect(isoTimestamp('2026-11-25T04:01:02Z')).toBe('2026-11-25T04:01:02.000Z');
    expect(isoTimestamp('2026-11-25T04:01:02.345678Z')).toBe('2026-11-25T04:01:02.345Z');
    expect(isoTimestamp(1764043262345)).toBe('2025-11-25T04:01:02.345Z');
    expect(isoTimestamp('1764043262345')).toBe('2025-11-25T04:01:02.345Z');
    // Unreadable text is passed on as written, in the fast form or not.
    expect(isoTimestamp('2026-13-45T99:99:99.999Z')).toBe('2026-13-45T99:99:99.999Z');
    expect(isoTimestamp('yesterday')).toBe('yesterday');
    expect(isoTimestamp(undefined)).toBeNull();
  });
});
