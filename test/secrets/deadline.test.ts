import { describe, expect, it } from 'vitest';
import { fetchWithDeadline, type SecretSource } from '../../src/secrets/source.ts';
import { type DatadogCredentials, SecretsBootError } from '../../src/secrets/types.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/** A source whose fetch settles only when the test says so; it may ignore the abort signal, as an SDK might. */
function controllableSource(opts: { honourAbort: boolean }) {
  let settle: { resolve(c: DatadogCredentials): void; reject(e: unknown): void } | undefined;
  const signals: AbortSignal[] = [];
  const source: SecretSource = {
    provider: 'gcp',
    secretRef: 'datadog-keys (version latest)',
    location: 'project tinkr-test-proj',
    describe: () => 'GCP Secret Manager secret datadog-keys (version latest) (project tinkr-test-proj)',
    fetch: (signal) =>
      new Promise<DatadogCredentials>((resolve, reject) => {
        signals.push(signal);
        settle = { resolve, reject };
        if (opts.honourAbort) signal.addEventListener('abort', () => reject(new Error('aborted by signal')));
      }),
    close: async () => {},
  };
  return { source, signals, settle: () => settle };
}

describe('fetchWithDeadline', () => {
  it('returns the credentials when the fetch beats the deadline, and cancels the deadline', async () => {
    const clock = new ManualClock();
    const { source, settle } = controllableSource({ honourAbort: true });
    const result = fetchWithDeadline(source, 15_000, clock);
    expect(clock.pendingSleeps).toBe(1);
    settle()?.resolve({ apiKey: 'a', appKey: 'b' });
    await expect(result).resolves.toEqual({ apiKey: 'a', appKey: 'b' });
    expect(clock.pendingSleeps).toBe(0);
  });

  it('rejects with kind timeout (exit 69) at the deadline even when the source ignores the signal', async () => {
    const clock = new ManualClock();
    const { source, signals } = controllableSource({ honourAbort: false });
    const result = fetchWithDeadline(source, 15_000, clock);
    const outcome = result.then(
      () => undefined,
      (e: unknown) => e,
    );
    clock.advance(14_999);
    expect(signals[0]?.aborted).toBe(false);
    clock.advance(1);
    const err = await outcome;
    expect(err).toBeInstanceOf(SecretsBootError);
    const boot = err as SecretsBootError;
    expect([boot.kind, boot.exitCode, boot.provider]).toEqual(['timeout', 69, 'gcp']);
    expect(boot.message).toBe(
      'GCP Secret Manager secret datadog-keys (version latest) (project tinkr-test-proj): no answer within 15000 ms (secrets.timeout_ms); the secret manager or the identity endpoint is slow or unreachable',
    );
    // The SDK call was told to stop.
    expect(signals[0]?.aborted).toBe(true);
  });

  it('passes a SecretsBootError from the source through unchanged', async () => {
    const clock = new ManualClock();
    const { source, settle } = controllableSource({ honourAbort: true });
    const result = fetchWithDeadline(source, 15_000, clock);
    const failure = new SecretsBootError({ provider: 'gcp', secretRef: 'x', location: 'project p', kind: 'not_found' }, 'not found');
    settle()?.reject(failure);
    await expect(result).rejects.toBe(failure);
  });
});
