import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, badRequest, ERROR_CODES, type FieldError } from '../errors.ts';
import { callerGone } from './caller-gone.ts';

/** RFC 9457 problem details as sent (docs/http-api.md#errors). */
export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  code: keyof typeof ERROR_CODES;
  detail: string;
  request_id: string;
  errors?: FieldError[];
}

/** The problem body an AppError stands for. */
export function problemOf(error: AppError, requestId: string): Problem {
  const problem: Problem = {
    type: 'about:blank',
    title: ERROR_CODES[error.code].title,
    status: error.status,
    code: error.code,
    detail: error.message,
    request_id: requestId,
  };
  if (error.errors && error.errors.length > 0) problem.errors = error.errors;
  return problem;
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  const problem = problemOf(error, String(reply.request.id));
  if (error.retryAfterS !== undefined) reply.header('retry-after', String(Math.ceil(error.retryAfterS)));
  if (error.code === 'UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer');
  return reply.code(error.status).type('application/problem+json').send(problem);
}

/**
 * Turns anything thrown into an AppError. Fastify's own 4xx (bad JSON, body too large, bad
 * content type) keep their meaning; anything unexpected becomes a generic INTERNAL whose cause
 * is logged but never sent.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext;
    const errors = error.validation.map((issue) => {
      const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
      const field = where === 'body' ? ['body', path].filter(Boolean).join('.') : path || (where ?? 'request');
      return { path: field, message: issue.message ?? 'invalid' };
    });
    return new AppError('BAD_REQUEST', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'the request body is larger than the server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('BAD_REQUEST', 'the request body must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('BAD_REQUEST', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('BAD_REQUEST', 'the request body is not valid JSON');
  }
  if (fastifyError.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', 'the request is larger than the server accepts');
  if (error instanceof SyntaxError && (error as { statusCode?: number }).statusCode === 400) {
    return new AppError('BAD_REQUEST', 'the request body is not valid JSON');
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new AppError(fastifyError.statusCode === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', 'the request could not be read');
  }
  return new AppError('INTERNAL', 'an internal error occurred; the request id identifies it in the server log', { cause: error });
}

/**
 * Fastify's `frameworkErrors`: the router refused the URL before any route ran (a path segment
 * longer than the router's limit, bad percent-encoding). Answered in the problem format too.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  const appError =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? badRequest('path', 'a path segment is longer than the server accepts')
      : error.code === 'FST_ERR_BAD_URL'
        ? badRequest('path', 'the URL is not valid (bad percent-encoding)')
        : toAppError(error);
  sendProblem(reply, appError);
}

/** The one error handler and the not-found handler. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (callerGone(request)) {
      // Not a fault of the upstream: the request's log line says the caller hung up (499).
      request.log.debug({ code: appError.code }, 'the caller went away before the answer');
    } else if (appError.code === 'INTERNAL') {
      request.log.error({ err: appError.cause }, 'unexpected error');
    } else if (appError.cause !== undefined) {
      request.log.warn({ code: appError.code, cause: describeCause(appError.cause) }, appError.message);
    }
    return sendProblem(reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AppError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`)),
  );
}

/** A cause worth logging without its stack or anything attached to it. */
function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${cause.name}${typeof code === 'string' ? ` ${code}` : ''}: ${cause.message}`.slice(0, 300);
  }
  return String(cause).slice(0, 300);
}
