/** The Datadog key pair a simulator accepts (`DD-API-KEY` + `DD-APPLICATION-KEY`). */
export interface ApiKeys {
  apiKey: string;
  appKey: string;
}

/**
 * Keys of the demo simulator. Public on purpose: they only open the local simulator, and have
 * the shape of real keys (32 and 40 hex characters) so key-format checks treat them as real.
 */
export const DEFAULT_DEMO_KEYS: Readonly<ApiKeys> = Object.freeze({
  apiKey: 'dede0000000000000000000000000001',
  appKey: 'dede000000000000000000000000000000000002',
});

export function checkKeys(keys: unknown): ApiKeys {
  if (typeof keys !== 'object' || keys === null) throw new TypeError('keys must be an object {apiKey, appKey}');
  const { apiKey, appKey } = keys as Record<string, unknown>;
  if (typeof apiKey !== 'string' || apiKey === '' || typeof appKey !== 'string' || appKey === '') {
    throw new TypeError('keys.apiKey and keys.appKey must be non-empty strings');
  }
  return { apiKey, appKey };
}
