import { createHash } from 'node:crypto';
import type { ApiKeyConfig, Role } from '../config/schema.ts';
import type { Scope } from '../service/scope.ts';

/** Who is calling, as established from the bearer token. */
export interface Caller {
  subject: string;
  roles: readonly Role[];
  scope: Scope;
  /** A short, non-secret id of the key (for quotas, cache partitioning, logs). */
  keyId: string;
}

/** The caller of a server started with `auth.mode = "none"`. */
export const ANONYMOUS: Caller = { subject: 'anonymous', roles: ['viewer'], scope: {}, keyId: 'anonymous' };

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
export function createKeyring(keys: readonly ApiKeyConfig[]): Keyring {
  const byHash = new Map<string, Caller>();
  for (const key of keys) {
    byHash.set(key.hash, {
      subject: key.subject,
      roles: key.roles,
      scope: { services: key.services, env: key.env },
      keyId: key.hash.slice(0, 12),
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
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
