import type { FastifyReply } from 'fastify';
import type { Family } from '../upstream-call.ts';
import type { Answer } from '../upstream/answer.ts';
import type { RouteDeps } from './deps.ts';

/** Content type of every finished answer (what Fastify would set for a JSON body). */
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Sends a finished answer as its bytes, and says how it was obtained: `x-tinkr-cache`, the
 * cache metric, and for an answer not fetched for this very request (hit, stale, coalesced)
 * the standard `Age` header: seconds since Datadog gave it (RFC 9111 §5.1).
 */
export function sendAnswer(reply: FastifyReply, deps: RouteDeps, family: Family, answer: Answer): FastifyReply {
  deps.telemetry.cacheOutcome(family, answer.cache);
  reply.header('x-tinkr-cache', answer.cache);
  if (answer.cache === 'hit' || answer.cache === 'stale' || answer.cache === 'coalesced') {
    reply.header('age', String(Math.max(0, Math.floor((deps.clock.now() - answer.fetchedAt) / 1000))));
  }
  return reply.header('content-type', JSON_TYPE).send(answer.bytes);
}
