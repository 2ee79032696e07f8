import { backgroundSleep, type Clock } from '../clock.ts';
import type { KeyVerdict } from '../datadog/validate.ts';
import type { DatadogCredentials } from '../secrets/types.ts';

/**
 * Whether Datadog accepts the keys the server holds (docs/operations.md#keys-checked-at-boot). Wrong keys used to give a
 * ready server that answered 502 to every query; now `/readyz` stays 503 until Datadog accepts
 * them. Checked once the server listens, re-checked with back-off until they work (asking the
 * secret manager for new keys on the way), and again whenever the keys are re-read (a rotation,
 * the periodic refresh). The process keeps running either way: the fix is usually a rotation.
 */

export type KeyStatus = 'unchecked' | 'ok' | 'rejected' | 'unreachable';

export interface KeyCheckState {
  status: KeyStatus;
  /** When the last check ended (epoch ms); undefined before the first. */
  checkedAt?: number;
  /** Rejected: which key and how (`the API key (HTTP 403)`); unreachable: why. Never a key. */
  detail?: string;
}

/** Longest one check may take: Datadog validating a key slower than this is as good as unreachable. */
export const KEY_CHECK_TIMEOUT_MS = 10_000;
/** First re-check after a failure: soon, so a blip at start-up costs seconds of readiness, not minutes. */
export const KEY_RECHECK_MIN_MS = 5_000;
/**
 * Re-checks back off (doubling) to this: a key that stays wrong costs Datadog two calls per five
 * minutes, and a key fixed at Datadog's end is noticed within five minutes. A rotation through
 * the secret manager is noticed sooner: every re-check asks it for new keys first.
 */
export const KEY_RECHECK_MAX_MS = 300_000;

/** Checks one pair of keys; never throws (datadog/validate.ts). */
export type KeyValidator = (credentials: DatadogCredentials, signal: AbortSignal) => Promise<KeyVerdict>;

export interface KeyCheckerOptions {
  validate: KeyValidator;
  /** The credential store: the keys to check, and a re-read when Datadog refused them (rate-limited there). */
  credentials: { current(): DatadogCredentials; refreshAfterAuthFailure(used: DatadogCredentials): Promise<boolean> };
  clock: Clock;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Named in every message: the site, and the base URL when `api_url` overrides it. */
  where: { site: string; apiUrl?: string | undefined };
  /** Every new status (metrics). */
  onStatus?: (status: KeyStatus) => void;
  timeoutMs?: number;
  retry?: { minMs: number; maxMs: number };
}

export interface KeyChecker {
  state(): KeyCheckState;
  /** Starts checking in the background. */
  start(): void;
  /** The keys may have changed: check again now (once the check in progress, if any, is done). */
  recheck(): void;
  stop(): void;
}

/** One check, bounded by `timeoutMs` on the clock. */
export async function checkOnce(validate: KeyValidator, credentials: DatadogCredentials, clock: Clock, timeoutMs: number, stop?: AbortSignal): Promise<KeyVerdict> {
  const deadline = new AbortController();
  const onStop = (): void => deadline.abort();
  stop?.addEventListener('abort', onStop, { once: true });
  const timer = new AbortController();
  void clock.sleep(timeoutMs, timer.signal).then(
    () => deadline.abort(),
    () => {},
  );
  try {
    return await validate(credentials, deadline.signal);
  } finally {
    timer.abort();
    stop?.removeEventListener('abort', onStop);
  }
}

/** `datadoghq.eu`, or `datadoghq.eu via https://proxy.internal` when `api_url` is set. */
export function describeSite(where: KeyCheckerOptions['where']): string {
  return where.apiUrl ? `${where.site} via ${where.apiUrl}` : where.site;
}

/** Why `/readyz` says not ready because of the keys; undefined once Datadog accepted them. `site` only: the page is public. */
export function notReadyReason(state: KeyCheckState, site: string): string | undefined {
  switch (state.status) {
    case 'ok':
      return undefined;
    case 'unchecked':
      return `checking the Datadog keys with ${site}`;
    case 'rejected':
      return `the Datadog keys were rejected by ${site}: ${state.detail ?? 'refused'}; they are re-checked with back-off and after a rotation`;
    case 'unreachable':
      return `could not check the Datadog keys with ${site} (${state.detail ?? 'no answer'}); retrying with back-off`;
  }
}

/** The verdict as a state detail: which key was refused and how, or why there was no answer. */
export function verdictDetail(verdict: KeyVerdict): string | undefined {
  if (verdict.outcome === 'rejected') return `the ${verdict.key === 'api' ? 'API' : 'application'} key (HTTP ${verdict.status})`;
  if (verdict.outcome === 'unreachable') return verdict.reason;
  return undefined;
}

export function createKeyChecker(options: KeyCheckerOptions): KeyChecker {
  const { clock, log, credentials } = options;
  const timeoutMs = options.timeoutMs ?? KEY_CHECK_TIMEOUT_MS;
  const retry = options.retry ?? { minMs: KEY_RECHECK_MIN_MS, maxMs: KEY_RECHECK_MAX_MS };
  const sleep = backgroundSleep(clock);
  const site = describeSite(options.where);
  const fields = { site: options.where.site, ...(options.where.apiUrl ? { api_url: options.where.apiUrl } : {}) };

  let state: KeyCheckState = { status: 'unchecked' };
  let stopper: AbortController | undefined;
  let recheckRequested = false;
  let wake: (() => void) | undefined;

  function record(verdict: KeyVerdict, retryInMs: number | undefined): void {
    const status: KeyStatus = verdict.outcome === 'accepted' ? 'ok' : verdict.outcome;
    const detail = verdictDetail(verdict);
    const changed = status !== state.status || detail !== state.detail;
    state = { status, checkedAt: clock.now(), ...(detail !== undefined ? { detail } : {}) };
    if (!changed) return;
    options.onStatus?.(status);
    const retryIn = retryInMs === undefined ? {} : { retry_in_s: Math.round(retryInMs / 1000) };
    if (verdict.outcome === 'accepted') {
      log.info(fields, `Datadog (${site}) accepted the keys`);
    } else if (verdict.outcome === 'rejected') {
      // The one line an operator needs: who refused which key, what happens now, what to do.
      const name = verdict.key === 'api' ? 'DD_API_KEY' : 'DD_APP_KEY';
      log.error(
        { ...fields, key: verdict.key, status: verdict.status, ...retryIn },
        `Datadog (${site}) rejected ${detail}: /readyz answers 503 until the keys work; check ${name} and the site, or rotate the secret (the keys are re-checked on their own)`,
      );
    } else {
      log.warn({ ...fields, reason: verdict.reason, ...retryIn }, `could not check the Datadog keys with ${site}: ${verdict.reason}; /readyz answers 503 until it can`);
    }
  }

  /** Sleeps `ms` (or until recheck() when undefined), cut short by recheck() or stop. */
  async function pause(ms: number | undefined, stop: AbortSignal): Promise<void> {
    if (recheckRequested || stop.aborted) return;
    const nap = new AbortController();
    const cut = (): void => nap.abort();
    stop.addEventListener('abort', cut, { once: true });
    wake = cut;
    try {
      if (ms === undefined) await new Promise<void>((resolve) => nap.signal.addEventListener('abort', () => resolve(), { once: true }));
      else await sleep(ms, nap.signal).catch(() => {});
    } finally {
      wake = undefined;
      stop.removeEventListener('abort', cut);
    }
  }

  async function loop(stop: AbortSignal): Promise<void> {
    let failures = 0;
    while (!stop.aborted) {
      recheckRequested = false;
      const used = credentials.current();
      const verdict = await checkOnce(options.validate, used, clock, timeoutMs, stop);
      if (stop.aborted) return;
      if (verdict.outcome === 'accepted') {
        failures = 0;
        record(verdict, undefined);
        await pause(undefined, stop);
        continue;
      }
      failures++;
      const backoff = Math.min(retry.maxMs, retry.minMs * 2 ** Math.min(failures - 1, 30));
      record(verdict, backoff);
      if (recheckRequested) continue;
      // Refused keys may have been rotated in the secret manager already: ask for them first.
      if (verdict.outcome === 'rejected' && (await credentials.refreshAfterAuthFailure(used))) continue;
      await pause(backoff, stop);
    }
  }

  return {
    state: () => ({ ...state }),
    start() {
      if (stopper) return;
      stopper = new AbortController();
      void loop(stopper.signal);
    },
    recheck() {
      recheckRequested = true;
      wake?.();
    },
    stop() {
      stopper?.abort();
    },
  };
}
