import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { accessLogger } from '../logging.ts';
import { timedOutSockets } from './limits.ts';
import { UNMATCHED_ROUTE } from './request-metrics.ts';

/**
 * The status logged for a request whose caller hung up before the answer was sent: nginx's
 * "client closed request", which log queries and dashboards already know. Never sent on the wire.
 */
export const CLIENT_CLOSED_STATUS = 499;

/**
 * One `request` log line per request, however it ends. The line is written when the response
 * closes, which also happens when the caller hangs up first (`onResponse` would then never run)
 * or when the server cuts off a request that arrives too slowly. Those two carry `aborted`:
 * `client_closed` (status 499 when nothing was sent yet, else the status sent, as when a viewer
 * leaves a live tail) or `request_timeout` (status 400, the problem answer written on the
 * socket). Written through the server's access logger (logging.ts: exact-path redaction only,
 * a few µs a line against tens with the wildcard safety net the other lines keep), with
 * `req_id` as a field of its own; nothing is written without a logger.
 */
export const accessLog = fp<{ logger?: Logger | undefined }>(
  async (app: FastifyInstance, options) => {
    if (!options.logger) return;
    const access = accessLogger(options.logger);
    app.addHook('onRequest', (request, reply, done) => {
      reply.raw.once('close', () => {
        const finished = reply.raw.writableFinished;
        const timedOut = !finished && timedOutSockets.has(request.raw.socket);
        const aborted = finished ? undefined : timedOut ? 'request_timeout' : 'client_closed';
        // An answer that had started (a live tail the viewer left) keeps the status it sent.
        const status = finished || reply.raw.headersSent ? reply.statusCode : timedOut ? 400 : CLIENT_CLOSED_STATUS;
        access.info(
          {
            req_id: request.id,
            method: request.method,
            route: request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE),
            status,
            ...(aborted ? { aborted } : {}),
            duration_ms: Math.round(reply.elapsedTime * 10) / 10,
            upstream_calls: request.upstream?.stats.upstreamCalls ?? 0,
            cache: reply.getHeader('x-tinkr-cache'),
            subject: request.caller?.subject,
          },
          'request',
        );
      });
      done();
    });
  },
  { name: 'access-log' },
);
