import { ENVS, type Env } from './catalog.ts';

/** Where a staged incident happens: one service in one env, over [`fromMs`, `toMs`). */
export interface StagedWindow {
  service: string;
  fromMs: number;
  toMs: number;
  env: Env;
}

/**
 * Checks what every staged incident (error burst, latency burst) has in common, given as JSON or
 * in code; throws a TypeError naming the problem as `<name>.<field>`. Returns the checked
 * window and the raw fields, for the caller to check its own.
 */
export function parseStagedWindow(input: unknown, name: string, article: string): { window: StagedWindow; fields: Record<string, unknown> } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TypeError(`${article} must be an object`);
  const b = input as Record<string, unknown>;
  if (typeof b['service'] !== 'string' || b['service'] === '') throw new TypeError(`${name}.service must be a service name`);
  const fromMs = b['fromMs'];
  const toMs = b['toMs'];
  if (typeof fromMs !== 'number' || !Number.isInteger(fromMs) || typeof toMs !== 'number' || !Number.isInteger(toMs) || fromMs >= toMs) {
    throw new TypeError(`${name}.fromMs and ${name}.toMs must be epoch milliseconds with fromMs < toMs`);
  }
  const env = b['env'] ?? 'prod';
  if (!(ENVS as readonly unknown[]).includes(env)) throw new TypeError(`${name}.env must be one of ${ENVS.join(', ')}`);
  return { window: { service: b['service'], fromMs, toMs, env: env as Env }, fields: b };
}
