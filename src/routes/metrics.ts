import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors.ts';
import { queryErrorResponses } from '../schemas/common.ts';
import { metricsQuerySchema, metricsResponseSchema } from '../schemas/routes.ts';
import { queryMetrics, type MetricsParams } from '../signals/metrics.ts';
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
      const q = request.query;
      const time = { from: q.from, to: q.to, since: q.since };
      let params: MetricsParams;
      if (q.query !== undefined && q.metric !== undefined) {
        throw badRequest('query', 'give either query or metric, not both');
      } else if (q.query !== undefined) {
        if (q.service !== undefined || q.group_by !== undefined) {
          throw badRequest('query', 'service and group_by build a query from metric; write them into the raw query instead');
        }
        params = { kind: 'raw', query: q.query, time };
      } else if (q.metric !== undefined) {
        params = { kind: 'built', metric: q.metric, service: q.service, aggregation: q.aggregation, groupBy: q.group_by ?? [], time };
      } else {
        throw badRequest('metric', 'give either metric or query');
      }
      const answer = await queryMetrics(params, request.caller.scope, deps.query, request.upstream);
      return sendAnswer(reply, deps, 'metrics', answer);
    },
  );
}
