import type { FastifyInstance } from 'fastify';
import { aggregateResponseSchema, logsAggregateQuerySchema, tracesAggregateQuerySchema } from '../schemas/aggregate.ts';
import { queryErrorResponses } from '../schemas/common.ts';
import { aggregateLogs, aggregateSpans } from '../signals/aggregate.ts';
import type { RouteDeps } from './deps.ts';
import { sendAnswer } from './send-answer.ts';
import { typed } from './typed.ts';

const DESCRIPTION =
  'One upstream aggregate call per panel. `value` is the compute over the whole range; with `interval`, `points` has every bucket of the range (0 for an empty count, null for other computes). Groups are ordered by `value`, largest first.';

/** `GET /logs/aggregate` and `GET /traces/aggregate` (docs/analytics.md#get-logsaggregate-and-get-tracesaggregate). */
export function registerAggregateRoutes(app: FastifyInstance, deps: RouteDeps): void {
  typed(app).get(
    '/logs/aggregate',
    {
      schema: {
        tags: ['logs'],
        summary: 'Aggregate logs: counts over time, top lists, measures',
        description: DESCRIPTION,
        security: [{ bearer: [] }],
        querystring: logsAggregateQuerySchema,
        response: { 200: aggregateResponseSchema, ...queryErrorResponses },
      },
    },
    async (request, reply) => {
      const answer = await aggregateLogs(request.query, request.caller.scope, deps.query, request.upstream);
      return sendAnswer(reply, deps, 'logs_aggregate', answer);
    },
  );

  typed(app).get(
    '/traces/aggregate',
    {
      schema: {
        tags: ['traces'],
        summary: 'Aggregate spans: counts over time, top lists, latency percentiles',
        description: DESCRIPTION,
        security: [{ bearer: [] }],
        querystring: tracesAggregateQuerySchema,
        response: { 200: aggregateResponseSchema, ...queryErrorResponses },
      },
    },
    async (request, reply) => {
      const answer = await aggregateSpans(request.query, request.caller.scope, deps.query, request.upstream);
      return sendAnswer(reply, deps, 'spans_aggregate', answer);
    },
  );
}
