import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import type { SecretSource } from '../../src/secrets/source.ts';
import { createCredentialStore, DEFAULT_MIN_REFRESH_INTERVAL_MS, type RefreshOutcome } from '../../src/secrets/store.ts';
import { type DatadogCredentials, SecretsBootError } from '../../src/secrets/types.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

const OLD: DatadogCredentials = { apiKey: 'old-api-key', appKey: 'old-app-key' };
const NEW: DatadogCredentials = { apiKey: 'new-api-key', appKey: 'new-app-key' };
const TIMEOUT_MS = 15_000;

/**
 * A SecretSource (our own narrow interface) whose fetches the test settles one by one, so
 * single-flight and ordering are observable without real time.
 */
class ScriptedSource implements SecretSource {
  readonly provider = 'aws' as const;
  readonly secretRef = 'prod/datadog';
  readonly location = 'region eu-west-1';
  fetches = 0;
  #pending: Array<{ resolve(c: DatadogCredentials): void; reject(e: unknown): void }> = [];

  describe(): string {
    return 'AWS Secrets Manager secret prod/datadog (region eu-west-1)';
  }

  fetch(): Promise<DatadogCredentials> {
    this.fetches += 1;
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  async close(): Promise<void> {}

  get waiting(): number {
    return this.#pending.length;
  }

  answer(creds: DatadogCredentials): void {
    this.#pending.shift()?.resolve(creds);
  }

  fail(err: unknown): void {
    this.#pending.shift()?.reject(err);
  }
}

function setup(opts: { refreshIntervalMs?: number; minRefreshIntervalMs?: number; withSource?: boolean } = {}) {
  const clock = new ManualClock();
  const source = new ScriptedSource();
  const logs: Array<{ level: 'info' | 'warn'; obj: object; msg: string }> = [];
  const outcomes: RefreshOutcome[] = [];
  const store = createCredentialStore({
    initial: OLD,
    ...(opts.withSource === false ? {} : { source }),
    clock,
    timeoutMs: TIMEOUT_MS,
    ...(opts.refreshIntervalMs !== undefined ? { refreshIntervalMs: opts.refreshIntervalMs } : {}),
    ...(opts.minRefreshIntervalMs !== undefined ? { minRefreshIntervalMs: opts.minRefreshIntervalMs } : {}),
    log: { info: (obj, msg) => logs.push({ level: 'info', obj, msg }), warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }) },
    onRefresh: (o) => outcomes.push(o),
  });
  return { clock, source, store, logs, outcomes };
}

/** Lets promise callbacks run (no timers involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('credential store: re-fetch after a Datadog 401/403', () => {
  it('50 concurrent auth failures cause exactly one fetch, and all learn the keys changed', async () => {
    const { source, store, outcomes } = setup();
    const results = Promise.all(Array.from({ length: 50 }, () => store.refreshAfterAuthFailure(OLD)));
    await settle();
    expect(source.fetches).toBe(1);
    source.answer(NEW);
    expect(await results).toEqual(Array(50).fill(true));
    expect(store.current()).toEqual(NEW);
    expect(source.fetches).toBe(1);
    expect(outcomes).toEqual(['changed']);
  });

  it('answers true at once, without fetching, when the keys already changed since `used`', async () => {
    const { source, store } = setup();
    const first = store.refreshAfterAuthFailure(OLD);
    await settle();
    source.answer(NEW);
    await first;
    // A request that still carried the old keys fails later: it just retries with the new ones.
    expect(await store.refreshAfterAuthFailure(OLD)).toBe(true);
    expect(source.fetches).toBe(1);
  });

  it('answers false when the re-read keys are the same (the key is just wrong)', async () => {
    const { source, store, outcomes, logs } = setup();
    const result = store.refreshAfterAuthFailure(OLD);
    await settle();
    source.answer({ ...OLD });
    expect(await result).toBe(false);
    expect(outcomes).toEqual(['unchanged']);
    expect(logs).toEqual([]);
  });

  it('re-fetches at most once per minRefreshIntervalMs (default 60 s)', async () => {
    const { clock, source, store } = setup();
    const first = store.refreshAfterAuthFailure(OLD);
    await settle();
    source.answer({ ...OLD });
    expect(await first).toBe(false);

    clock.advance(DEFAULT_MIN_REFRESH_INTERVAL_MS - 1);
    expect(await store.refreshAfterAuthFailure(OLD)).toBe(false);
    expect(source.fetches).toBe(1);

    clock.advance(1);
    const third = store.refreshAfterAuthFailure(OLD);
    await settle();
    expect(source.fetches).toBe(2);
    source.answer(NEW);
    expect(await third).toBe(true);
  });

  it('a failed re-fetch keeps the old keys, logs a safe reason, never throws, and shows in state()', async () => {
    const { clock, source, store, logs, outcomes } = setup();
    const result = store.refreshAfterAuthFailure(OLD);
    await settle();
    clock.advance(2_000);
    source.fail(
      new SecretsBootError({ provider: 'aws', secretRef: 'prod/datadog', location: 'region eu-west-1', kind: 'access_denied' }, 'access denied'),
    );
    expect(await result).toBe(false);
    expect(store.current()).toEqual(OLD);
    expect(outcomes).toEqual(['failed']);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'warn', obj: { kind: 'access_denied', reason: 'auth_failure' } });
    const state = store.state();
    expect(state).toMatchObject({ refreshes: 1, lastRefreshAt: clock.now() });
    expect(state.lastError).toBe('AWS Secrets Manager secret prod/datadog (region eu-west-1): access denied');
    // Nothing any log or state line holds may be a key.
    const everything = JSON.stringify({ logs, state });
    for (const key of [OLD.apiKey, OLD.appKey]) expect(everything).not.toContain(key);
  });

  it('an unexpected failure is named by type only', async () => {
    const { source, store } = setup();
    const result = store.refreshAfterAuthFailure(OLD);
    await settle();
    source.fail(new TypeError(`something with ${NEW.apiKey} in it`));
    expect(await result).toBe(false);
    expect(store.state().lastError).toBe('unexpected TypeError');
  });

  it('a re-fetch that hangs is cut at timeoutMs and counts as failed', async () => {
    const { clock, source, store, outcomes } = setup();
    const result = store.refreshAfterAuthFailure(OLD);
    await settle();
    expect(source.waiting).toBe(1);
    clock.advance(TIMEOUT_MS);
    expect(await result).toBe(false);
    expect(outcomes).toEqual(['failed']);
    expect(store.state().lastError).toContain('no answer within 15000 ms');
  });

  it('without a source (env-only keys) refresh is a no-op returning false', async () => {
    const { store, outcomes } = setup({ withSource: false });
    expect(await store.refreshAfterAuthFailure(OLD)).toBe(false);
    expect(store.current()).toEqual(OLD);
    expect(store.state().source).toBe('environment');
    expect(outcomes).toEqual([]);
  });
});

describe('credential store: periodic refresh and state', () => {
  it('re-reads every refreshIntervalMs, and stop() ends it', async () => {
    const { clock, source, store, logs } = setup({ refreshIntervalMs: 3_600_000 });
    store.start();
    await settle();
    expect(clock.pendingSleeps).toBe(1);

    clock.advance(3_600_000);
    await settle();
    expect(source.fetches).toBe(1);
    source.answer(NEW);
    await settle();
    expect(store.current()).toEqual(NEW);
    expect(logs).toEqual([expect.objectContaining({ level: 'info', obj: expect.objectContaining({ reason: 'periodic' }) })]);

    clock.advance(3_600_000);
    await settle();
    expect(source.fetches).toBe(2);
    source.answer(NEW);
    await settle();

    store.stop();
    await settle();
    expect(clock.pendingSleeps).toBe(0);
    clock.advance(10 * 3_600_000);
    await settle();
    expect(source.fetches).toBe(2);
  });

  it('with the real clock the periodic timer does not keep the process alive', () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const store = createCredentialStore({
      initial: OLD,
      source: new ScriptedSource(),
      clock: systemClock,
      timeoutMs: TIMEOUT_MS,
      refreshIntervalMs: 3_600_000,
      log: { info: () => {}, warn: () => {} },
    });
    const before = timers();
    store.start();
    try {
      expect(timers()).toBe(before);
    } finally {
      store.stop();
    }
  });

  it('an auth failure during a periodic re-read joins it instead of fetching again', async () => {
    const { clock, source, store } = setup({ refreshIntervalMs: 60_000 });
    store.start();
    await settle();
    clock.advance(60_000);
    await settle();
    expect(source.fetches).toBe(1);
    const joined = store.refreshAfterAuthFailure(OLD);
    source.answer(NEW);
    expect(await joined).toBe(true);
    expect(source.fetches).toBe(1);
    store.stop();
  });

  it('reports source, age and refresh count', async () => {
    const { clock, source, store } = setup();
    const loadedAt = clock.now();
    clock.advance(90_500);
    expect(store.state()).toEqual({ source: source.describe(), loadedAt, ageS: 90, refreshes: 0 });

    const result = store.refreshAfterAuthFailure(OLD);
    await settle();
    source.answer(NEW);
    await result;
    expect(store.state()).toEqual({ source: source.describe(), loadedAt: clock.now(), ageS: 0, refreshes: 1, lastRefreshAt: clock.now() });
  });
});

describe('credential store: the secret values it knows, for scrubbing', () => {
  it('are the current keys and other values, then also those the last rotation replaced, and no older', async () => {
    const { clock, source, store } = setup();
    const initial = store.secretValues();
    expect(initial).toEqual([OLD.apiKey, OLD.appKey]);
    // The same array while nothing changes, so the scrubber keeps its pattern.
    expect(store.secretValues()).toBe(initial);

    const rotated = store.refreshAfterAuthFailure(OLD);
    await settle();
    source.answer({ ...NEW, otherSecrets: ['new-client-token'] });
    expect(await rotated).toBe(true);
    expect([...store.secretValues()].sort()).toEqual([NEW.apiKey, NEW.appKey, 'new-client-token', OLD.apiKey, OLD.appKey].sort());

    const third: DatadogCredentials = { apiKey: 'third-api-key', appKey: 'third-app-key' };
    clock.advance(DEFAULT_MIN_REFRESH_INTERVAL_MS);
    const again = store.refreshAfterAuthFailure({ ...NEW, otherSecrets: ['new-client-token'] });
    await settle();
    source.answer(third);
    await again;
    expect([...store.secretValues()].sort()).toEqual([third.apiKey, third.appKey, NEW.apiKey, NEW.appKey, 'new-client-token'].sort());
  });
});
