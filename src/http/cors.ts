import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/**
 * CORS for the configured origins only (`[server] cors_origins`), compared exactly. With no
 * origins nothing is registered, so no response carries any `Access-Control-*` header. The
 * preflight is answered before authentication (a browser sends it without the token). A refused
 * origin gets an answer without `Access-Control-Allow-Origin`, which the browser enforces.
 */

/** Headers a browser script may read from our answers. */
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'x-tinkr-cache', 'age', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
/**
 * Headers a browser script may send: the token, `no-cache`, JSON bodies, its own request id, and
 * `Last-Event-ID` (a fetch-based reader of GET /logs/tail resuming after a disconnect).
 */
export const CORS_ALLOWED_HEADERS = ['authorization', 'cache-control', 'content-type', 'x-request-id', 'last-event-id'];
/**
 * How long a browser may reuse a preflight answer. Ten minutes spares a dashboard a preflight
 * per panel refresh, yet removing an origin takes effect soon; browsers cap it at 2 h anyway.
 */
export const CORS_MAX_AGE_S = 600;

export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  // The plugin's preflight route (`OPTIONS *`) carries no token; a preflight it does not answer
  // (a refused origin) falls through to a 404, not a 401.
  app.addHook('onRoute', (route) => {
    if (route.method === 'OPTIONS' && route.url === '*') route.config = { ...route.config, public: true };
  });
  await app.register(fastifyCors, {
    // A refused or absent Origin gets no CORS header at all, not even the exposed-headers list.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: ['GET', 'POST'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    // Bearer tokens, not cookies: a browser never needs to send credentials for us.
    credentials: false,
    maxAge: CORS_MAX_AGE_S,
    // An OPTIONS without the preflight headers gets the same empty 204, not a text/plain 400.
    strictPreflight: false,
  });
}
