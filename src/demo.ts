import { startServer, type Running } from './boot.ts';
import { sha256Hex } from './auth/keyring.ts';
import type { Args } from './config/args.ts';
import { envSchema } from './config/env.ts';
import { configError } from './config/errors.ts';
import { DEFAULT_METRICS_PORT, DEFAULT_PORT, type Config } from './config/load.ts';
import { DEFAULT_MAX_RANGE, DEFAULT_QUOTA, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './config/schema.ts';
import { DEFAULT_BODY_TIMEOUT_MS } from './http/limits.ts';
import { DEFAULT_LOAD_SHEDDING } from './http/load-shedding.ts';
import { createLogger } from './logging.ts';
import { DEFAULT_DEMO_KEYS, startSimulator } from './simulator/index.ts';
import { parseDuration } from './time/duration.ts';
import { DEFAULT_UPSTREAM_SHARE } from './upstream/fair-share.ts';
import { DEFAULT_UPSTREAM_POLICY } from './upstream/pipeline.ts';

/** The bearer token of the demo: it guards only simulated data on loopback. */
export const DEMO_TOKEN = 'tinkr-demo-token';

/**
 * `tinkr-server demo` (DESIGN §5): the bundled Datadog simulator on loopback and the server in
 * front of it, with no account and no network; prints what to try.
 */
export async function runDemo(args: Args, rawEnv: Readonly<Record<string, string | undefined>>): Promise<Running & { simulatorUrl: string }> {
  const env = envSchema.safeParse(rawEnv);
  if (!env.success) throw configError('environment', env.error.issues[0]!.path.join('.'), env.error.issues[0]!.message);
  const simulator = await startSimulator({ host: '127.0.0.1', port: 0 });
  const logger = createLogger(env.data.TINKR_LOG_LEVEL ?? 'info');
  const config: Config = {
    source: 'demo',
    profileName: 'demo',
    profiles: { demo: 'datadog' },
    // Loopback only by default: the demo token is printed for anyone to read.
    listen: { host: args.host ?? env.data.HOST ?? '127.0.0.1', port: args.port ?? env.data.PORT ?? DEFAULT_PORT },
    metricsPort: env.data.TINKR_METRICS_PORT ?? DEFAULT_METRICS_PORT,
    logLevel: env.data.TINKR_LOG_LEVEL ?? 'info',
    server: {
      corsOrigins: [],
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
      cursorSecret: undefined,
      loadShedding: DEFAULT_LOAD_SHEDDING,
      shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    },
    auth: { mode: 'keys', keys: [{ hash: sha256Hex(DEMO_TOKEN), subject: 'demo', roles: ['viewer'] }], quota: DEFAULT_QUOTA, upstreamShare: DEFAULT_UPSTREAM_SHARE },
    datadog: {
      site: 'datadoghq.com',
      envSite: undefined,
      apiUrl: simulator.url,
      credentials: { kind: 'static', apiKey: DEFAULT_DEMO_KEYS.apiKey, appKey: DEFAULT_DEMO_KEYS.appKey },
    },
    maxRangeMs: {
      logs: parseDuration(DEFAULT_MAX_RANGE.logs)!,
      traces: parseDuration(DEFAULT_MAX_RANGE.traces)!,
      metrics: parseDuration(DEFAULT_MAX_RANGE.metrics)!,
    },
    upstream: DEFAULT_UPSTREAM_POLICY,
  };
  let running: Running;
  try {
    running = await startServer(config, { logger });
  } catch (error) {
    await simulator.close();
    throw error;
  }
  process.stdout.write(demoBanner(running.url, simulator.url, running.metricsUrl));
  let closed: Promise<void> | undefined;
  return {
    ...running,
    simulatorUrl: simulator.url,
    close: () =>
      (closed ??= (async () => {
        await running.close();
        await simulator.close();
      })()),
  };
}

export function demoBanner(url: string, simulatorUrl: string, metricsUrl?: string): string {
  const auth = `-H 'Authorization: Bearer ${DEMO_TOKEN}'`;
  return `
tinkr-server demo is running.

  Server:     ${url}
  Simulator:  ${simulatorUrl} (a stand-in for https://api.datadoghq.com)
  Token:      ${DEMO_TOKEN}
  API docs:   ${url}/docs
${metricsUrl ? `  Metrics:    ${metricsUrl} (Prometheus)\n` : ''}
Try:
  curl -s ${auth} '${url}/logs?service=payments-api&level=error&since=1h&limit=5'
  curl -s ${auth} '${url}/metrics?metric=trace.web.request.hits&service=checkout&since=1h'
  curl -s ${auth} '${url}/traces?service=checkout&since=15m&limit=3'
  curl -s ${auth} '${url}/logs/aggregate?service=checkout&level=error,critical&group_by=status&interval=5m&since=1h'

Press Ctrl+C to stop.
`;
}
