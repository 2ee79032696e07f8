import type { FastifyRequest } from 'fastify';

/** Reason given to upstream calls cut off because the caller hung up before the answer. */
export class CallerGone extends Error {
  constructor() {
    super('the caller went away');
    this.name = 'CallerGone';
  }
}

/**
 * True when this request's caller hung up: its answer can no longer be delivered, and whatever
 * failed after that (an upstream call cut short) is not worth a warning.
 */
export function callerGone(request: FastifyRequest): boolean {
  return request.upstream?.signal.reason instanceof CallerGone;
}
