import type { FastifyInstance } from 'fastify';
import { queryErrorResponses } from '../schemas/common.ts';
import { metricsQuerySchema, metricsResponseSchema } from '../schemas/routes.ts';
import { queryMetrics } from '../signals/metrics.ts';
import type { RouteDeps } from './deps.ts';
import { sendAnswer } from './send-answer.ts';
import { typed } from './typed.ts';

/** `GET /metrics` (docs/http-api.md#get-metrics). */
export function registerMetricsRoute(app: FastifyInstance, deps: RouteDeps): void {
  typed(app).get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Query a metric',
        description: 'Give either `query` (raw Datadog metric query) or `metric` (with optional `service`, `aggregation`, `group_by`).',
        security: [{ bearer: [] }],
        querystring: metricsQuerySchema,
        response: { 200: metricsResponseSchema, ...queryErrorResponses },
      },
    },
    async (request, reply) => {
      const answer = await queryMetrics(request.query, request.caller.scope, deps.query, request.upstream);
      return sendAnswer(reply, deps, 'metrics', answer);
    },
  );
}
