import { parseCommandLine } from '../../src/config/args.ts';
import { loadConfig, type Config } from '../../src/config/load.ts';

/**
 * A Config as a start from the environment alone makes it: the real loader, so every setting
 * the test does not name is the default config/schema.ts assembles. No configuration file is
 * read, not even one in this machine's home directory.
 */
export function configFromEnv(env: Record<string, string>, argv: string[] = []): Config {
  return loadConfig({ args: parseCommandLine(argv), env: { TINKR_BACKEND: 'datadog', ...env }, homeDir: undefined, cwd: process.cwd() });
}
