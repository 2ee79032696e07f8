import type { FastifyInstance, FastifyReply } from 'fastify';
import { badRequest } from '../errors.ts';
import { queryErrorResponses } from '../schemas/common.ts';
import { tailEventStream, tailQuerySchema } from '../schemas/tail.ts';
import { composeLogsQuery } from '../signals/logs.ts';
import type { TailHub } from '../tail/hub.ts';
import { isEventId, MAX_EVENT_ID_LENGTH } from '../tail/sse.ts';
import { typed } from './typed.ts';

/**
 * `GET /logs/tail` (docs/live-tail.md): a live tail as server-sent events. Everything that can refuse
 * (parameters, scope, bounds, a query Datadog rejects) is decided before the first byte, so a
 * refusal is an ordinary problem+json answer; once streaming, trouble arrives as `event: warning`.
 * The request deadline does not apply: the stream's polls carry their own.
 */
export function registerTailRoute(app: FastifyInstance, deps: { hub: TailHub }): void {
  // Ended before the server waits for in-flight requests, so the drain is not held by streams.
  app.addHook('preClose', async () => deps.hub.close());

  typed(app).get(
    '/logs/tail',
    {
      // A HEAD would start (and pay for) a stream only to drop it.
      exposeHeadRoute: false,
      schema: {
        tags: ['logs'],
        summary: 'Live tail of logs (server-sent events)',
        description:
          'Every new log matching the filters, as it reaches Datadog. All subscribers of the same scope and query share one upstream poll (every 2 s or slower, as the budget allows). Send `Last-Event-ID` to resume after a disconnect. See docs/live-tail.md.',
        security: [{ bearer: [] }],
        querystring: tailQuerySchema,
        response: {
          200: { description: 'Server-sent events: the matching logs as they reach Datadog', content: { 'text/event-stream': { schema: tailEventStream } } },
          ...queryErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const { filter, backlog } = request.query;
      // The scope rules of GET /logs, word for word: a foreign service is a 403 here, before any stream.
      const query = composeLogsQuery(filter, request.caller.scope);
      const lastEventId = readLastEventId(request.headers['last-event-id']);
      let gone = false;
      reply.raw.once('close', () => (gone = true));
      const subscription = await deps.hub.subscribe({ partition: request.caller.partition, query, backlog, lastEventId, caller: request.caller });
      if (gone) subscription.close();
      else reply.raw.once('close', () => subscription.close());
      // The body is a stream of frames, not the string the response schema documents.
      return (reply as FastifyReply)
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-store')
        // Proxies such as nginx buffer responses unless told not to; a tail must flow.
        .header('x-accel-buffering', 'no')
        // A stream ends only for good (lifetime, shutdown, a viewer cut off) and its viewer
        // reconnects anyway: the socket closes with it instead of idling as keep-alive, so an
        // ended tail holds nothing open and a drain never waits on one.
        .header('connection', 'close')
        .send(subscription.body);
    },
  );
}

function readLastEventId(header: string | string[] | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  if (typeof header !== 'string' || !isEventId(header)) {
    throw badRequest('last-event-id', `expected the id of an event this stream sent (at most ${MAX_EVENT_ID_LENGTH} characters)`);
  }
  return header;
}
