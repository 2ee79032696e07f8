import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { bearerToken, type Caller, type Keyring } from '../auth/keyring.ts';
import type { Permission } from '../auth/roles.ts';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { CallContext } from '../upstream/types.ts';
import { CallerGone } from './caller-gone.ts';
import { sendProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a bearer token (health, docs, spec). */
    public?: boolean;
    /** What the caller's roles must allow; every authenticated route reads unless it says otherwise. */
    permission?: Permission;
  }
  interface FastifyRequest {
    caller: Caller;
    /** The request's deadline, disconnect signal and upstream counters. */
    upstream: CallContext;
  }
}

export interface RequestContextOptions {
  keyring: Keyring;
  authMode: 'keys' | 'none';
  /** The caller of every request when authMode is "none". */
  anonymous: Caller;
  clock: Clock;
  requestTimeoutMs: number;
}

/** Reason given to upstream calls cut off by the request deadline. */
export class DeadlineExceeded extends Error {
  constructor() {
    super('request deadline exceeded');
    this.name = 'DeadlineExceeded';
  }
}

/**
 * A request's CallContext. Its deadline machinery (an AbortSignal that fires at
 * `request_timeout_ms` or when the caller disconnects, so no upstream work outlives its use) is
 * built the first time something reads `signal`, which only a request going upstream does: a
 * cache hit costs no controller, timer or listener.
 */
class RequestCall implements CallContext {
  readonly deadline: number;
  readonly noCache: boolean;
  readonly partition: string;
  readonly stats = { upstreamCalls: 0 };
  /** The key spends the upstream calls its request makes, within its share. */
  readonly caller: Caller;
  readonly #reply: FastifyReply;
  readonly #clock: Clock;
  #signal: AbortSignal | undefined;

  constructor(reply: FastifyReply, options: Pick<RequestContextOptions, 'clock' | 'requestTimeoutMs'>, noCache: boolean, caller: Caller) {
    this.#reply = reply;
    this.#clock = options.clock;
    this.deadline = options.clock.now() + options.requestTimeoutMs;
    this.noCache = noCache;
    this.partition = caller.partition;
    this.caller = caller;
  }

  get signal(): AbortSignal {
    return (this.#signal ??= this.#arm());
  }

  #arm(): AbortSignal {
    const controller = new AbortController();
    const raw = this.#reply.raw;
    const cancel = this.#clock.after(this.deadline - this.#clock.now(), () => controller.abort(new DeadlineExceeded()));
    const gone = (): void => {
      if (!raw.writableFinished) controller.abort(new CallerGone());
      cancel();
    };
    // 'close' comes after the answer is sent, or earlier when the caller hangs up (perhaps
    // already: then the work is cancelled at once).
    if (raw.closed) gone();
    else raw.once('close', gone);
    return controller.signal;
  }
}

/** Authenticates every non-public request and gives it a CallContext (see RequestCall). */
export const requestContext = fp<RequestContextOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('caller', null as unknown as Caller);
    app.decorateRequest('upstream', null as unknown as CallContext);

    app.addHook('onRequest', async (request, reply) => {
      if (isPublic(request)) return;
      const caller = authenticate(request, options);
      if (!caller) {
        return sendProblem(reply, new AppError('UNAUTHENTICATED', 'send a valid API key as "Authorization: Bearer <token>"'));
      }
      const permission = request.routeOptions.config?.permission ?? 'read';
      if (!caller.permissions.has(permission)) {
        const roles = caller.roles.length > 0 ? caller.roles.join(', ') : 'none';
        return sendProblem(reply, new AppError('FORBIDDEN', `this key's roles (${roles}) do not allow ${permission}; it needs viewer, oncall or sre-lead`));
      }
      request.caller = caller;
      request.upstream = new RequestCall(reply, options, /\bno-cache\b/i.test(request.headers['cache-control'] ?? ''), caller);
    });
  },
  { name: 'request-context' },
);

function isPublic(request: FastifyRequest): boolean {
  if (request.routeOptions.config?.public) return true;
  // Unknown routes answer 404 to anyone; the docs UI's own routes carry no config of ours.
  const url = request.routeOptions.url;
  return url === undefined || url === '/docs' || url.startsWith('/docs/');
}

function authenticate(request: FastifyRequest, options: RequestContextOptions): Caller | undefined {
  if (options.authMode === 'none') return options.anonymous;
  const token = bearerToken(request.headers.authorization);
  return token ? options.keyring.lookup(token) : undefined;
}
