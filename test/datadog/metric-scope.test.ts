import { describe, expect, it } from 'vitest';
import { MAX_METRIC_SUBQUERIES, metricQueryOutsideScope } from '../../src/datadog/metric-scope.ts';

const PAY = { services: ['payments-api'] };
const PAY_PROD = { services: ['payments-api', 'ledger'], env: 'prod' };

describe('metricQueryOutsideScope', () => {
  it('proves everything for an unrestricted key, without reading the query', () => {
    expect(metricQueryOutsideScope('anything at all (', {})).toBeUndefined();
  });

  it.each([
    ['avg:trace.web.request.hits{service:payments-api}', PAY],
    ['trace.web.request.hits{service:payments-api}', PAY],
    ['sum:trace.web.request.errors{service:payments-api,host:ip-10-0-1-7} by {resource_name}.as_count()', PAY],
    ['max:system.cpu.user{service:payments-api,!host:web-*} by {host,env}.rollup(max, 60).fill(zero)', PAY],
    ['avg:a{service:payments-api},sum:b{service:payments-api}.as_rate()', PAY],
    ['avg:a{service:ledger,env:prod}', PAY_PROD],
    ['avg:a{env:prod,service:payments-api,service:ledger}', PAY_PROD],
    ['avg:a{service:payments-api,!service:ledger,env:prod}', PAY_PROD],
    ['avg:a{env:staging}', { env: 'staging' }],
  ])('accepts %j', (query, scope) => {
    expect(metricQueryOutsideScope(query, scope)).toBeUndefined();
  });

  it.each([
    ['avg:a{*}', PAY, /not a comma list|does not select/],
    ['avg:a', PAY, /only the form/],
    ['avg:a{service:checkout}', PAY, /names service "checkout"/],
    ['avg:a{service:payments-api,service:checkout}', PAY, /"checkout"/],
    ['avg:a{service:payments-api,!service:checkout}', PAY, /"checkout"/],
    ['avg:a{!service:payments-api}', PAY, /does not select/],
    ['avg:a{service:payments-*}', PAY, /payments-\*/],
    ['avg:a{service}', PAY, /names service ""/],
    ['avg:a{Service:checkout,service:payments-api}', PAY, /"checkout"/],
    ['avg:a{service:payments-api OR service:checkout}', PAY, /comma list/],
    ['avg:a{service:payments-api AND env:prod}', PAY, /comma list/],
    ['avg:a{service IN (payments-api)}', PAY, /comma list|only the form/],
    ['avg:a{service:payments-api} + avg:a{*}', PAY, /after the scope/],
    ['avg:a{service:payments-api} / 2', PAY, /after the scope/],
    ['abs(avg:a{service:payments-api})', PAY, /only the form/],
    ['avg:a{service:payments-api}.timeshift(-3600)', PAY, /after the scope/],
    ['avg:a{service:payments-api}.rollup(p99)', PAY, /after the scope/],
    ['avg:a{service:payments-api} by {ho st}', PAY, /only the form|tag keys/],
    ['avg:a{service:payments-api},avg:a{*}', PAY, /does not select|comma list/],
    ['avg:a{service:payments-api', PAY, /brackets/],
    ['avg:a{service:payments-api}}', PAY, /brackets/],
    ['avg:a{service:payments-api,env:staging}', PAY_PROD, /env "staging"/],
    ['avg:a{service:payments-api}', PAY_PROD, /env:prod/],
    ['avg:a{service:p\u0430yments-api}', PAY, /not one of this key's/],
    ['avg:a{service:payments-api}\n,avg:a{*}', PAY, /does not select|comma list/],
  ])('refuses %j', (query, scope, why) => {
    expect(metricQueryOutsideScope(query, scope)).toMatch(why);
  });

  it('bounds the number of sub-queries', () => {
    const many = Array.from({ length: MAX_METRIC_SUBQUERIES + 1 }, () => 'avg:a{service:payments-api}').join(',');
    expect(metricQueryOutsideScope(many, PAY)).toMatch(/more than/);
  });
});
