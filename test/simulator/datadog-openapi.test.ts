import { describe, expect, it } from 'vitest';
import type { RecordedRequest } from '@tinkr/datadog-simulator';
import { validateDatadogRequest, validateDatadogResponse } from '../helpers/datadog-openapi.ts';

const KEYS = { 'dd-api-key': 'k', 'dd-application-key': 'a', 'content-type': 'application/json' };

function request(partial: Partial<RecordedRequest>): RecordedRequest {
  return { endpoint: 'logs', method: 'POST', path: '/api/v2/logs/events/search', query: {}, headers: KEYS, body: undefined, at: 0, violations: [], ...partial };
}

const logs = (body: unknown): RecordedRequest => request({ body });
const spans = (body: unknown): RecordedRequest => request({ endpoint: 'spans', path: '/api/v2/spans/events/search', body });
const metrics = (query: Record<string, string>): RecordedRequest => request({ endpoint: 'metrics', method: 'GET', path: '/api/v1/query', query });

describe('validateDatadogRequest', () => {
  it.each([
    ['logs search with every field', logs({ filter: { query: 'service:web* AND @http.status_code:[200 TO 299]', from: 'now-15m', to: 'now', indexes: ['main'], storage_tier: 'indexes' }, page: { limit: 1000, cursor: 'abc' }, sort: '-timestamp' })],
    ['logs search without a body', logs(undefined)],
    ['logs search with epoch-ms strings', logs({ filter: { from: '1700000000000', to: '1700000900000' } })],
    ['spans search', spans({ data: { type: 'search_request', attributes: { filter: { query: '*', from: 'now-15m', to: 'now' }, page: { limit: 25 }, sort: 'timestamp' } } })],
    ['spans GET with bracketed params', request({ endpoint: 'spans', method: 'GET', path: '/api/v2/spans/events', query: { 'filter[query]': '*', 'page[limit]': '25', sort: '-timestamp' } })],
    ['metrics query', metrics({ from: '1700000000', to: '1700003600', query: 'avg:system.cpu.user{*}' })],
    ['the API key check, with no application key', request({ endpoint: 'validate', method: 'GET', path: '/api/v1/validate', headers: { 'dd-api-key': 'k' } })],
  ])('accepts %s', (_name, r) => {
    expect(validateDatadogRequest(r)).toEqual([]);
  });

  it.each([
    ['page.limit 5000', logs({ page: { limit: 5000 } }), /limit.*<= 1000/],
    ['sort "desc"', logs({ sort: 'desc' }), /sort.*allowed values/],
    ['storage_tier "cold"', logs({ filter: { storage_tier: 'cold' } }), /storage_tier/],
    ['filter.from as a JSON number', logs({ filter: { from: 1700000000000 } }), /from must be string/],
    ['spans POST without a body', spans(undefined), /requestBody/],
    ['spans page.limit 2000', spans({ data: { attributes: { page: { limit: 2000 } } } }), /limit.*<= 1000/],
    ['spans GET page[limit]=2000', request({ endpoint: 'spans', method: 'GET', path: '/api/v2/spans/events', query: { 'page[limit]': '2000' } }), /limit/],
    ['v1 query with a non-integer from', metrics({ from: '1700000000.5', to: '1700003600', query: 'avg:x{*}' }), /from must be integer/],
    ['v1 query with ISO from', metrics({ from: '2026-11-25T00:00:00Z', to: '1700003600', query: 'avg:x{*}' }), /from must be integer/],
    ['v1 query without query', metrics({ from: '1700000000', to: '1700003600' }), /query/],
    ['v1 query with an unknown parameter', metrics({ from: '1', to: '2', query: 'avg:x{*}', interval: '20' }), /interval/],
    ['an unknown path', request({ method: 'GET', path: '/api/v2/logs/nope' }), /not an operation/],
    ['validate as a POST', request({ endpoint: 'validate', method: 'POST', path: '/api/v1/validate' }), /not an operation/],
  ])('rejects %s', (_name, r, pattern) => {
    const violations = validateDatadogRequest(r);
    expect(violations.join('\n')).toMatch(pattern);
  });

  it('requires both key headers (openapi-backend does not check security)', () => {
    const r = logs({});
    expect(validateDatadogRequest({ ...r, headers: { 'dd-api-key': 'k' } })).toEqual(['missing header DD-APPLICATION-KEY']);
    expect(validateDatadogRequest({ ...r, headers: {} })).toEqual(['missing header DD-API-KEY', 'missing header DD-APPLICATION-KEY']);
  });

  it('requires only the API key where the operation says so (validate)', () => {
    const r = request({ endpoint: 'validate', method: 'GET', path: '/api/v1/validate' });
    expect(validateDatadogRequest({ ...r, headers: {} })).toEqual(['missing header DD-API-KEY']);
  });
});

describe('validateDatadogResponse', () => {
  it('accepts a documented error shape and rejects the wrong one per operation', () => {
    expect(validateDatadogResponse('ListLogs', 400, { errors: ['bad'] })).toEqual([]);
    expect(validateDatadogResponse('ListLogs', 400, { errors: [{ detail: 'bad' }] })).not.toEqual([]);
    expect(validateDatadogResponse('ListSpans', 422, { errors: [{ title: 'Generic Error', detail: 'x' }] })).toEqual([]);
    expect(validateDatadogResponse('ListSpans', 422, { errors: ['x'] })).not.toEqual([]);
    expect(validateDatadogResponse('Validate', 200, { valid: true })).toEqual([]);
    expect(validateDatadogResponse('Validate', 200, { valid: 'yes' })).not.toEqual([]);
    expect(validateDatadogResponse('Validate', 403, { errors: ['Forbidden'] })).toEqual([]);
  });
});
