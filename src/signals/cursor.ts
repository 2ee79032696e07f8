import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { badRequest } from '../errors.ts';
import { shortHash } from '../hash.ts';

/**
 * `next_cursor`: an opaque, signed, expiring token. It pins the absolute range of the first
 * page (so page 2 neither overlaps nor skips page 1 while "now" moves) and a fingerprint of the
 * query parameters (so it cannot be replayed against another query).
 */
export interface CursorState {
  kind: 'logs' | 'spans';
  /** Fingerprint of the parameters that define the result set. */
  fingerprint: string;
  fromMs: number;
  toMs: number;
  /** The time bucket the first page's range was snapped to (0: absolute), for `meta.bucket_s`. */
  stepMs: number;
  /** Datadog's own cursor for the next page. */
  after: string;
}

/** Cursors outlive a dashboard refresh or a person reading a page, not a working day. */
export const CURSOR_TTL_MS = 60 * 60 * 1000;
/** Longest cursor accepted; Datadog's cursors are a few hundred characters. */
export const MAX_CURSOR_LENGTH = 4096;

/**
 * The HMAC keys of cursors: one signs, and each of a few verifies (the one that signs, plus keys
 * still honoured for cursors issued earlier). A fixed secret is both; redis/cursor-keys.ts
 * shares one key among replicas.
 */
export interface CursorKeys {
  signing(): Uint8Array;
  verifying(): readonly Uint8Array[];
}

export interface CursorCodec {
  /**
   * A signed token for `state`, valid for the cursor lifetime after `servedUntil` (default now):
   * a cursor inside a cached answer is valid for as long as that answer may be served, plus
   * the usual lifetime, and then expires.
   */
  encode(state: CursorState, servedUntil?: number): string;
  /** The state, or BAD_REQUEST when the cursor is forged, expired, or for other parameters. */
  decode(token: string, kind: CursorState['kind'], fingerprint: string): CursorState;
}

export function createCursorCodec(secret: Uint8Array | CursorKeys, clock: Clock, ttlMs = CURSOR_TTL_MS): CursorCodec {
  const keys: CursorKeys = secret instanceof Uint8Array ? { signing: () => secret, verifying: () => [secret] } : secret;
  // Each key imported once: an HMAC over raw key bytes imports them again on every call.
  const imported = new WeakMap<Uint8Array, KeyObject>();
  const keyObject = (key: Uint8Array): KeyObject => {
    let object = imported.get(key);
    if (!object) imported.set(key, (object = createSecretKey(key)));
    return object;
  };
  const mac = (key: Uint8Array, payload: string) => createHmac('sha256', keyObject(key)).update(payload).digest();
  const sign = (payload: string) => mac(keys.signing(), payload);
  const signedByOneOf = (payload: string, given: Buffer) =>
    keys.verifying().some((key) => {
      const expected = mac(key, payload);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  return {
    encode(state, servedUntil) {
      const expires = Math.max(clock.now(), servedUntil ?? 0) + ttlMs;
      const payload = Buffer.from(
        JSON.stringify({ k: state.kind, p: state.fingerprint, f: state.fromMs, t: state.toMs, s: state.stepMs, a: state.after, e: expires }),
      ).toString('base64url');
      return `${payload}.${sign(payload).toString('base64url')}`;
    },
    decode(token, kind, fingerprint) {
      const invalid = () => badRequest('cursor', 'not a cursor issued by this server (or it was altered)');
      if (token.length > MAX_CURSOR_LENGTH) throw invalid();
      const [payload, signature, ...rest] = token.split('.');
      if (!payload || !signature || rest.length > 0) throw invalid();
      if (!signedByOneOf(payload, Buffer.from(signature, 'base64url'))) throw invalid();
      let parsed: { k?: unknown; p?: unknown; f?: unknown; t?: unknown; s?: unknown; a?: unknown; e?: unknown };
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        throw invalid();
      }
      if (typeof parsed.e !== 'number' || parsed.e < clock.now()) {
        throw badRequest('cursor', 'the cursor has expired; start again without it');
      }
      if (parsed.k !== kind || parsed.p !== fingerprint) {
        throw badRequest('cursor', 'the cursor belongs to a different query; repeat the original parameters with it');
      }
      if (typeof parsed.f !== 'number' || typeof parsed.t !== 'number' || typeof parsed.a !== 'string') throw invalid();
      const stepMs = typeof parsed.s === 'number' && Number.isFinite(parsed.s) && parsed.s >= 0 ? parsed.s : 0;
      return { kind, fingerprint, fromMs: parsed.f, toMs: parsed.t, stepMs, after: parsed.a };
    },
  };
}

/** A short, stable fingerprint of the parameters that define a result set. */
export function fingerprint(parts: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.keys(parts).sort().map((k) => [k, parts[k] ?? null]));
  return shortHash(canonical, 22);
}
