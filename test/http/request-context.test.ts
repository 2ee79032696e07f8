import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import type { Upstream } from '../../src/upstream/types.ts';
import { startApp, type TestApp } from '../helpers/app.ts';

/**
 * The cache partition every request carries (CallContext.partition): what any cache keys on,
 * so answers are never shared between different scopes, and are shared between equal ones.
 */
const seen: string[] = [];
const upstream: Upstream = {
  send: async (_request, ctx) => {
    seen.push(ctx.partition);
    return { body: { data: [], meta: {} }, fetchedAt: 0 };
  },
};

const SHAPES: Array<[string, Partial<ApiKeyConfig>]> = [
  ['unrestricted', {}],
  ['one service', { services: ['payments-api'] }],
  ['another service', { services: ['ledger'] }],
  ['two services', { services: ['payments-api', 'ledger'] }],
  ['the same two, reordered and repeated', { services: ['ledger', 'payments-api', 'ledger'] }],
  ['env only', { env: 'prod' }],
  ['service and env', { services: ['payments-api'], env: 'prod' }],
  ['service and another env', { services: ['payments-api'], env: 'staging' }],
  ['unrestricted, another key', {}],
];
const token = (name: string) => `token-${SHAPES.findIndex(([n]) => n === name)}`;
const KEYS: ApiKeyConfig[] = SHAPES.map(([name, scope]) => ({ hash: sha256Hex(token(name)), subject: name, roles: ['oncall'], quota: 'off', ...scope }));

let app: TestApp;
beforeAll(async () => {
  app = await startApp({ upstream, auth: { mode: 'keys', keys: KEYS } });
});
afterAll(() => app.close());

async function partitionOf(name: string): Promise<string> {
  seen.length = 0;
  const res = await app.get('/logs?since=5m', { headers: { authorization: `Bearer ${token(name)}` } });
  expect(res.status).toBe(200);
  expect(seen).toHaveLength(1);
  return seen[0]!;
}

describe('the cache partition of a request', () => {
  it('is empty for unrestricted keys and the same for keys of equal scope', async () => {
    expect(await partitionOf('unrestricted')).toBe('');
    expect(await partitionOf('unrestricted, another key')).toBe('');
    expect(await partitionOf('the same two, reordered and repeated')).toBe(await partitionOf('two services'));
  });

  it('differs for every other scope shape', async () => {
    const distinct = ['unrestricted', 'one service', 'another service', 'two services', 'env only', 'service and env', 'service and another env'];
    const partitions: string[] = [];
    for (const name of distinct) partitions.push(await partitionOf(name));
    expect(new Set(partitions).size).toBe(distinct.length);
  });
});
