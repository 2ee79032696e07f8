import type { FastifyInstance } from 'fastify';
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

/** Marks how an answer was obtained: the `x-tinkr-cache` header and the cache metric. */
export function cacheHeader(deps: RouteDeps, family: Family, status: CacheStatus): ['x-tinkr-cache', CacheStatus] {
  deps.telemetry.cacheOutcome(family, status);
  return ['x-tinkr-cache', status];
}
