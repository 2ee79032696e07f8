import { type CredentialKey, credentialsFromJson, credentialsFromPlaintexts, type Plaintexts, type SecretContext } from './payload.ts';
import type { SecretsConfig } from './schema.ts';
import type { DatadogCredentials } from './types.ts';

/**
 * The two ways a profile stores the keys: one JSON secret (`secret`), or one plaintext secret
 * per key (`keys`). Providers only know how to read one secret; this turns one or the other
 * layout into credentials.
 */
export type SecretLayout =
  | { kind: 'json'; id: string }
  | { kind: 'keys'; ids: Partial<Record<CredentialKey, string>> & { DD_API_KEY: string; DD_APP_KEY: string } };

export function layoutOf(config: SecretsConfig): SecretLayout {
  if (config.secret !== undefined) return { kind: 'json', id: config.secret };
  if (config.keys !== undefined) return { kind: 'keys', ids: config.keys };
  // The schema requires exactly one of them; this only guards callers that skipped it.
  throw new Error('secrets config has neither `secret` nor `keys`');
}

/** Every secret id the layout reads, with the key it holds (none for the JSON secret). */
export function idsOf(layout: SecretLayout): Array<{ id: string; key?: CredentialKey }> {
  if (layout.kind === 'json') return [{ id: layout.id }];
  return Object.entries(layout.ids).flatMap(([key, id]) => (id === undefined ? [] : [{ id, key: key as CredentialKey }]));
}

/** `prod/datadog` or `DD_API_KEY=dd-api, DD_APP_KEY=dd-app`, plus the version when one is set. */
export function describeRefs(layout: SecretLayout, version: string | undefined): string {
  const refs = layout.kind === 'json' ? layout.id : idsOf(layout).map(({ id, key }) => `${key}=${id}`).join(', ');
  return version === undefined ? refs : `${refs} (version ${version})`;
}

/** Reads one secret's text (`undefined`: the secret holds no value); throws SecretsBootError. */
export type ReadOne = (id: string, ctx: SecretContext, signal: AbortSignal) => Promise<string | undefined>;

/**
 * Reads the layout's secrets, the per-key ones in parallel so three round trips cost one.
 * The first failure cancels the others: its error is the one worth reporting.
 */
export async function readCredentials(
  layout: SecretLayout,
  contextOf: (id: string, key?: CredentialKey) => SecretContext,
  read: ReadOne,
  signal: AbortSignal,
): Promise<DatadogCredentials> {
  if (layout.kind === 'json') {
    const ctx = contextOf(layout.id);
    return credentialsFromJson(await read(layout.id, ctx, signal), ctx);
  }
  const siblings = new AbortController();
  const both = AbortSignal.any([signal, siblings.signal]);
  const entries = idsOf(layout).map(async ({ id, key }) => {
    const ctx = contextOf(id, key);
    try {
      return [key, { text: await read(id, ctx, both), ctx }] as const;
    } catch (err) {
      siblings.abort();
      throw err;
    }
  });
  const values: Plaintexts = {};
  for (const [key, value] of await Promise.all(entries)) if (key !== undefined) values[key] = value;
  return credentialsFromPlaintexts(values);
}
