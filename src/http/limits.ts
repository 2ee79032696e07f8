import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors.ts';
import { problemOf, sendProblem } from './problem.ts';

/**
 * Request limits at the edge, each answered with a 400 BAD_REQUEST problem naming what is too
 * large, too slow or not allowed (the body limit, 413, lives in server.ts). HTTP has 414 and 431
 * for long URLs and headers, but the error table of docs/http-api.md#errors is the public contract and has
 * neither; clients branch on `code`, so these are BAD_REQUEST with `errors[].path` =
 * `querystring` / `headers`.
 */

/**
 * Longest query string, in bytes as sent (percent-encoded). The longest legitimate one is a
 * 4,000-character `query` (encoded up to three times longer for punctuation) plus the other
 * parameters; 16 KiB leaves room for that and nothing pathological.
 */
export const MAX_QUERY_STRING_BYTES = 16 * 1024;
/**
 * Largest request head (request line and headers together, as Node counts it): the longest
 * query string plus Node's own default of 16 KiB for the headers, which a bearer token and the
 * usual browser headers fill to a few KiB at most.
 */
export const MAX_HEADER_BYTES = MAX_QUERY_STRING_BYTES + 16 * 1024;

/**
 * Default `[server] body_timeout_ms`: the whole request, head and body, must have arrived this
 * long after its first byte. The largest body is 64 KiB, which even a 100 kbit/s link sends in
 * about 5 s; a client still sending after 10 s is broken or is holding a connection on purpose
 * (one byte every few seconds keeps an unbounded server's socket forever).
 */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/**
 * Longest wait for the request line and headers (at most MAX_HEADER_BYTES, usually one packet).
 * Node requires it not to exceed the request timeout, so the smaller of the two applies.
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 5_000;
/**
 * How long an idle keep-alive connection is kept open. Longer than the 60 s idle timeout of
 * AWS load balancers and nginx's upstream keep-alive, so the proxy, not the server, closes an
 * idle connection first (the other way round, a request racing the close fails with a 502).
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 72_000;
/**
 * How often Node looks for requests past their deadline (its default is 30 s, which would let a
 * 10 s deadline run to 40 s). A quarter of the deadline, at most a second: the check walks the
 * open connections, which is cheap at this rate.
 */
const MAX_CONNECTIONS_CHECK_INTERVAL_MS = 1_000;

/** The slow-client timeouts of the HTTP server for one `body_timeout_ms`. */
export function connectionTimeouts(bodyTimeoutMs: number): {
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    requestTimeout: bodyTimeoutMs,
    headersTimeout: Math.min(DEFAULT_HEADERS_TIMEOUT_MS, bodyTimeoutMs),
    keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: Math.max(10, Math.min(MAX_CONNECTIONS_CHECK_INTERVAL_MS, Math.floor(bodyTimeoutMs / 4))),
  };
}

/**
 * Sockets whose request the server cut off for arriving too slowly, so the request's log line
 * can say so instead of reporting a caller who hung up (http/access-log.ts).
 */
export const timedOutSockets = new WeakSet<Socket>();

/** Incoming `x-request-id` values are kept when they look like ids, else replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of a request: the caller's `x-request-id` when it looks like one, else a new one. */
export function requestIdOf(raw: IncomingMessage): string {
  const given = raw.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * An `Expect` header other than `100-continue`: Node answers a bare 417 on its own, before any
 * route, unless the server listens for `checkExpectation`. Answered here as every other refusal
 * is: a 400 BAD_REQUEST problem on `headers.expect`, with an `x-request-id`. Not 417: the table
 * of docs/http-api.md#errors is the contract, clients branch on `code`, and BAD_REQUEST is a 400 there (as
 * the 414 and 431 cases above already are). The connection is closed: the client may be about
 * to send a body nobody will read.
 */
export function answerExpectations(app: FastifyInstance): void {
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const requestId = requestIdOf(request);
    const body = JSON.stringify(
      problemOf(badRequest('headers.expect', 'expect must be 100-continue or absent; this server meets no other expectation'), requestId),
    );
    response.writeHead(400, {
      'content-type': 'application/problem+json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
      connection: 'close',
    });
    response.end(body);
    app.log.info({ req_id: requestId, method: request.method, status: 400, refused: 'expect' }, 'request');
  });
}

/** Refuses an over-long query string before anything else looks at the request. */
export function registerQueryStringLimit(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '';
    const mark = url.indexOf('?');
    if (mark >= 0 && url.length - mark - 1 > MAX_QUERY_STRING_BYTES) {
      return sendProblem(reply, badRequest('querystring', `the query string is longer than ${MAX_QUERY_STRING_BYTES} bytes`));
    }
  });
}

/**
 * Fastify's `clientErrorHandler`: Node's parser refused the request (head larger than
 * MAX_HEADER_BYTES, not HTTP at all), or the request did not fully arrive within the body
 * timeout, possibly after a route was already chosen and is waiting for the body. The answer is
 * written on the socket in the problem format, and the connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  if (timedOut) timedOutSockets.add(socket);
  const [path, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? ['headers', `the request line and headers are larger than ${MAX_HEADER_BYTES} bytes`]
      : timedOut
        ? ['request', 'the request did not fully arrive in time (see server.body_timeout_ms); the connection is closed']
        : ['request', 'the request is not valid HTTP/1.1'];
  this.log.debug({ code: error.code }, 'client error');
  // An answer already started on this connection (a refusal sent before the body was read) must
  // not be followed by a second one: the client would read it as the start of the next answer.
  const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !answering?.headersSent) {
    const requestId = randomUUID();
    const body = JSON.stringify(problemOf(badRequest(path, message), requestId));
    // end() flushes the answer, then closes; Node's own handler does the same.
    socket.end(
      'HTTP/1.1 400 Bad Request\r\n' +
        'content-type: application/problem+json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
    return;
  }
  socket.destroy();
}
