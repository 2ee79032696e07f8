import { hash } from 'node:crypto';

/**
 * A short, stable, non-reversible name for `text`: the first `length` characters of its SHA-256
 * in base64url. Used wherever something must be told apart without being shown (a Datadog key,
 * a base URL, a caller's scope, a cursor's parameters).
 */
export function shortHash(text: string, length: number): string {
  return hash('sha256', text, 'base64url').slice(0, length);
}
