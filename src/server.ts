import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { anonymousCaller, createKeyring } from './auth/keyring.ts';
import type { Clock } from './clock.ts';
import type { ApiKeyConfig, QuotaConfig } from './config/schema.ts';
import type { Settings } from './config/settings.ts';
import { accessLog } from './http/access-log.ts';
import { docsUiOptions, withoutSafeIntegerBounds } from './http/api-docs.ts';
import { registerCors } from './http/cors.ts';
import { answerExpectations, clientErrorHandler, connectionTimeouts, MAX_HEADER_BYTES, registerQueryStringLimit, requestIdOf } from './http/limits.ts';
import { loadShedding, type LoadSheddingOptions } from './http/load-shedding.ts';
import { frameworkErrorHandler, registerProblemHandlers } from './http/problem.ts';
import { quotas, type SharedQuotaCounter } from './http/quota.ts';
import { requestContext } from './http/request-context.ts';
import { requestMetrics } from './http/request-metrics.ts';
import { routeValidatorCompiler } from './http/validation.ts';
import { registerAggregateRoutes } from './routes/aggregate.ts';
import { registerHealthRoutes, type Readiness } from './routes/health.ts';
import { registerLogsRoute } from './routes/logs.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerTailRoute } from './routes/tail.ts';
import { registerTinkrRoutes } from './routes/tinkr.ts';
import { registerTracesRoutes } from './routes/traces.ts';
import { createCursorCodec, type CursorKeys } from './signals/cursor.ts';
import { createTailHub } from './tail/hub.ts';
import { tailOptions, type TailOptions } from './tail/options.ts';
import { createTailSource } from './tail/source.ts';
import { noTelemetry, type Telemetry } from './telemetry/telemetry.ts';
import type { Engine } from './upstream/answer.ts';

/**
 * Everything the app needs, passed in: tests build it with fakes, main.ts with the real parts.
 * Settings arrive resolved (config/load.ts applies the defaults config/schema.ts assembles;
 * DEFAULT_SETTINGS when there is no configuration), so nothing here has a fallback of its own.
 */
export interface ServerDeps {
  version: string;
  profileName: string;
  profiles: Record<string, string>;
  /**
   * `quota` is the quota of each key without its own (`[auth] quota`), `upstreamShare` the share
   * of the Datadog budget of each key without its own (`[auth] upstream_share`).
   */
  auth: { mode: 'keys' | 'none'; keys: readonly ApiKeyConfig[]; quota: QuotaConfig; upstreamShare: number };
  /** `[server] cors_origins`: exact browser origins allowed; none when empty. */
  corsOrigins: readonly string[];
  requestTimeoutMs: number;
  /** `[server] body_timeout_ms`: the whole request must arrive within it. */
  bodyTimeoutMs: number;
  maxRangeMs: { logs: number; traces: number; metrics: number };
  /** `[upstream] max_pages`: most upstream pages one search request may cost. */
  maxPages: number;
  /** Every finished answer and Datadog call (upstream/pipeline.ts builds the real one). */
  engine: Engine;
  clock: Clock;
  /** HMAC key of `next_cursor`, or the keys shared by replicas (redis/cursor-keys.ts). */
  cursorSecret: Uint8Array | CursorKeys;
  /** Per-caller quota counts shared by replicas (redis/quota-counter.ts); in process when absent. */
  quotaCounter?: SharedQuotaCounter | undefined;
  /** Omitted in tests that do not look at logs. */
  logger?: Logger;
  telemetry?: Telemetry;
  readiness: () => Readiness;
  /** Thresholds past which requests are shed with 503; omitted: none (tests that do not look at it). */
  loadShedding?: LoadSheddingOptions;
  /** Live-tail bounds and timings (tail/options.ts); the defaults unless a test sets them. */
  tail?: Partial<TailOptions>;
}

/** What ServerDeps takes from the configuration (or from DEFAULT_SETTINGS), with the caller keys. */
export function settingsDeps(
  settings: Settings,
  keys: readonly ApiKeyConfig[],
): Pick<ServerDeps, 'auth' | 'corsOrigins' | 'requestTimeoutMs' | 'bodyTimeoutMs' | 'maxRangeMs' | 'maxPages'> {
  return {
    auth: { ...settings.auth, keys },
    corsOrigins: settings.server.corsOrigins,
    requestTimeoutMs: settings.server.requestTimeoutMs,
    bodyTimeoutMs: settings.server.bodyTimeoutMs,
    maxRangeMs: settings.maxRangeMs,
    maxPages: settings.upstream.maxPages,
  };
}

/** Largest request body: the Tinkr routes take a few small fields. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Builds the app without listening: boot.ts starts it, main.ts runs the process. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  // Node's requestTimeout covers receiving the request only, never the answer: a long response
  // (a live tail writing every 15 s) is not cut. No socket inactivity timeout is set for that reason.
  const { requestTimeout, headersTimeout, keepAliveTimeout, connectionsCheckingInterval } = connectionTimeouts(deps.bodyTimeoutMs);
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    // One access-log line per request is written by http/access-log.ts, with our own fields.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    bodyLimit: BODY_LIMIT_BYTES,
    http: { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout, headersTimeout, connectionsCheckingInterval },
    requestTimeout,
    keepAliveTimeout,
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    // While draining, requests on open keep-alive connections get our own problem+json 503
    // (http/load-shedding.ts) instead of Fastify's plain JSON one.
    return503OnClosing: false,
    genReqId: requestIdOf,
  });
  answerExpectations(app);
  const telemetry = deps.telemetry ?? noTelemetry;

  app.setValidatorCompiler(routeValidatorCompiler);
  // Response schemas document the API and type the handlers; answers are built from typed
  // records, so re-validating thousands of log lines on the way out would only cost time.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerProblemHandlers(app);
  // First hooks of every request: count it and log it, give it CORS headers (so a browser can
  // read even a refusal), then refuse it cheaply if the server cannot serve it.
  await app.register(requestMetrics, { telemetry });
  await app.register(accessLog, { logger: deps.logger });
  await registerCors(app, deps.corsOrigins);
  await app.register(loadShedding, { limits: deps.loadShedding, telemetry, clock: deps.clock });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'tinkr-server',
        version: deps.version,
        description:
          'A read gateway in front of Datadog: one normalized API for logs, metrics and traces, dashboard aggregates, plus the Tinkr-compatible /api/v1 routes. Errors are RFC 9457 problem details (application/problem+json).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'logs' },
        { name: 'metrics' },
        { name: 'traces' },
        { name: 'tinkr', description: 'Routes the public Tinkr CLI calls' },
        { name: 'health' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: (document) => withoutSafeIntegerBounds('openapiObject' in document ? document.openapiObject : document.swaggerObject),
  });
  await app.register(fastifySwaggerUi, docsUiOptions);
  // Hook order matters: CORS came first (so refusals below carry its headers and a preflight
  // needs no token), then the request limits, authentication and roles, then the caller's quota.
  registerQueryStringLimit(app);
  const { quota, upstreamShare } = deps.auth;
  await app.register(requestContext, {
    keyring: createKeyring(deps.auth.keys, quota, upstreamShare),
    authMode: deps.auth.mode,
    anonymous: anonymousCaller(quota, upstreamShare),
    clock: deps.clock,
    requestTimeoutMs: deps.requestTimeoutMs,
  });
  await app.register(quotas, { clock: deps.clock, shared: deps.quotaCounter });

  // Synchronous hooks (done callbacks): every request runs them, and a promise each is measurable.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  const routeDeps = {
    query: {
      engine: deps.engine,
      clock: deps.clock,
      cursors: createCursorCodec(deps.cursorSecret, deps.clock),
      maxRangeMs: deps.maxRangeMs,
      maxPages: deps.maxPages,
    },
    telemetry,
    clock: deps.clock,
  };
  registerHealthRoutes(app, { version: deps.version, profileName: deps.profileName, profiles: deps.profiles, readiness: deps.readiness });
  registerLogsRoute(app, routeDeps);
  registerMetricsRoute(app, routeDeps);
  registerTracesRoutes(app, routeDeps);
  registerAggregateRoutes(app, routeDeps);
  registerTinkrRoutes(app, routeDeps);
  const tail = createTailHub({
    source: createTailSource(deps.engine),
    clock: deps.clock,
    telemetry,
    // A poll is bounded like a request; the stream itself is not.
    options: tailOptions({ pollTimeoutMs: deps.requestTimeoutMs, ...deps.tail }),
    log: deps.logger,
  });
  registerTailRoute(app, { hub: tail });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return app;
}
