/** Exit codes (docs/configuration.md#exit-codes). */
export const EXIT = { ok: 0, usage: 64, unavailable: 69, config: 78 } as const;

/** A mistake in how the server was started: flags (64) or configuration (78). */
export class StartupError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.config) {
    super(message);
    this.name = 'StartupError';
    this.exitCode = exitCode;
  }
}

/** A configuration mistake, named by where it is: `config.toml: profiles.prod.site: ...`. */
export function configError(where: string, path: string | undefined, message: string): StartupError {
  return new StartupError(`${where}: ${path ? `${path}: ` : ''}${message}`, EXIT.config);
}
