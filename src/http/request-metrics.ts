import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Telemetry } from '../telemetry/telemetry.ts';

/** The route label of a request that matched no route: raw URLs would be unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Reports every request to Telemetry: in flight from its first hook until the response closes,
 * then method, route pattern, status and duration. Registered before every other hook, so
 * requests refused early (shed, unauthenticated) are counted too. The end is taken from the
 * socket's `close`, which also fires when the caller hangs up before the answer (`onResponse`
 * would not), so the in-flight gauge cannot drift.
 */
export const requestMetrics = fp<{ telemetry: Telemetry }>(
  async (app: FastifyInstance, { telemetry }) => {
    app.addHook('onRequest', (request, reply, done) => {
      telemetry.httpRequestStarted();
      reply.raw.once('close', () => {
        telemetry.httpRequestEnded({
          method: request.method,
          route: request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE),
          status: reply.raw.writableFinished ? reply.statusCode : 'aborted',
          durationMs: reply.elapsedTime,
        });
      });
      done();
    });
  },
  { name: 'request-metrics' },
);
