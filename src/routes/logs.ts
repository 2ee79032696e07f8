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
      const answer = await searchLogs(request.query, request.caller.scope, deps.query, request.upstream);
      return sendAnswer(reply, deps, 'logs', answer);
    },
  );
}
