import { expect } from 'vitest';
import { secretsSchema, type SecretsConfig } from '../../../src/secrets/schema.ts';
import { createSecretSource, fetchWithDeadline } from '../../../src/secrets/source.ts';
import { type DatadogCredentials, SecretsBootError } from '../../../src/secrets/types.ts';

/** A secrets config exactly as the config loader would produce it from TOML. */
export function secretsConfig(raw: Record<string, unknown>): SecretsConfig {
  return secretsSchema.parse(raw);
}

/** The boot path: a source from the config, fetched within timeout_ms, then closed. */
export async function boot(config: SecretsConfig): Promise<DatadogCredentials> {
  const source = createSecretSource(config);
  try {
    return await fetchWithDeadline(source, config.timeout_ms);
  } finally {
    await source.close();
  }
}

/** The boot path's failure, which must be a SecretsBootError. */
export async function bootFailure(config: SecretsConfig): Promise<SecretsBootError> {
  const outcome = await boot(config).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(SecretsBootError);
  return outcome as SecretsBootError;
}
