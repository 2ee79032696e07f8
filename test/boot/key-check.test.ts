import { afterEach, describe, expect, it, vi } from 'vitest';
import { createKeyChecker, KEY_CHECK_TIMEOUT_MS, KEY_RECHECK_MAX_MS, KEY_RECHECK_MIN_MS, notReadyReason, type KeyChecker, type KeyStatus } from '../../src/boot/key-check.ts';
import type { KeyVerdict } from '../../src/datadog/validate.ts';
import type { DatadogCredentials } from '../../src/secrets/types.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/**
 * The key check's loop on an injected clock, with a scripted validator: when it checks, how it
 * backs off (and within which bounds), when it asks the secret manager for new keys, what it
 * logs and reports. The real calls to Datadog are in test/datadog/validate.test.ts; the whole
 * server in test/boot/keys-at-boot.test.ts and test/boot/rotation.test.ts.
 */

const GOOD: DatadogCredentials = { apiKey: 'good-api', appKey: 'good-app' };
const BAD: DatadogCredentials = { apiKey: 'bad-api', appKey: 'good-app' };

interface Harness {
  checker: KeyChecker;
  clock: ManualClock;
  /** Check times (ms since start) and the keys checked. */
  checks: Array<{ at: number; keys: DatadogCredentials }>;
  statuses: KeyStatus[];
  logs: Array<{ level: string; obj: Record<string, unknown>; msg: string }>;
  refreshes: number;
  /** What the next re-read of the secret manager brings. */
  rotateTo: DatadogCredentials | undefined;
}

let running: KeyChecker | undefined;
afterEach(() => running?.stop());

function harness(verdictFor: (keys: DatadogCredentials) => KeyVerdict | Promise<KeyVerdict>, initial = GOOD): Harness {
  const clock = new ManualClock();
  const start = clock.now();
  let current = initial;
  const h: Harness = {
    clock,
    checks: [],
    statuses: [],
    logs: [],
    refreshes: 0,
    rotateTo: undefined,
    checker: undefined as unknown as KeyChecker,
  };
  const log = (level: string) => (obj: object, msg: string) => void h.logs.push({ level, obj: obj as Record<string, unknown>, msg });
  h.checker = createKeyChecker({
    validate: async (keys) => {
      h.checks.push({ at: clock.now() - start, keys });
      return verdictFor(keys);
    },
    credentials: {
      current: () => current,
      refreshAfterAuthFailure: async (used) => {
        h.refreshes++;
        if (h.rotateTo && used === current) current = h.rotateTo;
        return current !== used;
      },
    },
    clock,
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    where: { site: 'datadoghq.eu', apiUrl: 'https://dd-proxy.internal' },
    onStatus: (status) => h.statuses.push(status),
  });
  running = h.checker;
  return h;
}

const rejectBad = (keys: DatadogCredentials): KeyVerdict => (keys.apiKey === GOOD.apiKey ? { outcome: 'accepted' } : { outcome: 'rejected', key: 'api', status: 403 });

/** Lets the loop run until it is parked on the clock (or on a recheck). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('the key check loop', () => {
  it('checks once at start, then waits for a recheck: no timer while the keys are good', async () => {
    const h = harness(rejectBad);
    expect(h.checker.state()).toEqual({ status: 'unchecked' });
    h.checker.start();
    await vi.waitFor(() => expect(h.checker.state().status).toBe('ok'));
    expect(h.checker.state().checkedAt).toBe(h.clock.now());
    expect(h.statuses).toEqual(['ok']);
    expect(h.logs).toEqual([{ level: 'info', obj: { site: 'datadoghq.eu', api_url: 'https://dd-proxy.internal' }, msg: 'Datadog (datadoghq.eu via https://dd-proxy.internal) accepted the keys' }]);
    await settle();
    expect(h.clock.pendingWaits()).toEqual([]);
    h.clock.advance(KEY_RECHECK_MAX_MS * 10);
    await settle();
    expect(h.checks).toHaveLength(1);

    h.checker.recheck();
    await vi.waitFor(() => expect(h.checks).toHaveLength(2));
    // Same verdict: no new log line, no new status.
    expect(h.logs).toHaveLength(1);
    expect(h.statuses).toEqual(['ok']);
  });

  it('backs off from KEY_RECHECK_MIN_MS, doubling up to KEY_RECHECK_MAX_MS, asking for new keys before each wait; one error line', async () => {
    const h = harness(rejectBad, BAD);
    h.checker.start();
    let wait = KEY_RECHECK_MIN_MS;
    const waits: number[] = [];
    for (let i = 0; i < 10; i++, wait = Math.min(KEY_RECHECK_MAX_MS, wait * 2)) {
      // Parked on exactly this wait, and not a moment less: nothing happens at wait - 1.
      await vi.waitFor(() => expect(h.clock.pendingWaits()).toEqual([wait]));
      waits.push(wait);
      const checks = h.checks.length;
      h.clock.advance(wait - 1);
      await settle();
      expect(h.checks).toHaveLength(checks);
      h.clock.advance(1);
      await vi.waitFor(() => expect(h.checks).toHaveLength(checks + 1));
    }
    expect(waits.slice(0, 4)).toEqual([KEY_RECHECK_MIN_MS, 2 * KEY_RECHECK_MIN_MS, 4 * KEY_RECHECK_MIN_MS, 8 * KEY_RECHECK_MIN_MS]);
    expect(waits.at(-1)).toBe(KEY_RECHECK_MAX_MS);
    // Each refusal asked the secret manager for new keys first (the store rate-limits the reads).
    await vi.waitFor(() => expect(h.refreshes).toBe(h.checks.length));
    expect(h.checker.state()).toMatchObject({ status: 'rejected', detail: 'the API key (HTTP 403)' });
    expect(h.statuses).toEqual(['rejected']);
    expect(h.logs.filter((l) => l.level === 'error')).toHaveLength(1);
    const error = h.logs.find((l) => l.level === 'error')!;
    expect(error.obj).toMatchObject({ site: 'datadoghq.eu', api_url: 'https://dd-proxy.internal', key: 'api', status: 403, retry_in_s: KEY_RECHECK_MIN_MS / 1000 });
    expect(error.msg).toBe(
      'Datadog (datadoghq.eu via https://dd-proxy.internal) rejected the API key (HTTP 403): /readyz answers 503 until the keys work; check DD_API_KEY and the site, or rotate the secret (the keys are re-checked on their own)',
    );
  });

  it('backs off the same way while Datadog cannot be reached, without asking for new keys; one warning', async () => {
    const h = harness(() => ({ outcome: 'unreachable', reason: '/api/v1/validate answered HTTP 503' }));
    h.checker.start();
    for (const wait of [KEY_RECHECK_MIN_MS, 2 * KEY_RECHECK_MIN_MS, 4 * KEY_RECHECK_MIN_MS]) {
      await vi.waitFor(() => expect(h.clock.pendingWaits()).toEqual([wait]));
      h.clock.advance(wait);
    }
    await vi.waitFor(() => expect(h.checks).toHaveLength(4));
    expect(h.refreshes).toBe(0);
    expect(h.checker.state()).toMatchObject({ status: 'unreachable', detail: '/api/v1/validate answered HTTP 503' });
    expect(h.logs.map((l) => l.level)).toEqual(['warn']);
    expect(h.logs[0]!.msg).toBe(
      'could not check the Datadog keys with datadoghq.eu via https://dd-proxy.internal: /api/v1/validate answered HTTP 503; /readyz answers 503 until it can',
    );
  });

  it('a rotation found at the first refusal is checked at once, without waiting', async () => {
    const h = harness(rejectBad, BAD);
    h.rotateTo = GOOD;
    h.checker.start();
    await vi.waitFor(() => expect(h.checker.state().status).toBe('ok'));
    expect(h.checks.map((c) => [c.at, c.keys.apiKey])).toEqual([
      [0, BAD.apiKey],
      [0, GOOD.apiKey],
    ]);
    expect(h.statuses).toEqual(['rejected', 'ok']);
  });

  it('recheck() cuts a back-off short (a rotation the store found on its own)', async () => {
    let good = false;
    const h = harness(() => (good ? { outcome: 'accepted' } : { outcome: 'rejected', key: 'application', status: 403 }));
    h.checker.start();
    await vi.waitFor(() => expect(h.clock.pendingWaits()).toEqual([KEY_RECHECK_MIN_MS]));
    expect(h.checker.state().detail).toBe('the application key (HTTP 403)');
    expect(h.logs[0]!.msg).toContain('check DD_APP_KEY');
    good = true;
    h.checker.recheck();
    await vi.waitFor(() => expect(h.checker.state().status).toBe('ok'));
    expect(h.checks.map((c) => c.at)).toEqual([0, 0]);
  });

  it('gives up on a check after KEY_CHECK_TIMEOUT_MS: unreachable', async () => {
    // A validator that answers only when its deadline aborts it, as the real one does.
    const clock = new ManualClock();
    const checker = createKeyChecker({
      validate: (_keys, signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve({ outcome: 'unreachable', reason: 'no answer to /api/v1/validate in time' }), { once: true })),
      credentials: { current: () => GOOD, refreshAfterAuthFailure: async () => false },
      clock,
      log: { info: () => {}, warn: () => {}, error: () => {} },
      where: { site: 'datadoghq.com' },
    });
    running = checker;
    checker.start();
    await vi.waitFor(() => expect(clock.pendingWaits()).toEqual([KEY_CHECK_TIMEOUT_MS]));
    clock.advance(KEY_CHECK_TIMEOUT_MS - 1);
    await settle();
    expect(checker.state().status).toBe('unchecked');
    clock.advance(1);
    await vi.waitFor(() => expect(checker.state()).toMatchObject({ status: 'unreachable', detail: 'no answer to /api/v1/validate in time' }));
  });

  it('stop() ends the loop: no further checks', async () => {
    const h = harness(rejectBad, BAD);
    h.checker.start();
    await vi.waitFor(() => expect(h.clock.pendingWaits()).toEqual([KEY_RECHECK_MIN_MS]));
    h.checker.stop();
    h.clock.advance(KEY_RECHECK_MAX_MS);
    await settle();
    expect(h.checks).toHaveLength(1);
  });
});

describe('notReadyReason', () => {
  it('says what /readyz says, naming the site only', () => {
    expect(notReadyReason({ status: 'ok', checkedAt: 1 }, 'datadoghq.eu')).toBeUndefined();
    expect(notReadyReason({ status: 'unchecked' }, 'datadoghq.eu')).toBe('checking the Datadog keys with datadoghq.eu');
    expect(notReadyReason({ status: 'rejected', checkedAt: 1, detail: 'the API key (HTTP 403)' }, 'datadoghq.eu')).toBe(
      'the Datadog keys were rejected by datadoghq.eu: the API key (HTTP 403); they are re-checked with back-off and after a rotation',
    );
    expect(notReadyReason({ status: 'unreachable', checkedAt: 1, detail: 'could not reach /api/v1/validate (ECONNREFUSED)' }, 'datadoghq.eu')).toBe(
      'could not check the Datadog keys with datadoghq.eu (could not reach /api/v1/validate (ECONNREFUSED)); retrying with back-off',
    );
  });
});
