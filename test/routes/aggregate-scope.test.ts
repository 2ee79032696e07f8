import { describe, expect, it } from 'vitest';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { scopedCalls, scopedKey, type ScopedAnswer } from '../helpers/scoped-keys.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * Scoped keys on the analytics routes (aggregates, SLO, anomalies): the same guarantees as on
 * `/logs` and `/traces`. Every upstream request is proven inside the key's scope from what the
 * simulator received (scope-oracle.ts), and injection through `query`, `group_by` and `compute`
 * is refused before anything is sent.
 */

const PAY = scopedKey('token-payments', 'team-payments', { services: ['payments-api'] });
const PAY_PROD = scopedKey('token-payments-prod', 'payments-prod', { services: ['payments-api', 'ledger'], env: 'prod' });
const STAGING = scopedKey('token-staging', 'staging-only', { env: 'staging' });

const { stack } = sharedStack({ keys: [PAY, PAY_PROD, STAGING].map((k) => k.config) });
const { call, refused } = scopedCalls(stack);

const q = (text: string) => encodeURIComponent(text);
const groups = (answer: ScopedAnswer, facet: string) => new Set(answer.body.data.map((item: { group: Record<string, unknown> }) => item.group[facet]));

describe('aggregates for a scoped key', () => {
  it('with no service named, the panel covers the scope and nothing else, even grouped by service', async () => {
    const logs = await call(PAY, '/logs/aggregate?group_by=service&since=1h');
    expect(logs.status).toBe(200);
    expect(logs.upstream).toEqual(['service:"payments-api"']);
    expect(groups(logs, 'service')).toEqual(new Set(['payments-api']));
    const spans = await call(PAY_PROD, '/traces/aggregate?group_by=service,env&since=1h');
    expect(spans.status).toBe(200);
    expect(groups(spans, 'service')).toEqual(new Set(['payments-api', 'ledger']));
    expect(groups(spans, 'env')).toEqual(new Set(['prod']));
  });

  it('an env-only key aggregates its env only', async () => {
    const answer = await call(STAGING, '/logs/aggregate?group_by=env&since=1h');
    expect(answer.status).toBe(200);
    expect(groups(answer, 'env')).toEqual(new Set(['staging']));
  });

  it('a service or env outside the scope, as a parameter or in the query, is a 403', async () => {
    await refused(PAY, '/logs/aggregate?service=checkout&since=1h', 403);
    await refused(PAY, `/logs/aggregate?query=${q('* OR service:checkout')}&since=1h`, 403);
    await refused(PAY, `/traces/aggregate?query=${q('service:*')}&since=1h`, 403);
    await refused(PAY_PROD, '/traces/aggregate?env=staging&since=1h', 403);
    await refused(PAY_PROD, `/logs/aggregate?query=${q('env:(prod OR staging)')}&since=1h`, 403);
  });

  it('a query leaving its parentheses is a 400', async () => {
    await refused(PAY, `/logs/aggregate?query=${q('x) OR (service:checkout')}&since=1h`, 400);
    await refused(PAY, `/traces/aggregate?query=${q('a\\) OR * OR \\(b')}&since=1h`, 400);
  });

  it('group_by and compute are names, never query text: anything else is a 400', async () => {
    for (const facet of ['service) OR (*', 'service:checkout', '*', 'service OR env', '"service"', '@a b', '@x\\)', 'service\u0000']) {
      const body = await refused(PAY, `/logs/aggregate?group_by=${q(facet)}&since=1h`, 400);
      expect(body.errors[0].path).toMatch(/^group_by/);
    }
    for (const compute of ['avg:@x) OR (*', 'count:service:checkout', 'pc95:*', 'max:@duration OR service:checkout']) {
      const body = await refused(PAY, `/traces/aggregate?compute=${q(compute)}&since=1h`, 400);
      expect(body.errors[0].path).toBe('compute');
    }
  });
});

describe('SLO and anomalies for a scoped key', () => {
  it('a service outside the scope is a 403 before anything is sent', async () => {
    await refused(PAY, '/api/v1/slo', 403, { service: 'checkout', window: '1h' });
    await refused(PAY, '/api/v1/anomalies', 403, { service: 'checkout', window_minutes: 10 });
  });

  it('every upstream call stays inside the scope, the log search for the summary included', async () => {
    const slo = await call(STAGING, '/api/v1/slo', { service: 'payments-api', window: '1h' });
    expect(slo.status).toBe(200);
    expect(slo.upstream).toEqual(['service:"payments-api" AND env:"staging"']);
    stack.sim.bursts.add({ service: 'ledger', fromMs: NOW - 600_000, toMs: NOW, everyMs: 2_000 });
    try {
      const found = await call(PAY_PROD, '/api/v1/anomalies', { service: 'ledger', window_minutes: 10 });
      expect(found.status).toBe(200);
      expect(found.body.anomalies.length).toBeGreaterThan(0);
      // Two aggregates and the summary's log search, each proven in scope by call().
      expect(found.upstream).toHaveLength(3);
      for (const query of found.upstream) expect(query.startsWith('service:"ledger" AND env:"prod"')).toBe(true);
    } finally {
      stack.sim.bursts.clear();
    }
  });
});
