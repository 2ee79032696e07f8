import { homedir } from 'node:os';
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import type { Running } from './boot.ts';
import { parseCommandLine, USAGE } from './config/args.ts';
import { readDotenvFiles } from './config/dotenv.ts';
import { EXIT, StartupError } from './config/errors.ts';
import { loadConfig } from './config/load.ts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './config/schema.ts';
import { createLogger } from './logging.ts';
import { SecretsBootError } from './secrets/types.ts';
import { VERSION } from './version.ts';

/**
 * `tinkr-server`: flags → .env → config → keys → listen. Every way of failing before listening
 * ends here with the documented exit code and a message that names the file, key or secret,
 * never a secret value (docs/configuration.md#exit-codes).
 */

/**
 * Added to `shutdown_timeout_ms` for the last steps after the drain (closing upstream sockets and
 * the secret source). If close() is still not done by then, something hangs: exit 1 anyway.
 */
const SHUTDOWN_BACKSTOP_MS = 5_000;

async function main(): Promise<void> {
  const args = parseCommandLine(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.version) {
    process.stdout.write(`tinkr-server ${VERSION}\n`);
    return;
  }
  if (args.command === 'demo') {
    const { runDemo } = await import('./demo.ts');
    const running = await runDemo(args, process.env);
    handleShutdown(running, DEFAULT_SHUTDOWN_TIMEOUT_MS, running.app.log as Logger);
    return;
  }

  // .env files fill in variables that are not set; the cloud SDKs read some of them too.
  Object.assign(process.env, readDotenvFiles(homedir(), process.cwd(), process.env));
  if (args.check) {
    const { runCheck } = await import('./boot/check.ts');
    const code = await runCheck({ args, env: process.env, homeDir: homedir(), cwd: process.cwd() }, (text) => process.stdout.write(text));
    process.exit(code);
  }
  const config = loadConfig({ args, env: process.env, homeDir: homedir(), cwd: process.cwd() });
  const logger = createLogger(config.logLevel);
  // The server (Fastify and everything under it) is loaded only once the configuration is known
  // to be good: --help, --version and configuration mistakes answer in about half the time.
  const { startServer } = await import('./boot.ts');
  const running = await startServer(config, { logger });
  handleShutdown(running, config.server.shutdownTimeoutMs, logger);
}

/**
 * SIGTERM/SIGINT: drain within `shutdownTimeoutMs` (Running.close) and exit 0. An uncaught error
 * closes the same way and exits 1; a second signal, or a close that hangs past the backstop,
 * exits 1 at once.
 */
function handleShutdown(running: Running, shutdownTimeoutMs: number, logger: Logger): void {
  closeWithGrace(
    {
      delay: shutdownTimeoutMs + SHUTDOWN_BACKSTOP_MS,
      logger: false,
      onTimeout: (delay) => logger.error({ delay_ms: delay }, 'shutdown did not finish in time; exiting with 1'),
      onSecondSignal: (signal) => logger.warn({ signal }, 'second signal while shutting down; exiting with 1'),
      onSecondError: (err) => logger.error({ err }, 'another unexpected error while shutting down; exiting with 1'),
    },
    async ({ signal, err }) => {
      const started = Date.now();
      if (err) logger.error({ err }, 'shutting down after an unexpected error');
      else logger.info({ signal, timeout_ms: shutdownTimeoutMs }, 'shutting down');
      await running.close();
      logger.info({ duration_ms: Date.now() - started, exit_code: err ? 1 : 0 }, 'stopped');
    },
  );
}

main().catch((error: unknown) => {
  if (error instanceof StartupError || error instanceof SecretsBootError) {
    process.stderr.write(`tinkr-server: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    process.stderr.write(`tinkr-server: cannot listen: ${(error as Error).message}\n`);
    process.exit(EXIT.unavailable);
  }
  process.stderr.write(`tinkr-server: failed to start: ${(error as Error)?.name ?? 'error'}\n`);
  process.exit(1);
});
