import type { FastifyInstance } from 'fastify';
import { queryErrorResponses } from '../schemas/common.ts';
import { logsQuerySchema, logsResponseSchema } from '../schemas/routes.ts';
import { searchLogs } from '../signals/logs.ts';
import type { RouteDeps } from './deps.ts';
import { sendAnswer } from './send-answer.ts';
import { typed } from './typed.ts';

/** `GET /logs` (docs/http-api.md#get-logs). */
export function registerLogsRoute(app: FastifyInstance, deps: RouteDeps): void {
  typed(app).get(
    '/logs',
    {
      schema: {
        tags: ['logs'],
        summary: 'Search logs',
        security: [{ bearer: [] }],
        querystring: logsQuerySchema,
        response: { 200: logsResponseSchema, ...queryErrorResponses },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const answer = await searchLogs(
        {
          services: q.service ?? [],
          levels: q.level ?? [],
          query: q.query,
          time: { from: q.from, to: q.to, since: q.since },
          limit: q.limit,
          sort: q.sort,
          storageTier: q.storage_tier,
          indexes: q.indexes,
          cursor: q.cursor,
        },
        request.caller.scope,
        deps.query,
        request.upstream,
      );
      return sendAnswer(reply, deps, 'logs', answer);
    },
  );
}
