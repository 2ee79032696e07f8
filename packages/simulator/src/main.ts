import { parseArgs } from 'node:util';
import { simulatorBanner } from './banner.ts';
import { DEFAULT_DEMO_KEYS, DEFAULT_SIMULATOR_HOST, startSimulator, type Endpoint, type RateLimit } from './index.ts';

/**
 * `node src/main.ts --port 8126 [--host 127.0.0.1]` in this package (what its image runs), or
 * `npm run simulator -- --port 8126` at the repository's root.
 *
 * Environment (flags win): PORT or SIM_PORT, SIM_HOST, SIM_API_KEY + SIM_APP_KEY (default: the
 * demo keys), SIM_RATE_LIMITS as JSON (`{"logs":{"limit":30,"periodS":60}}`).
 * Prints the URL, the keys it accepts and how to point a server at it on stdout; stops on
 * SIGINT/SIGTERM.
 */

const USAGE = `usage: node src/main.ts [--port N] [--host H]

  --port N   port to listen on (default PORT or SIM_PORT, else 8126; 0 picks a free one)
  --host H   address to bind (default SIM_HOST, else ${DEFAULT_SIMULATOR_HOST})

  env SIM_API_KEY / SIM_APP_KEY   the accepted Datadog key pair (default: the demo keys)
  env SIM_RATE_LIMITS             JSON overrides, e.g. {"logs":{"limit":30,"periodS":60}}
`;
/** The port the Datadog agent's APM intake uses; an easy-to-remember default for a local fake. */
const DEFAULT_PORT = 8126;
/** Exit code for a bad flag or variable (sysexits EX_USAGE). */
const EXIT_USAGE = 64;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(EXIT_USAGE);
}

function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) fail(`${source} must be a port number, got "${text}"`);
  return port;
}

let flags: { port?: string | undefined; host?: string | undefined; help?: boolean | undefined };
try {
  ({ values: flags } = parseArgs({
    options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const env = process.env;
const portText = flags.port ?? env['SIM_PORT'] ?? env['PORT'];
const port = portText === undefined ? DEFAULT_PORT : parsePort(portText, flags.port ? '--port' : 'PORT/SIM_PORT');
const host = flags.host ?? env['SIM_HOST'] ?? DEFAULT_SIMULATOR_HOST;

const apiKey = env['SIM_API_KEY'];
const appKey = env['SIM_APP_KEY'];
if ((apiKey === undefined) !== (appKey === undefined)) fail('set both SIM_API_KEY and SIM_APP_KEY, or neither');
const keys = apiKey && appKey ? { apiKey, appKey } : DEFAULT_DEMO_KEYS;

let rateLimits: Partial<Record<Endpoint, RateLimit>> | undefined;
if (env['SIM_RATE_LIMITS']) {
  try {
    rateLimits = JSON.parse(env['SIM_RATE_LIMITS']) as typeof rateLimits;
  } catch {
    fail('SIM_RATE_LIMITS must be JSON');
  }
}

let simulator: Awaited<ReturnType<typeof startSimulator>>;
try {
  simulator = await startSimulator({ port, host, keys, ...(rateLimits ? { rateLimits } : {}) });
} catch (error) {
  fail(`cannot start the simulator: ${error instanceof Error ? error.message : String(error)}`);
}
process.stdout.write(simulatorBanner(simulator.url, keys));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.close().then(() => process.exit(0));
  });
}
