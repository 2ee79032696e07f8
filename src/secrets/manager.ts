import { describeRefs, layoutOf, readCredentials, type ReadOne } from './layout.ts';
import type { SecretContext } from './payload.ts';
import type { SecretsConfig } from './schema.ts';
import type { SecretSource } from './source.ts';
import { providerLabel, SecretsBootError } from './types.ts';

/**
 * What a secret manager brings to a SecretSource: its SDK call, what its errors mean and the
 * release of its client. The rest is the same for the three (secretManagerSource): the layout
 * (one JSON secret or one secret per key), how messages name a secret and where it was looked
 * for, and that whatever the SDK throws ends as a SecretsBootError.
 */
export interface SecretManager {
  provider: SecretSource['provider'];
  /** The version messages name; undefined: none is named. */
  version: string | undefined;
  /** Where the secrets are looked for: `region eu-west-1`, `project my-proj`, `vault https://…`. */
  where: string;
  /** Where one secret is looked for, when it can differ from `where` (an AWS ARN names its own region). */
  whereOf?: (id: string) => string;
  /** One secret's text; undefined when it holds none. May throw anything the SDK throws. */
  read: ReadOne;
  /** What an SDK error means. */
  classify(err: unknown, ctx: SecretContext, signal: AbortSignal, id: string): SecretsBootError;
  /** Releases the SDK client; never throws. */
  close(): Promise<void>;
}

/** The SecretSource of a secret manager, for the profile's `[secrets]` (`endpoint` is named in every message). */
export function secretManagerSource(config: SecretsConfig, manager: SecretManager): SecretSource {
  const layout = layoutOf(config);
  const { provider, version } = manager;
  const via = config.endpoint === undefined ? '' : ` via ${config.endpoint}`;
  const location = `${manager.where}${via}`;
  const secretRef = describeRefs(layout, version);
  const contextOf = (id: string, key?: string): SecretContext => ({
    provider,
    secretRef: `${id}${key === undefined ? '' : ` (${key})`}${version === undefined ? '' : ` (version ${version})`}`,
    location: manager.whereOf ? `${manager.whereOf(id)}${via}` : location,
  });
  const read: ReadOne = async (id, ctx, signal) => {
    try {
      return await manager.read(id, ctx, signal);
    } catch (err) {
      // Our own errors (a binary secret that is not text, say) are worded already.
      if (err instanceof SecretsBootError) throw err;
      throw manager.classify(err, ctx, signal, id);
    }
  };
  return {
    provider,
    secretRef,
    location,
    describe: () => `${providerLabel(provider)} secret ${secretRef} (${location})`,
    fetch: (signal) => readCredentials(layout, contextOf, read, signal),
    close: () => manager.close(),
  };
}
