import type { z } from 'zod';
import { EXIT, StartupError } from './errors.ts';

/**
 * Every problem of one configuration source (a file, or the environment), gathered so that one
 * run reports them all: fixing a file one error per start is slow and maddening. Each problem
 * names the source and the key path, never a value.
 */

/**
 * Most problems listed in one error. A file with more has a bigger mistake (the wrong file, a
 * table at the wrong level) that the first ones already show; the rest are counted.
 */
export const MAX_REPORTED_PROBLEMS = 20;

interface Problem {
  path: string | undefined;
  message: string;
}

export class ConfigProblems {
  readonly #where: string;
  readonly #problems: Problem[] = [];

  /** `where`: the file's path, or `environment`. */
  constructor(where: string) {
    this.#where = where;
  }

  get count(): number {
    return this.#problems.length;
  }

  add(path: string | undefined, message: string): void {
    this.#problems.push({ path: path || undefined, message });
  }

  /**
   * Every issue of a schema check, each at its key path (under `prefix`). An issue at a path
   * that already has a problem (an unset `env:` variable, say) is the same mistake seen again
   * and is left out.
   */
  addSchemaIssues(error: z.ZodError, prefix?: string): void {
    const known = new Set(this.#problems.map((p) => p.path));
    for (const issue of error.issues) {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || undefined;
      if (path !== undefined && known.has(path)) continue;
      const keys = (issue as { keys?: string[] }).keys;
      const message = issue.code === 'unrecognized_keys' && keys ? `unknown key ${keys.map((k) => JSON.stringify(k)).join(', ')}` : issue.message;
      this.add(path ?? '(top level)', message);
    }
  }

  /** Throws them all as one StartupError (exit 78); returns when there are none. */
  throwIfAny(): void {
    if (this.#problems.length === 0) return;
    const line = (p: Problem) => `${this.#where}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
    if (this.#problems.length === 1) throw new StartupError(line(this.#problems[0]!), EXIT.config);
    const shown = this.#problems.slice(0, MAX_REPORTED_PROBLEMS).map((p) => `  ${line(p)}`);
    const more = this.#problems.length - shown.length;
    if (more > 0) shown.push(`  … and ${more} more`);
    throw new StartupError(`${this.#where}: ${this.#problems.length} configuration problems:\n${shown.join('\n')}`, EXIT.config);
  }
}
