import { createHash } from 'node:crypto';
import { AppError } from '../errors.ts';
import { anyOf } from '../datadog/search-syntax.ts';

/**
 * What a caller's key may read (DESIGN §3 `[auth]`): a set of services and optionally one env.
 * Undefined fields mean "unrestricted". Every upstream query made for the key is constrained to
 * it, so the key cannot read past it whatever it writes in `query`.
 */
export interface Scope {
  services?: readonly string[] | undefined;
  env?: string | undefined;
}

export const UNRESTRICTED: Scope = {};

/** A stable, non-secret name of a scope: '' when unrestricted. */
export function scopePartition(scope: Scope): string {
  if (!scope.services && scope.env === undefined) return '';
  const services = scope.services ? [...scope.services].sort() : [];
  return createHash('sha256').update(JSON.stringify([services, scope.env ?? null])).digest('base64url').slice(0, 16);
}

/**
 * The services a search may cover: the requested ones when all are inside the scope (403
 * otherwise), or the whole scope when none were requested.
 */
export function servicesWithin(requested: readonly string[], scope: Scope): readonly string[] {
  if (!scope.services) return requested;
  if (requested.length === 0) return scope.services;
  const outside = requested.filter((s) => !scope.services!.includes(s));
  if (outside.length > 0) {
    throw new AppError('FORBIDDEN', `service ${outside.map((s) => JSON.stringify(s)).join(', ')} is outside this key's scope`);
  }
  return requested;
}

/** The env a search may cover: the requested one if it is the scope's (403 otherwise). */
export function envWithin(requested: string | undefined, scope: Scope): string | undefined {
  if (!scope.env) return requested;
  if (requested !== undefined && requested !== scope.env) {
    throw new AppError('FORBIDDEN', `env ${JSON.stringify(requested)} is outside this key's scope`);
  }
  return scope.env;
}

/** Search clauses for services and env (absent when unrestricted and not asked for). */
export function scopeClauses(services: readonly string[], env: string | undefined): Array<string | undefined> {
  return [services.length > 0 ? anyOf('service', services) : undefined, env !== undefined ? anyOf('env', [env]) : undefined];
}
