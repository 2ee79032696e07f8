import { expect } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { provenWithinScope, upstreamQueryOf, type OracleScope } from './scope-oracle.ts';
import type { Stack } from './stack.ts';

/** A caller key scoped to `scope`, with no quota (the scope tests send many requests), and its token. */
export interface ScopedKey {
  token: string;
  scope: OracleScope;
  config: ApiKeyConfig;
}

export function scopedKey(token: string, subject: string, scope: OracleScope, roles: ApiKeyConfig['roles'] = ['viewer']): ScopedKey {
  const { services, env } = scope;
  return { token, scope, config: { hash: sha256Hex(token), subject, roles, ...(services ? { services: [...services] } : {}), ...(env ? { env } : {}), quota: 'off' } };
}

export interface ScopedAnswer {
  status: number;
  body: any;
  /** The queries the simulator received for this request, each proven inside the key's scope. */
  upstream: string[];
}

/** Requests as scoped keys against `stack`, each proven from what the simulator received. */
export function scopedCalls(stack: Stack) {
  /** One request as `as`; every upstream request it caused must be provably inside the scope. */
  async function call(as: ScopedKey, path: string, body?: unknown): Promise<ScopedAnswer> {
    stack.sim.resetRequests();
    // no-cache: every call must reach the simulator, where its upstream query is proven in scope.
    const headers = { authorization: `Bearer ${as.token}`, 'cache-control': 'no-cache' };
    const res = body === undefined ? await stack.app.get(path, { headers }) : await stack.app.post(path, body, { headers });
    const json = await res.json();
    const upstream: string[] = [];
    for (const request of stack.sim.requests) {
      const verdict = provenWithinScope(request, as.scope);
      if (!verdict.ok) throw new Error(`${path}: ${verdict.why}`);
      upstream.push(upstreamQueryOf(request)!);
    }
    if (res.status >= 400) expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return { status: res.status, body: json, upstream };
  }

  /** A refusal (403 FORBIDDEN or 400 BAD_REQUEST) before anything was sent upstream; its problem body. */
  async function refused(as: ScopedKey, path: string, status: 400 | 403, body?: unknown): Promise<any> {
    const answer = await call(as, path, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    expect(answer.body.code).toBe(status === 403 ? 'FORBIDDEN' : 'BAD_REQUEST');
    expect(answer.upstream).toEqual([]);
    return answer.body;
  }

  return { call, refused };
}
