import { describe, expect, it } from 'vitest';
import { checkNamedScope, envWithin, scopePartition, servicesWithin, type Scope } from '../../src/auth/scope.ts';
import { checkQuery } from '../../src/datadog/search-syntax.ts';
import { AppError } from '../../src/errors.ts';

describe('scopePartition', () => {
  it('is empty for an unrestricted scope and distinct for every other shape', () => {
    const shapes: Scope[] = [
      {},
      { services: ['a'] },
      { services: ['b'] },
      { services: ['a', 'b'] },
      { env: 'prod' },
      { env: 'staging' },
      { services: ['a'], env: 'prod' },
      { services: ['a', 'b'], env: 'prod' },
      { services: ['prod'] },
    ];
    const partitions = shapes.map(scopePartition);
    expect(partitions[0]).toBe('');
    expect(new Set(partitions).size).toBe(shapes.length);
    for (const p of partitions.slice(1)) expect(p).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('ignores the order and repetition of services, so equal scopes share', () => {
    expect(scopePartition({ services: ['b', 'a', 'a'], env: 'prod' })).toBe(scopePartition({ services: ['a', 'b'], env: 'prod' }));
    expect(scopePartition({ services: undefined, env: undefined })).toBe('');
  });
});

describe('servicesWithin and envWithin', () => {
  it('narrow to the scope or refuse with FORBIDDEN', () => {
    expect(servicesWithin([], { services: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(servicesWithin(['b'], { services: ['a', 'b'] })).toEqual(['b']);
    expect(() => servicesWithin(['c'], { services: ['a'] })).toThrow(/"c" is outside/);
    expect(servicesWithin(['x'], {})).toEqual(['x']);
    expect(envWithin(undefined, { env: 'prod' })).toBe('prod');
    expect(() => envWithin('staging', { env: 'prod' })).toThrow(AppError);
  });
});

describe('checkNamedScope', () => {
  const named = (query: string, scope: Scope) => {
    const check = checkQuery(query, { strict: true });
    if (!check.ok) throw new Error(check.message);
    return () => checkNamedScope(check.tokens, scope);
  };
  const pay = { services: ['payments-api', 'ledger'], env: 'prod' };

  it.each([
    'error',
    'service:payments-api',
    'service:"ledger" env:prod',
    'service:(payments-api OR ledger)',
    '-service:ledger',
    'service:payments\\-api',
    '@service:anything',
    'message:"service:checkout"',
  ])('lets %j through', (query) => {
    expect(named(query, pay)).not.toThrow();
  });

  it.each([
    ['service:checkout', /"checkout" is outside/],
    ['-service:checkout', /"checkout"/],
    ['Service:checkout', /"checkout"/],
    ['env:staging', /env "staging"/],
    ['service:(payments-api OR checkout)', /"checkout"/],
    ['service:(payments-api OR -checkout)', /"checkout"/],
    ['service:payments*', /wildcard/],
    ['service:pay?ents-api', /wildcard/],
    ['service:[a TO z]', /wildcard, range/],
    ['service:>a', /wildcard, range/],
  ])('refuses %j', (query, message) => {
    expect(named(query, pay)).toThrow(message);
  });

  it('checks nothing for an unrestricted key', () => {
    expect(named('service:anything env:any', {})).not.toThrow();
  });
});
