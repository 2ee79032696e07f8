import { hash } from 'node:crypto';
import { shortHash } from '../hash.ts';
import type { UpstreamRequest } from '../upstream-call.ts';

/**
 * Names for things kept across requests (cache entries, in-flight calls, budgets). They are
 * hashes: a store may be shared, logged or inspected, so nothing secret and nothing a caller
 * wrote may appear in a key verbatim.
 */

/** JSON with object keys sorted at every level, so equal requests have equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * The key of one upstream request as seen by one caller scope, against one Datadog account:
 * method, path, query and body, the caller's partition, and the origin (API base URL and key
 * fingerprint), hashed. Identical calls in flight share one (Engine.call with `coalesce`).
 */
export function requestKey(request: UpstreamRequest, partition: string, origin: string): string {
  const canonical = canonicalJson([origin, partition, request.method, request.path, request.query ?? null, request.body ?? null]);
  return hash('sha256', canonical, 'base64url');
}

/**
 * A short, non-secret name of a Datadog API key: enough to tell keys apart (a budget belongs to
 * the account behind the key, and rotation may change the account), useless to recover the key.
 */
export function keyFingerprint(apiKey: string): string {
  return shortHash(`tinkr-key-fingerprint\u0000${apiKey}`, 12);
}

/** Remembers the fingerprint of the last key seen, so the hot path hashes once per rotation. */
export function fingerprintCache(): (apiKey: string) => string {
  let lastKey: string | undefined;
  let lastPrint = '';
  return (apiKey) => {
    if (apiKey !== lastKey) {
      lastKey = apiKey;
      lastPrint = keyFingerprint(apiKey);
    }
    return lastPrint;
  };
}
