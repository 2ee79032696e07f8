import { hash } from 'node:crypto';
import type { ApiKeyConfig, QuotaConfig, Role } from '../config/schema.ts';
import { parseDuration } from '../time/duration.ts';
import type { UpstreamCaller } from '../upstream/types.ts';
import { permissionsOf, type Permission } from './roles.ts';
import { scopePartition, type Scope } from './scope.ts';

/** Requests per window; undefined in a Caller means no quota. */
export interface Quota {
  requests: number;
  windowMs: number;
}

/** Who is calling, as established from the bearer token; also whose share its upstream calls spend. */
export interface Caller extends UpstreamCaller {
  subject: string;
  roles: readonly Role[];
  permissions: ReadonlySet<Permission>;
  scope: Scope;
  /** A short, non-secret id of the key (for quotas, logs). */
  keyId: string;
  /** The scope's cache partition (scopePartition), worked out once with the keyring. */
  partition: string;
  quota: Quota | undefined;
}

/** The quota a config entry stands for. */
export function resolveQuota(config: QuotaConfig): Quota | undefined {
  return config === 'off' ? undefined : { requests: config.requests, windowMs: parseDuration(config.per)! };
}

/** The caller of a server started with `auth.mode = "none"`. */
export function anonymousCaller(quota: QuotaConfig, upstreamShare: number): Caller {
  return {
    subject: 'anonymous',
    roles: ['viewer'],
    permissions: permissionsOf(['viewer']),
    scope: {},
    keyId: 'anonymous',
    partition: scopePartition({}),
    quota: resolveQuota(quota),
    // Alone by definition (one caller), so it may spend the whole budget anyway.
    upstreamShare,
  };
}

/** Longest bearer token considered; a longer one is not one of ours. */
const MAX_TOKEN_LENGTH = 512;

export interface Keyring {
  /** The caller a raw token belongs to, or undefined. */
  lookup(token: string): Caller | undefined;
  readonly size: number;
}

/**
 * Tokens are stored as SHA-256 hex digests, as in Tinkr's key file. Looking up the digest of
 * the presented token in a map compares digests, never raw tokens, so timing reveals nothing
 * useful about a stored token.
 */
export function createKeyring(keys: readonly ApiKeyConfig[], defaultQuota: QuotaConfig, defaultShare: number): Keyring {
  const byHash = new Map<string, Caller>();
  for (const key of keys) {
    const scope: Scope = { services: key.services, env: key.env };
    byHash.set(key.hash, {
      subject: key.subject,
      roles: key.roles,
      permissions: permissionsOf(key.roles),
      scope,
      keyId: key.hash.slice(0, 12),
      partition: scopePartition(scope),
      quota: resolveQuota(key.quota ?? defaultQuota),
      upstreamShare: key.upstream_share ?? defaultShare,
    });
  }
  return {
    lookup(token) {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
      return byHash.get(sha256Hex(token));
    },
    size: byHash.size,
  };
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
