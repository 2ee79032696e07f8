import type { RecordedRequest } from '@tinkr/datadog-simulator';
import { describe, expect, it } from 'vitest';
import { logsAggregateRequest, readLogsAggregate, readSpansAggregate, spansAggregateRequest, type AggregateQuery } from '../../src/datadog/aggregate.ts';
import { AppError } from '../../src/errors.ts';
import type { UpstreamRequest } from '../../src/upstream-call.ts';
import { validateDatadogRequest, validateDatadogResponse } from '../helpers/datadog-openapi.ts';

const FROM = Date.parse('2026-11-25T03:00:00Z');
const TO = Date.parse('2026-11-25T04:00:00Z');
const panel: AggregateQuery = { query: 'service:"a"', fromMs: FROM, toMs: TO, compute: { aggregation: 'count' }, groupBy: [], limit: 10 };

/** The request as the simulator would record it, for Datadog's spec. */
function recorded(request: UpstreamRequest): RecordedRequest {
  return {
    endpoint: request.family === 'logs_aggregate' ? 'logs_aggregate' : 'spans_aggregate',
    method: request.method,
    path: request.path,
    query: {},
    headers: { 'dd-api-key': 'k', 'dd-application-key': 'a', 'content-type': 'application/json' },
    body: request.body,
    at: 0,
    violations: [],
  };
}

describe('aggregate requests', () => {
  it('a count total: the filter and one compute', () => {
    const request = logsAggregateRequest({ ...panel, indexes: ['main'], storageTier: 'flex' });
    expect(request).toEqual({
      family: 'logs_aggregate',
      method: 'POST',
      path: '/api/v2/logs/analytics/aggregate',
      body: {
        filter: { query: 'service:"a"', from: '2026-11-25T03:00:00.000Z', to: '2026-11-25T04:00:00.000Z', indexes: ['main'], storage_tier: 'flex' },
        compute: [{ aggregation: 'count', type: 'total' }],
      },
    });
  });

  it('a measure over time by facets: total and timeseries in one call, top groups by the same measure', () => {
    const q: AggregateQuery = { ...panel, compute: { aggregation: 'pc95', metric: '@duration' }, groupBy: ['service', '@http.status_code'], limit: 5, intervalMs: 90_000 };
    const measure = { aggregation: 'pc95', metric: '@duration' };
    const sort = { type: 'measure', order: 'desc', ...measure };
    const parts = {
      compute: [
        { type: 'total', ...measure },
        { type: 'timeseries', interval: '90s', ...measure },
      ],
      group_by: [
        { facet: 'service', limit: 5, sort },
        { facet: '@http.status_code', limit: 5, sort },
      ],
    };
    expect(logsAggregateRequest(q).body).toMatchObject(parts);
    expect(spansAggregateRequest(q)).toMatchObject({
      family: 'spans_aggregate',
      path: '/api/v2/spans/analytics/aggregate',
      body: { data: { type: 'aggregate_request', attributes: { filter: { query: 'service:"a"' }, ...parts } } },
    });
  });

  it.each([
    ['logs count', logsAggregateRequest(panel)],
    ['logs grouped timeseries', logsAggregateRequest({ ...panel, groupBy: ['status'], intervalMs: 60_000, indexes: ['main'], storageTier: 'online-archives' })],
    ['spans cardinality by three facets', spansAggregateRequest({ ...panel, compute: { aggregation: 'cardinality', metric: '@usr.id' }, groupBy: ['service', 'env', 'host'], limit: 21 })],
    ['spans p99 over a day', spansAggregateRequest({ ...panel, compute: { aggregation: 'pc99', metric: '@duration' }, intervalMs: 86_400_000 })],
  ])("%s is valid against Datadog's official spec", (_name, request) => {
    expect(validateDatadogRequest(recorded(request))).toEqual([]);
  });
});

describe('aggregate answers', () => {
  it('logs: buckets with by, a total and a timeseries', () => {
    const body = {
      data: {
        buckets: [
          { by: { status: 'error' }, computes: { c0: 42, c1: [{ time: '2026-11-25T03:00:00.000Z', value: 40 }, { time: '2026-11-25T03:05:00.000Z', value: 2 }] } },
          { by: { status: 'warn', '@http.status_code': 404 }, computes: { c0: '7' } },
        ],
      },
      meta: { elapsed: 12, request_id: 'r', status: 'timeout', warnings: [{ code: 'unknown_index', title: 'missing', detail: 'indexes: x' }] },
    };
    expect(validateDatadogResponse('AggregateLogs', 200, body)).toEqual([]);
    expect(readLogsAggregate(body)).toEqual({
      groups: [
        { by: { status: 'error' }, total: 42, points: [[FROM, 40], [FROM + 300_000, 2]] },
        { by: { status: 'warn', '@http.status_code': 404 }, total: 7, points: [] },
      ],
      timedOut: true,
      warnings: [{ code: 'datadog_unknown_index', message: 'missing: indexes: x' }],
    });
  });

  it("spans: real answers carry `compute`, the spec's `computes`; either is read", () => {
    // Recorded from Datadog (datadog-api-client cassette "Aggregate spans returns OK response").
    const real = {
      data: [{ type: 'bucket', id: '6e46dab5', attributes: { compute: { c0: [{ time: '2023-06-29T09:40:00.000Z', value: 154 }] }, by: {} } }],
      meta: { elapsed: 27, request_id: 'x', status: 'done' },
    };
    expect(readSpansAggregate(real).groups).toEqual([{ by: {}, total: null, points: [] }]);
    const spec = { data: [{ type: 'bucket', id: 'b', attributes: { by: { service: 'a' }, computes: { c0: 3.5, c1: [{ time: '2026-11-25T03:00:00Z', value: 1.5 }] } } }] };
    expect(validateDatadogResponse('AggregateSpans', 200, spec)).toEqual([]);
    expect(readSpansAggregate(spec).groups).toEqual([{ by: { service: 'a' }, total: 3.5, points: [[FROM, 1.5]] }]);
    const computeOnly = { data: [{ type: 'bucket', attributes: { by: {}, compute: { c0: 9 } } }] };
    expect(readSpansAggregate(computeOnly).groups[0]!.total).toBe(9);
  });

  it('no buckets is no groups; another shape is an UPSTREAM_ERROR', () => {
    expect(readLogsAggregate({ data: { buckets: [] }, meta: { status: 'done' } })).toEqual({ groups: [], timedOut: false, warnings: [] });
    expect(readSpansAggregate({ data: [] }).groups).toEqual([]);
    expect(() => readLogsAggregate({ data: { buckets: {} } })).toThrow(AppError);
    expect(() => readSpansAggregate({ data: { buckets: [] } })).toThrow(/spans aggregate answer has an unexpected shape/);
  });
});
