import { parseArgs } from 'node:util';
import { EXIT, StartupError } from './errors.ts';

/** Command-line flags (docs/configuration.md#where-the-configuration-comes-from). */
export interface Args {
  command: 'serve' | 'demo';
  config?: string | undefined;
  profile?: string | undefined;
  host?: string | undefined;
  /** Checked here, so a bad `--port` is a usage error (64) whatever else is wrong. */
  port?: number | undefined;
  help: boolean;
  version: boolean;
  /** `--check`: validate configuration, secrets and keys, print, exit (boot/check.ts). */
  check: boolean;
}

export const USAGE = `Usage: tinkr-server [demo] [options]

A read gateway in front of Datadog: GET /logs, /metrics, /traces and the Tinkr-compatible /api/v1 routes.

Commands:
  (none)             start the server
  demo               start the bundled Datadog simulator and the server in front of it

Options:
  --config PATH      configuration file (default: TINKR_CONFIG, else ~/.tinkr/config.toml if present)
  --profile NAME     profile to use (default: TINKR_PROFILE, else active_profile, else the only profile)
  --host HOST        listen address (default: HOST, else 0.0.0.0)
  --port N           listen port (default: PORT, else 8000)
  --check            check the configuration, the secrets and that Datadog accepts the keys, then exit
  --help             show this help
  --version          show the version

Exit codes: 0 clean shutdown (--check: all good), 64 usage error,
  69 secret manager or Datadog unreachable, 78 configuration error or keys rejected.`;

/** Parses argv (without node and script); a bad flag is a usage error (64). */
export function parseCommandLine(argv: readonly string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        profile: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new StartupError(`${(error as Error).message}\n\n${USAGE}`, EXIT.usage);
  }
  const { positionals, values } = parsed;
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'demo')) {
    // The stray words are not echoed: a key pasted on the command line by mistake must not end
    // up in a terminal log or a CI transcript.
    const stray = positionals.length - (positionals[0] === 'demo' ? 1 : 0);
    throw new StartupError(`unknown command: ${stray} unexpected argument${stray === 1 ? '' : 's'} (the only command is "demo")\n\n${USAGE}`, EXIT.usage);
  }
  if (values.check && positionals[0] === 'demo') {
    throw new StartupError(`--check checks the server's own configuration; the demo needs none\n\n${USAGE}`, EXIT.usage);
  }
  return {
    command: positionals[0] === 'demo' ? 'demo' : 'serve',
    config: values.config,
    profile: values.profile,
    host: values.host,
    port: values.port === undefined ? undefined : flagPort(values.port),
    help: values.help ?? false,
    version: values.version ?? false,
    check: values.check ?? false,
  };
}

/** A `--port` value; a bad one is a usage error (64). */
export function flagPort(text: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65_535) {
    throw new StartupError(`--port: expected a port number 0-65535, got ${JSON.stringify(text.slice(0, 20))}`, EXIT.usage);
  }
  return port;
}
