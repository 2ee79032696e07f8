import { sha256Hex } from './auth/keyring.ts';
import { startServer, type Running } from './boot.ts';
import type { Args } from './config/args.ts';
import { EXIT, StartupError } from './config/errors.ts';
import { loadConfig, type Config } from './config/load.ts';
import { createLogger } from './logging.ts';

/** The bearer token of the demo: it guards only simulated data on loopback. */
export const DEMO_TOKEN = 'tinkr-demo-token';
/** Where the demo listens unless told: loopback, because its token is printed for anyone to read. */
const DEMO_HOST = '127.0.0.1';

/**
 * The Datadog simulator (`packages/simulator`): a workspace of this repository and a dev
 * dependency, so a production install (the image, `npm ci --omit=dev`) does not have it, and it
 * is imported only when the demo runs.
 */
export const SIMULATOR_PACKAGE = '@tinkr/datadog-simulator';

/** What the demo uses of the simulator package (test/main/demo.test.ts checks that the package fits). */
export interface DemoSimulatorPackage {
  DEFAULT_DEMO_KEYS: { readonly apiKey: string; readonly appKey: string };
  startSimulator(options: { host: string; port: number }): Promise<{ url: string; close(): Promise<void> }>;
}

/** The simulator package, or a StartupError (69) saying where the demo runs when this install has none. */
export async function loadSimulatorPackage(): Promise<DemoSimulatorPackage> {
  try {
    // A name in a variable: the compiler leaves the package out of `dist/` and its types.
    return (await import(SIMULATOR_PACKAGE)) as DemoSimulatorPackage;
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !message.includes(`'${SIMULATOR_PACKAGE}'`)) throw error;
    throw new StartupError(
      `the demo needs the simulator package (${SIMULATOR_PACKAGE}), which a production install omits; run it from a clone of the repository: npm ci, then npm run demo`,
      EXIT.unavailable,
    );
  }
}

/**
 * `tinkr-server demo` (docs/development.md): the Datadog simulator on loopback and the server in
 * front of it, with no account and no network; prints what to try.
 */
export async function runDemo(args: Args, env: Readonly<Record<string, string | undefined>>): Promise<Running & { simulatorUrl: string }> {
  const { DEFAULT_DEMO_KEYS, startSimulator } = await loadSimulatorPackage();
  const simulator = await startSimulator({ host: DEMO_HOST, port: 0 });
  let running: Running;
  try {
    const config = demoConfig(args, env, simulator.url, DEFAULT_DEMO_KEYS);
    running = await startServer(config, { logger: createLogger(config.logLevel) });
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

/**
 * The demo's configuration, made by the loader of a normal start from an environment that names
 * the simulator, its keys and the demo token, so every other setting is the default. Of the
 * caller's own environment only where to listen, the metrics port and the log level count; no
 * configuration file is read, and `--config`/`--profile` do not apply.
 */
export function demoConfig(
  args: Args,
  env: Readonly<Record<string, string | undefined>>,
  simulatorUrl: string,
  keys: DemoSimulatorPackage['DEFAULT_DEMO_KEYS'],
): Config {
  const config = loadConfig({
    args: { ...args, config: undefined, profile: undefined },
    env: {
      HOST: env.HOST?.trim() ? env.HOST : DEMO_HOST,
      PORT: env.PORT,
      TINKR_METRICS_PORT: env.TINKR_METRICS_PORT,
      TINKR_LOG_LEVEL: env.TINKR_LOG_LEVEL,
      TINKR_BACKEND: 'datadog',
      DD_API_URL: simulatorUrl,
      DD_API_KEY: keys.apiKey,
      DD_APP_KEY: keys.appKey,
      TINKR_API_KEYS: JSON.stringify([{ hash: sha256Hex(DEMO_TOKEN), subject: 'demo', roles: ['viewer'] }]),
    },
    homeDir: undefined,
    cwd: process.cwd(),
  });
  // Named for what it is in `/health` and the log; the loader calls an environment-only start "default".
  return { ...config, source: 'demo', profileName: 'demo', profiles: { demo: 'datadog' } };
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
