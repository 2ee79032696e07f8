import { describe, expect, it } from 'vitest';
import type { LogEvent, SpanEvent } from '@tinkr/datadog-simulator/wire';
import { QUIRKY_SERVICE } from '@tinkr/datadog-simulator/data/catalog';
import { QuerySyntaxError } from '@tinkr/datadog-simulator/search/ast';
import { logTarget, spanTarget } from '@tinkr/datadog-simulator/search/targets';
import { matches } from '@tinkr/datadog-simulator/search/evaluate';
import { parseSearchQuery } from '@tinkr/datadog-simulator/search/parse';
import { pinnedValues } from '@tinkr/datadog-simulator/search/pin';

function log(overrides: Partial<LogEvent['attributes']> = {}): LogEvent {
  return {
    id: 'x',
    type: 'log',
    attributes: {
      timestamp: '2026-11-25T04:00:00.000Z',
      host: 'ip-10-0-1-7',
      service: 'payments-api',
      status: 'warn',
      message: 'charge failed: card "declined" (code 51)',
      tags: ['env:prod', 'version:1.4.2', 'team:payments'],
      attributes: {
        http: { status_code: 502, method: 'POST' },
        dd: { trace_id: '5108427196612763385', span_id: '8209171342121457901' },
        duration: 2_500_000_000,
        'flat.key': 'x',
        usr: { name: 'Ann Lee' },
      },
      ...overrides,
    },
  };
}

const LOG = log();
const check = (query: string, event: LogEvent = LOG): boolean => matches(parseSearchQuery(query), logTarget(event));

describe('search syntax on logs', () => {
  it.each<[string, boolean]>([
    ['*', true],
    ['', true],
    ['service:payments-api', true],
    ['service:payments', false],
    ['service:payments*', true],
    ['service:*api', true],
    ['service:pay?ents-api', true],
    ['service:"payments-api"', true],
    ['service:"payments*"', false],
    ['service:payments\\*', false],
    ['service:Payments-api', false],
    ['status:warn', true],
    ['status:warning', false],
    ['host:ip-10-0-1-7', true],
    ['env:prod', true],
    ['env:staging', false],
    ['version:1.4.2', true],
    ['version:1.4*', true],
    ['team:*', true],
    ['region:*', false],
    ['@http.status_code:502', true],
    ['@http.status_code:[500 TO 599]', true],
    ['@http.status_code:[200 TO 299]', false],
    ['@http.status_code:{502 TO 599}', false],
    ['@http.status_code:[502 TO *]', true],
    ['@http.status_code:>=500', true],
    ['@http.status_code:>502', false],
    ['@http.status_code:<500', false],
    ['@duration:>2s', true],
    ['@duration:>3s', false],
    ['@http.method:POST', true],
    ['@http.method:post', false],
    ['@flat.key:x', true],
    ['@missing:*', false],
    ['-@missing:*', true],
    ['trace_id:5108427196612763385', true],
    ['@dd.trace_id:5108427196612763385', true],
    ['span_id:8209171342121457901', true],
    ['trace_id:1', false],
    ['charge', true],
    ['CHARGE', true],
    ['declined', true],
    ['refund', false],
    ['char*', true],
    ['"card \\"declined\\""', true],
    ['"card declined"', false],
    ['service:(checkout OR payments-api)', true],
    ['service:(checkout OR ledger)', false],
    ['service:("checkout" OR "payments-api")', true],
    ['service:payments-api AND status:error', false],
    ['service:payments-api status:warn', true],
    ['service:checkout OR status:warn', true],
    ['NOT status:warn', false],
    ['-status:warn', false],
    ['-status:error', true],
    ['NOT NOT status:warn', true],
    ['-(service:checkout OR status:error)', true],
    ['service:payments-api AND NOT (status:error OR status:critical)', true],
    // AND binds tighter than OR: warn OR (checkout AND staging).
    ['status:warn OR service:checkout AND env:staging', true],
    ['(status:warn OR service:checkout) AND env:staging', false],
    ['@usr.name:"Ann Lee"', true],
    ['@usr.name:Ann\\ Lee', true],
    ['@usr.name:Ann Lee', false],
    ['@usr.name:Ann*', true],
    ['payments\\-api', false],
  ])('%s → %s', (query, expected) => {
    expect(check(query)).toBe(expected);
  });
});

describe('a service name that needs every escape', () => {
  const quirky = log({ service: QUIRKY_SERVICE });

  it('is the one the simulator serves', () => {
    expect(QUIRKY_SERVICE).toBe('batch "nightly" jobs:eu\\west');
  });

  it.each<[string, boolean]>([
    // What the gateway's quoteValue() produces: backslashes doubled, quotes escaped.
    ['service:"batch \\"nightly\\" jobs:eu\\\\west"', true],
    ['service:("checkout" OR "batch \\"nightly\\" jobs:eu\\\\west")', true],
    // The same value bare, with every special character escaped.
    ['service:batch\\ \\"nightly\\"\\ jobs\\:eu\\\\west', true],
    ['service:batch*', true],
    ['service:*eu\\\\west', true],
    // A backslash not doubled inside quotes escapes the next character: different value.
    ['service:"batch \\"nightly\\" jobs:eu\\west"', false],
  ])('%s → %s', (query, expected) => {
    expect(check(query, quirky)).toBe(expected);
  });

  it('rejects it unescaped', () => {
    expect(() => parseSearchQuery('service:"batch "nightly" jobs:eu\\west"')).toThrow(QuerySyntaxError);
    expect(() => parseSearchQuery('service:batch "nightly"')).not.toThrow();
  });
});

describe('malformed queries', () => {
  it.each<[string, RegExp]>([
    ['(service:a', /missing "\)"/],
    ['service:a)', /unexpected "\)"/],
    ['((a) OR b', /missing "\)"/],
    ['service:"abc', /unterminated quoted string/],
    ['"abc', /unterminated quoted string/],
    ['AND service:a', /"AND" with nothing before it/],
    ['service:a AND', /"AND" with nothing after it/],
    ['service:a OR', /"OR" with nothing after it/],
    ['OR', /"OR" with nothing before it/],
    ['a AND AND b', /"AND" with nothing after it/],
    ['a OR OR b', /"OR" with nothing after it/],
    ['a AND OR b', /"AND" with nothing after it/],
    ['NOT', /"NOT" with nothing after it/],
    ['a -', /"-" with nothing after it/],
    ['a - b', /"-" with nothing after it/],
    ['()', /empty parentheses/],
    ['service:()', /empty parentheses/],
    ['service:', /missing value after "service:"/],
    ['service: a', /missing value after "service:"/],
    ['service:(a OR b', /missing "\)"/],
    ['service:(a OR env:(b))', /inside another field group/],
    ['@x:[1 TO', /unterminated range/],
    ['@x:[1 2]', /invalid range/],
    ['@x:>', /missing value/],
    ['a\\', /lone backslash/],
    ['service:a"b', /unexpected double quote/],
    ['"a"b', /after a quoted value/],
    ['se rvice"x":y', /unexpected double quote/],
    ['in#valid:x', /invalid field name/],
    [`${'('.repeat(100)}a${')'.repeat(100)}`, /nested deeper/],
    ['x'.repeat(9000), /longer than/],
  ])('%s', (query, message) => {
    let error: unknown;
    try {
      parseSearchQuery(query);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QuerySyntaxError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('span fields', () => {
  const span: SpanEvent = {
    id: 's',
    type: 'spans',
    attributes: {
      trace_id: '1',
      span_id: '2',
      parent_id: '3',
      service: 'ledger',
      env: 'prod',
      host: 'h',
      resource_name: 'POST /v1/entries',
      resource_hash: 'ab',
      type: 'web',
      start_timestamp: '2026-11-25T04:00:00.000Z',
      end_timestamp: '2026-11-25T04:00:00.012Z',
      ingestion_reason: 'rule',
      retained_by: 'retention_filter',
      single_span: false,
      tags: ['env:prod', 'version:0.9.12'],
      attributes: { operation_name: 'web.request', status: 'error', http: { status_code: '500' } },
      custom: { duration: 12_000_000, http: { status_code: '500', method: 'POST' }, error: { type: '*pq.Error' } },
    },
  };
  const checkSpan = (query: string): boolean => matches(parseSearchQuery(query), spanTarget(span));

  it.each<[string, boolean]>([
    ['operation_name:web.request', true],
    ['status:error', true],
    ['status:ok', false],
    ['resource_name:"POST /v1/entries"', true],
    ['env:prod service:ledger', true],
    ['type:web', true],
    ['trace_id:1 AND parent_id:3', true],
    ['@http.status_code:[500 TO 599]', true],
    ['@duration:>10ms', true],
    ['@duration:>=12ms', true],
    ['@duration:>1s', false],
    ['@error.type:"*pq.Error"', true],
    ['@error.type:\\*pq.Error', true],
    ['version:0.9.12', true],
    ['entries', true],
    ['"POST /v1"', true],
  ])('%s → %s', (query, expected) => {
    expect(checkSpan(query)).toBe(expected);
  });
});

describe('pinnedValues', () => {
  it.each<[string, string[] | undefined]>([
    ['trace_id:1', ['1']],
    ['trace_id:1 AND service:x', ['1']],
    ['trace_id:(1 OR 2)', ['1', '2']],
    ['trace_id:1 OR trace_id:2', ['1', '2']],
    ['trace_id:1 OR service:x', undefined],
    ['trace_id:1*', undefined],
    ['-trace_id:1', undefined],
    ['service:x', undefined],
  ])('%s → %j', (query, expected) => {
    expect(pinnedValues(parseSearchQuery(query), ['trace_id'])).toEqual(expected);
  });
});
