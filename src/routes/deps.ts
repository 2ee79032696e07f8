import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { QueryDeps } from '../service/deps.ts';
import type { Telemetry } from '../telemetry.ts';
import type { CacheStatus, Family } from '../upstream/types.ts';

/** What the query routes need. */
export interface RouteDeps {
  query: QueryDeps;
  telemetry: Telemetry;
}

export type App = FastifyInstance['withTypeProvider'] extends () => infer T ? T : never;

export function typed(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}

/**
 * Marks how an answer was obtained: `x-tinkr-cache`, the cache metric, and for an answer not
 * fetched for this very request (hit, stale, coalesced) the standard `Age` header: seconds since
 * Datadog gave it (RFC 9111 §5.1).
 */
export function markCache(reply: FastifyReply, deps: RouteDeps, family: Family, answer: { cache: CacheStatus; fetchedAt: number }): void {
  deps.telemetry.cacheOutcome(family, answer.cache);
  reply.header('x-tinkr-cache', answer.cache);
  if (answer.cache === 'hit' || answer.cache === 'stale' || answer.cache === 'coalesced') {
    reply.header('age', String(Math.max(0, Math.floor((deps.query.clock.now() - answer.fetchedAt) / 1000))));
  }
}
