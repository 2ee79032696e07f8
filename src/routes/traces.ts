import type { FastifyInstance } from 'fastify';
import { problemResponse, queryErrorResponses } from '../schemas/common.ts';
import { traceParamsSchema, traceQuerySchema, traceResponseSchema, tracesQuerySchema, tracesResponseSchema } from '../schemas/routes.ts';
import { getTrace, searchSpans } from '../signals/traces.ts';
import type { RouteDeps } from './deps.ts';
import { sendAnswer } from './send-answer.ts';
import { typed } from './typed.ts';

/** `GET /traces` and `GET /traces/{trace_id}` (docs/http-api.md#get-traces-and-get-tracestrace_id). */
export function registerTracesRoutes(app: FastifyInstance, deps: RouteDeps): void {
  typed(app).get(
    '/traces',
    {
      schema: {
        tags: ['traces'],
        summary: 'Search spans',
        security: [{ bearer: [] }],
        querystring: tracesQuerySchema,
        response: { 200: tracesResponseSchema, ...queryErrorResponses },
      },
    },
    async (request, reply) => {
      const answer = await searchSpans(request.query, request.caller.scope, deps.query, request.upstream);
      return sendAnswer(reply, deps, 'spans', answer);
    },
  );

  typed(app).get(
    '/traces/:trace_id',
    {
      schema: {
        tags: ['traces'],
        summary: 'Every span of one trace',
        description: '`from`/`to`/`since` default to the last 24 h. 404 when no span of the trace is found.',
        security: [{ bearer: [] }],
        params: traceParamsSchema,
        querystring: traceQuerySchema,
        response: { 200: traceResponseSchema, 404: problemResponse('`NOT_FOUND`: no span of this trace in the range'), ...queryErrorResponses },
      },
    },
    async (request, reply) => {
      const answer = await getTrace(request.params.trace_id, request.query.time, request.caller.scope, deps.query, request.upstream);
      return sendAnswer(reply, deps, 'spans', answer);
    },
  );
}
