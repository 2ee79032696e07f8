import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { systemClock, type Clock } from '../../src/clock.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { DEFAULT_SETTINGS } from '../../src/config/settings.ts';
import { AppError } from '../../src/errors.ts';
import { buildServer, settingsDeps, type ServerDeps } from '../../src/server.ts';
import type { Telemetry } from '../../src/telemetry/telemetry.ts';
import { uncachedEngine } from '../../src/upstream/pipeline.ts';
import type { UpstreamRequest } from '../../src/upstream-call.ts';
import type { Upstream } from '../../src/upstream/types.ts';

/** The bearer token of the default test key, and its scoped sibling. */
export const TEST_TOKEN = 'test-token-unrestricted';
export const DEFAULT_KEYS: ApiKeyConfig[] = [{ hash: sha256Hex(TEST_TOKEN), subject: 'tester', roles: ['viewer'] }];

export interface TestApp {
  app: FastifyInstance;
  url: string;
  /** fetch against the app with the test token unless `headers.authorization` is given. */
  get(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A fake Datadog call that keeps every request it is given (so a test can assert that nothing
 * was asked) and answers each with `answer`: an empty search and series by default.
 */
export function recordingUpstream(answer: (request: UpstreamRequest) => unknown = () => ({ data: [], meta: {}, series: [] })): { upstream: Upstream; sent: UpstreamRequest[] } {
  const sent: UpstreamRequest[] = [];
  const upstream: Upstream = {
    send: async (request) => {
      sent.push(request);
      return { body: answer(request), cache: 'miss', fetchedAt: 0 };
    },
  };
  return { upstream, sent };
}

/** The request deadline of test apps. */
export const TEST_REQUEST_TIMEOUT_MS = 10_000;

/** What a test may change about the app; `auth` is merged over the default (keys, quota, share). */
export type AppOverrides = Omit<Partial<ServerDeps>, 'auth'> & {
  auth?: Partial<ServerDeps['auth']>;
  upstream?: Upstream;
  clock?: Clock;
  logger?: Logger;
  telemetry?: Telemetry;
};

/**
 * The real server on a real socket, with the given parts and otherwise the settings of a
 * configuration that sets nothing (DEFAULT_SETTINGS), a shorter request deadline and the test
 * key. Given an `upstream` (a fake Datadog call) rather than an `engine`, every answer is
 * produced afresh through it, uncached, so each request shows up there.
 */
export async function startApp(overrides: AppOverrides = {}): Promise<TestApp> {
  const { upstream, auth, ...rest } = overrides;
  const clock = overrides.clock ?? systemClock;
  const defaults = settingsDeps(DEFAULT_SETTINGS, DEFAULT_KEYS);
  const app = await buildServer({
    version: '0.0.0-test',
    profileName: 'test',
    profiles: { test: 'datadog' },
    ...defaults,
    auth: { ...defaults.auth, ...auth },
    requestTimeoutMs: TEST_REQUEST_TIMEOUT_MS,
    engine: uncachedEngine(upstream ?? { send: () => Promise.reject(new AppError('INTERNAL', 'no upstream in this test')) }, clock, TEST_REQUEST_TIMEOUT_MS),
    clock,
    cursorSecret: Buffer.from('test-cursor-secret-test-cursor-secret'),
    readiness: () => ({ ready: true, secrets: { source: 'test', loaded_at: new Date(0).toISOString(), age_s: 0, refreshes: 0 }, keys: { status: 'ok', site: 'datadoghq.com' } }),
    ...rest,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const withAuth = (init: RequestInit = {}): RequestInit => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${TEST_TOKEN}`);
    return { ...init, headers };
  };
  return {
    app,
    url,
    get: (path, init) => fetch(url + path, withAuth(init)),
    post: (path, body, init) =>
      fetch(url + path, withAuth({ ...init, method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(init?.headers as Record<string, string>) } })),
    close: () => app.close(),
  };
}
