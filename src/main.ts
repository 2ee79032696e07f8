#!/usr/bin/env node
import { homedir } from 'node:os';
import closeWithGrace from 'close-with-grace';
import type { Running } from './boot.ts';
import { parseCommandLine, USAGE } from './config/args.ts';
import { readDotenvFiles } from './config/dotenv.ts';
import { EXIT, StartupError } from './config/errors.ts';
import { loadConfig } from './config/load.ts';
import { createLogger } from './logging.ts';
import { SecretsBootError } from './secrets/types.ts';
import { VERSION } from './version.ts';

/**
 * `tinkr-server`: flags → .env → config → keys → listen. Every way of failing before listening
 * ends here with the documented exit code and a message that names the file, key or secret,
 * never a secret value (DESIGN §2).
 */

/** In-flight requests get this long to finish after SIGTERM; each is bounded by its own deadline anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

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
    handleShutdown(running, running.app.log as never);
    return;
  }

  // .env files fill in variables that are not set; the cloud SDKs read some of them too.
  Object.assign(process.env, readDotenvFiles(homedir(), process.cwd(), process.env));
  const config = loadConfig({ args, env: process.env, homeDir: homedir(), cwd: process.cwd() });
  const logger = createLogger(config.logLevel);
  // The server (Fastify and everything under it) is loaded only once the configuration is known
  // to be good: --help, --version and configuration mistakes answer in about half the time.
  const { startServer } = await import('./boot.ts');
  const running = await startServer(config, { logger });
  handleShutdown(running, logger);
}

function handleShutdown(running: Running, logger: { info(o: object, m: string): void; error(o: object, m: string): void }): void {
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS, logger: false }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an unexpected error');
    else logger.info({ signal }, 'shutting down');
    await running.close();
  });
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
