import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { sendProblem } from '../http/problem.ts';
import { problemResponse } from '../schemas/common.ts';
import { tinkrHealthResponse } from '../schemas/tinkr.ts';
import { typed } from './typed.ts';

/** What `/readyz` reports: the secrets part comes from the credential store, the keys part from the key check. */
export interface Readiness {
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
  /** The shared store (Redis): sharing (`ok`), serving on this replica's own state (`degraded`), or none configured. */
  store?: 'ok' | 'degraded' | 'none';
  secrets: { source: string; loaded_at: string; age_s: number; refreshes: number; last_refresh_at?: string; last_error?: string };
  /** Whether Datadog accepts the keys (boot/key-check.ts); ready needs `ok`. */
  keys: { status: 'unchecked' | 'ok' | 'rejected' | 'unreachable'; checked_at?: string; site: string };
}

export interface HealthDeps {
  version: string;
  profileName: string;
  profiles: Record<string, string>;
  readiness: () => Readiness;
}

const readyResponse = z
  .object({
    status: z.literal('ready'),
    store: z.enum(['ok', 'degraded', 'none']).describe('The shared store (Redis): ok, degraded (this replica serves on its own state; still ready), or none configured'),
    secrets: z.object({
      source: z.string(),
      loaded_at: z.string(),
      age_s: z.number(),
      refreshes: z.number().int(),
      last_refresh_at: z.string().optional(),
      last_error: z.string().optional(),
    }),
    keys: z.object({
      status: z.literal('ok'),
      checked_at: z.string().optional(),
      site: z.string(),
    }),
  })
  .describe('Ready to serve: Datadog accepts the keys (the site, when they were checked) and the keys are loaded (their source, age and refreshes)');

/** `/health` (Tinkr's), `/healthz` (alive) and `/readyz` (able to serve). Public, token ignored. */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  const api = typed(app);
  api.get(
    '/health',
    { config: { public: true }, schema: { tags: ['health'], summary: 'Tinkr-compatible health', response: { 200: tinkrHealthResponse } } },
    async () => ({ status: 'ok' as const, version: deps.version, active_profile: deps.profileName, profiles: deps.profiles }),
  );
  api.get(
    '/healthz',
    // Liveness answers even under load shedding and while draining: a restart would not help.
    { config: { public: true, alwaysServe: true }, schema: { tags: ['health'], summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }).describe('The process serves HTTP') } } },
    async () => ({ status: 'ok' as const }),
  );
  api.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Readiness: Datadog accepts the keys, and the state and age of the keys',
        response: { 200: readyResponse, 503: problemResponse('`NOT_READY`: Datadog has not accepted the keys yet, or the server is overloaded or shutting down (`Retry-After`)') },
      },
    },
    async (_request, reply) => {
      const state = deps.readiness();
      if (!state.ready) return sendProblem(reply, new AppError('NOT_READY', state.reason ?? 'not ready'));
      return { status: 'ready' as const, store: state.store ?? 'none', secrets: state.secrets, keys: { ...state.keys, status: 'ok' as const } };
    },
  );
}
