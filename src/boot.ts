import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createKeyChecker, notReadyReason, type KeyChecker } from './boot/key-check.ts';
import { systemClock, type Clock } from './clock.ts';
import { datadogBaseUrl, effectiveSite, type Config } from './config/load.ts';
import { createDatadogTransport } from './datadog/client.ts';
import { validateKeys } from './datadog/validate.ts';
import type { Readiness } from './routes/health.ts';
import { createSecretSource, fetchWithDeadline } from './secrets/source.ts';
import { createCredentialStore } from './secrets/store.ts';
import type { DatadogCredentials } from './secrets/types.ts';
import { buildServer, settingsDeps } from './server.ts';
import { startMetricsListener, type MetricsListener } from './telemetry/metrics-listener.ts';
import { createPrometheusTelemetry } from './telemetry/prometheus.ts';
import { noTelemetry } from './telemetry/telemetry.ts';
import { parseDuration } from './time/duration.ts';
import type { CacheRecord } from './upstream/answer-cache.ts';
import { createUpstreamPipeline } from './upstream/pipeline.ts';
import { createMemoryStore } from './upstream/store.ts';
import { VERSION } from './version.ts';

export interface Running {
  app: FastifyInstance;
  /** Where the server listens, e.g. `http://127.0.0.1:8000`. */
  url: string;
  /** The Prometheus scrape URL, e.g. `http://127.0.0.1:9464/metrics`; undefined when disabled. */
  metricsUrl: string | undefined;
  /**
   * Stops accepting, lets in-flight requests finish for up to `[server] shutdown_timeout_ms`
   * (then closes their connections), and releases upstream sockets, timers and the metrics
   * listener. `/readyz` answers 503 from the first moment. Safe to call more than once.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  /**
   * With Redis: `false` keeps no near copies of shared answers, so every hit on one reads it from
   * Redis (redis/cache-store.ts). For the replicas benchmark only; not a setting.
   */
  nearCopies?: boolean;
}

/**
 * Fetches the Datadog keys, builds the app and listens. Throws SecretsBootError (exit 69/78)
 * before listening when the keys cannot be had; nothing is served without them. Once listening,
 * Datadog is asked whether it accepts the keys: `/readyz` answers 503 until it does.
 */
export async function startServer(config: Config, options: StartOptions): Promise<Running> {
  const clock = options.clock ?? systemClock;
  const exporter = config.metricsPort > 0 ? createPrometheusTelemetry({ version: VERSION }) : undefined;
  const telemetry = exporter ?? noTelemetry;
  const log = options.logger;

  let initial: DatadogCredentials;
  let source: ReturnType<typeof createSecretSource> | undefined;
  const creds = config.datadog.credentials;
  if (creds.kind === 'static') {
    initial = { apiKey: creds.apiKey, appKey: creds.appKey };
  } else {
    source = createSecretSource(creds.secrets);
    log.info({ source: source.describe() }, 'fetching Datadog keys');
    initial = await fetchWithDeadline(source, creds.secrets.timeout_ms, clock);
  }
  // Bound below, once the transport exists; a re-read before that has nothing to re-check.
  let keyCheck: KeyChecker | undefined;
  const credentials = createCredentialStore({
    initial,
    source,
    clock,
    timeoutMs: creds.kind === 'secrets' ? creds.secrets.timeout_ms : 0,
    refreshIntervalMs: creds.kind === 'secrets' && creds.secrets.refresh_interval ? parseDuration(creds.secrets.refresh_interval) : undefined,
    log,
    onRefresh: (outcome, reason) => {
      telemetry.secretsRefresh(outcome);
      // New keys, or the periodic re-read (a key can be revoked at Datadog without a rotation).
      if (outcome === 'changed' || (reason === 'periodic' && outcome === 'unchanged')) keyCheck?.recheck();
    },
  });

  // Redis down or unreachable does not stop the start: the replica serves on its own state.
  // Loaded only when configured: a single replica never pays for the Redis client.
  const shared = config.store ? (await import('./redis/shared-state.ts')).createSharedState(config.store, { log, clock, telemetry, ...(options.nearCopies === false ? { cache: { nearCopies: false } } : {}) }) : undefined;
  await shared?.ready();

  const site = effectiveSite(config.datadog, initial.site);
  const baseUrl = datadogBaseUrl(config.datadog, site);
  const transport = createDatadogTransport({ baseUrl, userAgent: `tinkr-server/${VERSION}` });
  const engine = createUpstreamPipeline({
    transport,
    credentials,
    clock,
    telemetry,
    baseUrl,
    requestTimeoutMs: config.server.requestTimeoutMs,
    policy: config.upstream,
    log,
    ...(shared
      ? {
          stores: {
            budget: shared.budget,
            shares: shared.shares,
            // The replica's own cache, bounded as without Redis, keeps what cannot be shared.
            cache: shared.cacheStore(createMemoryStore<CacheRecord>({ maxBytes: config.upstream.cache.maxBytes, maxEntries: config.upstream.cache.maxEntries, clock })),
          },
          leases: shared.leases,
        }
      : {}),
  });
  const keys = createKeyChecker({
    validate: (used, signal) => validateKeys(transport, used, signal, clock.now()),
    credentials,
    clock,
    log,
    where: { site, apiUrl: config.datadog.apiUrl },
    onStatus: (status) => telemetry.keysStatus(status),
  });
  keyCheck = keys;

  let draining = false;
  const readiness = (): Readiness => {
    const state = credentials.state();
    const checked = keys.state();
    const reason = draining ? 'the server is shutting down' : notReadyReason(checked, site);
    return {
      ready: reason === undefined,
      ...(reason !== undefined ? { reason } : {}),
      store: shared ? shared.readiness() : 'none',
      secrets: {
        source: state.source,
        loaded_at: new Date(state.loadedAt).toISOString(),
        age_s: state.ageS,
        refreshes: state.refreshes,
        ...(state.lastRefreshAt !== undefined ? { last_refresh_at: new Date(state.lastRefreshAt).toISOString() } : {}),
        ...(state.lastError !== undefined ? { last_error: state.lastError } : {}),
      },
      keys: { status: checked.status, ...(checked.checkedAt !== undefined ? { checked_at: new Date(checked.checkedAt).toISOString() } : {}), site },
    };
  };

  const app = await buildServer({
    version: VERSION,
    profileName: config.profileName,
    profiles: config.profiles,
    ...settingsDeps(config, config.auth.keys),
    engine,
    clock,
    // A configured secret, else the key shared through Redis, else one of this process's own.
    cursorSecret: config.server.cursorSecret ? Buffer.from(config.server.cursorSecret, 'utf8') : (shared?.cursorKeys ?? randomBytes(32)),
    quotaCounter: shared?.quotas,
    logger: log,
    telemetry,
    readiness,
    loadShedding: config.server.loadShedding,
  });
  if (config.auth.mode === 'none') {
    log.warn('auth.mode = "none": every caller can read everything the Datadog keys can; use only for local development');
  }

  let metrics: MetricsListener | undefined;
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
    // Same host as the API: a public API address means a public metrics port, so keep it private.
    if (exporter) metrics = await startMetricsListener(exporter, { host: config.listen.host, port: config.metricsPort }).catch((error: unknown) => {
      throw metricsPortError(error, config.metricsPort);
    });
  } catch (error) {
    await app.close();
    await transport.close();
    await source?.close();
    await shared?.close();
    throw error;
  }
  credentials.start();
  keys.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info(
    {
      url,
      metrics_url: metrics?.url,
      profile: config.profileName,
      site,
      ...(config.datadog.apiUrl ? { api_url: config.datadog.apiUrl } : {}),
      source: credentials.state().source,
      store: config.store?.endpoint ?? 'none',
    },
    'listening',
  );

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    draining = true;
    credentials.stop();
    keys.stop();
    await drain(app, config.server.shutdownTimeoutMs, clock, log);
    await transport.close();
    await source?.close();
    await shared?.close();
    // Last, so a scrape during the drain still sees the in-flight requests go down.
    await metrics?.close();
  }
  return {
    app,
    url,
    metricsUrl: metrics?.url,
    close: () => (closed ??= close()),
  };
}

/**
 * The metrics listener could not listen: say that it is the metrics port and how to move it.
 * Keeps the system error's code, so main.ts exits 69 as for the API port.
 */
function metricsPortError(error: unknown, port: number): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const why = typeof code === 'string' ? code : error instanceof Error ? error.message : 'error';
  return Object.assign(
    new Error(`the metrics port ${port} (TINKR_METRICS_PORT) is not available (${why}); set TINKR_METRICS_PORT to a free port, or to 0 to turn the metrics listener off`, {
      cause: error,
    }),
    { code },
  );
}

/**
 * Closes the app: no new connections, idle keep-alive ones closed, in-flight requests finish.
 * After `timeoutMs` the connections still open are closed, which aborts their requests (and
 * their upstream calls); each request is bounded by its own deadline anyway.
 */
async function drain(app: FastifyInstance, timeoutMs: number, clock: Clock, log: Logger): Promise<void> {
  const open = await new Promise<number>((resolve) => app.server.getConnections((error, count) => resolve(error ? 0 : count)));
  log.info({ open_connections: open, timeout_ms: timeoutMs }, 'draining: no new connections; waiting for in-flight requests');
  const closing = app.close();
  const deadline = new AbortController();
  const timedOut = await Promise.race([
    closing.then(() => false),
    clock.sleep(timeoutMs, deadline.signal).then(
      () => true,
      () => false,
    ),
  ]);
  deadline.abort();
  if (timedOut) {
    const left = await new Promise<number>((resolve) => app.server.getConnections((error, count) => resolve(error ? 0 : count)));
    log.warn({ open_connections: left, timeout_ms: timeoutMs }, 'shutdown timeout reached: closing the connections still open');
    app.server.closeAllConnections();
  }
  await closing;
}
