import type { FastifyInstance } from 'fastify';
import { problemResponse, queryErrorResponses } from '../schemas/common.ts';
import {
  tinkrLogsBody,
  tinkrLogsResponse,
  tinkrMetricsBody,
  tinkrMetricsResponse,
  tinkrTracesBody,
  tinkrTracesResponse,
} from '../schemas/tinkr.ts';
import { tinkrLogs, tinkrMetrics, tinkrTraces } from '../service/tinkr.ts';
import { markCache, typed, type RouteDeps } from './deps.ts';

/** The routes the public Tinkr CLI calls (DESIGN §4.5). */
export function registerTinkrRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const errors = { ...queryErrorResponses, 413: problemResponse('`PAYLOAD_TOO_LARGE`: the body is over 64 KiB') };

  typed(app).post(
    '/api/v1/logs',
    {
      schema: {
        tags: ['tinkr'],
        summary: 'Tinkr-compatible log search (newest first)',
        security: [{ bearer: [] }],
        body: tinkrLogsBody,
        response: { 200: tinkrLogsResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { entries, ...answer } = await tinkrLogs(request.body, request.caller.scope, deps.query, request.upstream);
      markCache(reply, deps, 'logs', answer);
      return { entries };
    },
  );

  typed(app).post(
    '/api/v1/metrics',
    {
      schema: {
        tags: ['tinkr'],
        summary: 'Tinkr-compatible metric points',
        security: [{ bearer: [] }],
        body: tinkrMetricsBody,
        response: { 200: tinkrMetricsResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { points, ...answer } = await tinkrMetrics(request.body, request.caller.scope, deps.query, request.upstream);
      markCache(reply, deps, 'metrics', answer);
      return { points };
    },
  );

  typed(app).post(
    '/api/v1/traces',
    {
      schema: {
        tags: ['tinkr'],
        summary: 'Tinkr-compatible recent traces of a service, with their spans',
        security: [{ bearer: [] }],
        body: tinkrTracesBody,
        response: { 200: tinkrTracesResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { traces, ...answer } = await tinkrTraces(request.body, request.caller.scope, deps.query, request.upstream);
      markCache(reply, deps, 'spans', answer);
      return { traces };
    },
  );
}
