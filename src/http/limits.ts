import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors.ts';
import { problemOf, sendProblem } from './problem.ts';

/**
 * Request limits at the edge, each answered with a 400 BAD_REQUEST problem naming what is too
 * large (the body limit, 413, lives in server.ts). HTTP has 414 and 431 for long URLs and
 * headers, but DESIGN §4.6's error table is the public contract and has neither; clients branch
 * on `code`, so these are BAD_REQUEST with `errors[].path` = `querystring` / `headers`.
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
 * Fastify's `clientErrorHandler`: Node's parser refused the request before Fastify saw it (head
 * larger than MAX_HEADER_BYTES, not HTTP at all, too slow to arrive). The answer is written on
 * the socket in the problem format, and the connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [path, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? ['headers', `the request line and headers are larger than ${MAX_HEADER_BYTES} bytes`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['request', 'the request did not arrive in time']
        : ['request', 'the request is not valid HTTP/1.1'];
  this.log.debug({ code: error.code }, 'client error');
  if (socket.writable) {
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
