import type { FastifyInstance } from 'fastify';
import { aggregateResponseSchema, logsAggregateQuerySchema, parseCompute, tracesAggregateQuerySchema } from '../schemas/aggregate.ts';
import { queryErrorResponses } from '../schemas/common.ts';
import { aggregateLogs, aggregateSpans, type PanelParams } from '../signals/aggregate.ts';
import { parseDuration } from '../time/duration.ts';
import type { RouteDeps } from './deps.ts';
import { sendAnswer } from './send-answer.ts';
import { typed } from './typed.ts';

/** The panel parameters both routes share, as the service takes them (the schema checked each). */
function panelOf(q: { compute: string; group_by?: string[] | undefined; limit: number; interval?: string | undefined; from?: string | undefined; to?: string | undefined; since?: string | undefined }): PanelParams {
  return {
    compute: parseCompute(q.compute)!,
    computeText: q.compute,
    groupBy: q.group_by ?? [],
    limit: q.limit,
    intervalMs: q.interval === undefined ? undefined : parseDuration(q.interval, ['s', 'm', 'h', 'd']),
    time: { from: q.from, to: q.to, since: q.since },
  };
}

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
      const q = request.query;
      const answer = await aggregateLogs(
        { ...panelOf(q), services: q.service ?? [], levels: q.level ?? [], query: q.query, storageTier: q.storage_tier, indexes: q.indexes },
        request.caller.scope,
        deps.query,
        request.upstream,
      );
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
      const q = request.query;
      const answer = await aggregateSpans(
        { ...panelOf(q), services: q.service ?? [], query: q.query, env: q.env, operation: q.operation, resource: q.resource, status: q.status },
        request.caller.scope,
        deps.query,
        request.upstream,
      );
      return sendAnswer(reply, deps, 'spans_aggregate', answer);
    },
  );
}
