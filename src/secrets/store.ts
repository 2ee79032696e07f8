import { backgroundSleep, type Clock } from '../clock.ts';
import { fetchWithDeadline, type SecretSource } from './source.ts';
import { type DatadogCredentials, SecretsBootError, secretValuesOf } from './types.ts';

/**
 * The Datadog keys in use, and their rotation. Datadog answering 401/403 usually means the keys
 * were rotated in the secret manager; the store re-reads them once (single-flight) so the
 * caller can retry with the new ones, and rate-limits re-reads so a key that is simply wrong
 * cannot hammer the secret manager. Keys never leave this module except through current().
 */

export interface CredentialProvider {
  /** The keys to use now. */
  current(): DatadogCredentials;
  /**
   * Datadog answered 401/403 to `used`. Re-fetch once (single-flight; at most one re-fetch per
   * minRefreshIntervalMs, default 60 s, so a bad key cannot hammer the secret manager); resolves
   * true when different keys are now current (the caller then retries once), false otherwise.
   * Never throws.
   */
  refreshAfterAuthFailure(used: DatadogCredentials): Promise<boolean>;
  /**
   * Every secret value known now, for scrubbing upstream text (secrets/scrub.ts): the current
   * keys and other values of their secret, plus those of the keys the last rotation replaced (a
   * request sent just before it may come back quoting them). The same array until they change.
   */
  secretValues(): readonly string[];
}

export interface CredentialsState {
  /** The source's describe(), or "environment" for env-only keys. */
  source: string;
  /** When the current keys were last read successfully (epoch ms). */
  loadedAt: number;
  /** Whole seconds since loadedAt. */
  ageS: number;
  /** Re-fetch attempts since boot, whatever their outcome. */
  refreshes: number;
  /** When the last re-fetch attempt ended (epoch ms). */
  lastRefreshAt?: number;
  /** Why the last re-fetch failed (a SecretsBootError message: no secret); cleared by a success. */
  lastError?: string;
}

export type RefreshOutcome = 'changed' | 'unchanged' | 'failed';
/** What caused a re-fetch: Datadog refused the keys, or `refresh_interval` came round. */
export type RefreshReason = 'auth_failure' | 'periodic';

export interface CredentialStoreOptions {
  initial: DatadogCredentials;
  /** Undefined for env-only keys: refresh is then a no-op returning false. */
  source?: SecretSource;
  clock: Clock;
  /** Bound on each re-fetch (secrets.timeout_ms). */
  timeoutMs: number;
  /** Re-read the secrets this often (secrets.refresh_interval); off when undefined. */
  refreshIntervalMs?: number;
  /** Least time between two re-fetches caused by auth failures. */
  minRefreshIntervalMs?: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** After every re-fetch attempt, with what caused it (metrics; the key check re-checks after a rotation). */
  onRefresh?: (outcome: RefreshOutcome, reason: RefreshReason) => void;
}

export type CredentialStore = CredentialProvider & { state(): CredentialsState; start(): void; stop(): void };

/**
 * A minute: long enough that a wrong key costs the secret manager one read a minute, short
 * enough that a rotation racing a cached 401 is picked up quickly.
 */
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 60_000;

export function sameCredentials(a: DatadogCredentials, b: DatadogCredentials): boolean {
  return a.apiKey === b.apiKey && a.appKey === b.appKey && a.site === b.site;
}

export function createCredentialStore(opts: CredentialStoreOptions): CredentialStore {
  const { clock, source, log, timeoutMs } = opts;
  const minInterval = opts.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
  const described = source?.describe() ?? 'environment';
  // The periodic timer must not keep the process alive.
  const sleep = backgroundSleep(clock);

  let current = opts.initial;
  let known: readonly string[] = secretValuesOf(current);
  let loadedAt = clock.now();
  let refreshes = 0;
  let lastRefreshAt: number | undefined;
  let lastError: string | undefined;
  /** Start of the last re-fetch; the boot read does not count, so the first 401 always re-reads. */
  let lastAttemptStartedAt: number | undefined;
  let inFlight: Promise<RefreshOutcome> | undefined;
  let stopper: AbortController | undefined;

  const refresh = (why: RefreshReason): Promise<RefreshOutcome> => {
    if (source === undefined) return Promise.resolve('unchanged');
    if (inFlight) return inFlight;
    lastAttemptStartedAt = clock.now();
    inFlight = (async (): Promise<RefreshOutcome> => {
      let outcome: RefreshOutcome;
      try {
        const next = await fetchWithDeadline(source, timeoutMs, clock);
        outcome = sameCredentials(next, current) ? 'unchanged' : 'changed';
        // This generation and the one before: bounded, and enough for requests in flight.
        if (outcome === 'changed' || secretValuesOf(next).some((v) => !known.includes(v))) {
          known = [...new Set([...secretValuesOf(next), ...secretValuesOf(current)])];
        }
        current = next;
        loadedAt = clock.now();
        lastError = undefined;
        if (outcome === 'changed') log.info({ source: described, reason: why }, 'Datadog keys re-read from the secret manager: new keys in use');
      } catch (err) {
        outcome = 'failed';
        // SecretsBootError messages never hold secret content; anything else is named by type only.
        lastError = err instanceof SecretsBootError ? err.message : `unexpected ${err instanceof Error ? err.name : typeof err}`;
        const kind = err instanceof SecretsBootError ? err.kind : undefined;
        log.warn({ source: described, reason: why, kind, error: lastError }, 're-reading the Datadog keys failed; keeping the current keys');
      }
      refreshes += 1;
      lastRefreshAt = clock.now();
      try {
        opts.onRefresh?.(outcome, why);
      } catch {
        // A metrics callback must not break key rotation.
      }
      return outcome;
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const store: CredentialStore = {
    current: () => current,

    secretValues: () => known,

    async refreshAfterAuthFailure(used) {
      if (source === undefined) return false;
      // Someone else already rotated the keys since `used` was handed out: retry with these.
      if (!sameCredentials(used, current)) return true;
      if (!inFlight && lastAttemptStartedAt !== undefined && clock.now() - lastAttemptStartedAt < minInterval) return false;
      await refresh('auth_failure');
      return !sameCredentials(used, current);
    },

    state() {
      const now = clock.now();
      return {
        source: described,
        loadedAt,
        ageS: Math.max(0, Math.floor((now - loadedAt) / 1000)),
        refreshes,
        ...(lastRefreshAt !== undefined ? { lastRefreshAt } : {}),
        ...(lastError !== undefined ? { lastError } : {}),
      };
    },

    start() {
      const interval = opts.refreshIntervalMs;
      if (source === undefined || interval === undefined || stopper !== undefined) return;
      const controller = new AbortController();
      stopper = controller;
      void (async () => {
        while (!controller.signal.aborted) {
          try {
            await sleep(interval, controller.signal);
          } catch {
            return; // stopped
          }
          await refresh('periodic');
        }
      })();
    },

    stop() {
      stopper?.abort();
      stopper = undefined;
    },
  };
  return store;
}
