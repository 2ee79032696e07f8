import type { FastifyInstance } from 'fastify';
import { problemResponse, queryErrorResponses } from '../schemas/common.ts';
import {
  tinkrAnomaliesBody,
  tinkrAnomaliesResponse,
  tinkrLogsBody,
  tinkrLogsResponse,
  tinkrMetricsBody,
  tinkrMetricsResponse,
  tinkrSloBody,
  tinkrSloResponse,
  tinkrTracesBody,
  tinkrTracesResponse,
} from '../schemas/tinkr.ts';
import { tinkrAnomalies } from '../tinkr/anomalies.ts';
import { tinkrLogs, tinkrMetrics, tinkrTraces } from '../tinkr/operations.ts';
import { tinkrSlo } from '../tinkr/slo.ts';
import type { RouteDeps } from './deps.ts';
import { sendAnswer } from './send-answer.ts';
import { typed } from './typed.ts';

/** The routes the public Tinkr CLI calls (docs/http-api.md#tinkr-compatible-routes). */
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
      return sendAnswer(reply, deps, 'logs', await tinkrLogs(request.body, request.caller.scope, deps.query, request.upstream));
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
      return sendAnswer(reply, deps, 'metrics', await tinkrMetrics(request.body, request.caller.scope, deps.query, request.upstream));
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
      return sendAnswer(reply, deps, 'spans', await tinkrTraces(request.body, request.caller.scope, deps.query, request.upstream));
    },
  );

  typed(app).post(
    '/api/v1/anomalies',
    {
      schema: {
        tags: ['tinkr'],
        summary: 'Tinkr-compatible anomalies of a service: error count, error rate and p95 latency against a baseline',
        description: 'Rules and thresholds: docs/analytics.md. At most three upstream calls (two aggregates, and a log search when a log rule fires); `[]` for a quiet service.',
        security: [{ bearer: [] }],
        body: tinkrAnomaliesBody,
        response: { 200: tinkrAnomaliesResponse, ...errors },
      },
    },
    async (request, reply) => {
      return sendAnswer(reply, deps, 'logs_aggregate', await tinkrAnomalies(request.body, request.caller.scope, deps.query, request.upstream));
    },
  );

  typed(app).post(
    '/api/v1/slo',
    {
      schema: {
        tags: ['tinkr'],
        summary: "Tinkr-compatible SLO of a service from its logs, counted exactly with one aggregate call",
        security: [{ bearer: [] }],
        body: tinkrSloBody,
        response: { 200: tinkrSloResponse, ...errors },
      },
    },
    async (request, reply) => {
      return sendAnswer(reply, deps, 'logs_aggregate', await tinkrSlo(request.body, request.caller.scope, deps.query, request.upstream));
    },
  );
}
