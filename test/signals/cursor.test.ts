import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { createCursorCodec, CURSOR_TTL_MS, fingerprint } from '../../src/signals/cursor.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { thrown } from '../helpers/thrown.ts';

const secret = Buffer.from('0123456789abcdef0123456789abcdef');
const state = { kind: 'logs' as const, fingerprint: fingerprint({ q: 'a' }), fromMs: 1_000, toMs: 2_000, stepMs: 10_000, after: 'dd-cursor' };

const rejection = (fn: () => unknown) => thrown(fn, AppError);

describe('cursor codec', () => {
  it('round-trips the pinned range, its bucket and the upstream cursor', () => {
    const codec = createCursorCodec(secret, new ManualClock());
    expect(codec.decode(codec.encode(state), 'logs', state.fingerprint)).toEqual(state);
  });

  it('is tamper-proof', () => {
    const codec = createCursorCodec(secret, new ManualClock());
    const token = codec.encode(state);
    const [payload, signature] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), f: 0 })).toString('base64url');
    expect(rejection(() => codec.decode(`${forged}.${signature}`, 'logs', state.fingerprint)).message).toMatch(/not a cursor issued/);
    expect(rejection(() => codec.decode('garbage', 'logs', state.fingerprint)).code).toBe('BAD_REQUEST');
    const other = createCursorCodec(Buffer.from('another-secret-another-secret!!!'), new ManualClock());
    expect(rejection(() => other.decode(token, 'logs', state.fingerprint)).message).toMatch(/not a cursor issued/);
  });

  it('expires', () => {
    const clock = new ManualClock();
    const codec = createCursorCodec(secret, clock);
    const token = codec.encode(state);
    clock.advance(CURSOR_TTL_MS - 1);
    expect(codec.decode(token, 'logs', state.fingerprint).after).toBe('dd-cursor');
    clock.advance(2);
    expect(rejection(() => codec.decode(token, 'logs', state.fingerprint)).message).toMatch(/expired/);
  });

  it('inside an answer that may be served until later, expires its lifetime after that', () => {
    const clock = new ManualClock();
    const codec = createCursorCodec(secret, clock);
    const servedUntil = clock.now() + 2 * 60 * 60_000;
    const token = codec.encode(state, servedUntil);
    clock.set(servedUntil + CURSOR_TTL_MS - 1);
    expect(codec.decode(token, 'logs', state.fingerprint).after).toBe('dd-cursor');
    clock.advance(2);
    expect(rejection(() => codec.decode(token, 'logs', state.fingerprint)).message).toMatch(/expired/);
    // A moment already past is no reason to expire early.
    const fresh = codec.encode(state, clock.now() - 1_000);
    clock.advance(CURSOR_TTL_MS - 1);
    expect(codec.decode(fresh, 'logs', state.fingerprint).after).toBe('dd-cursor');
  });

  it('belongs to one query and one signal', () => {
    const codec = createCursorCodec(secret, new ManualClock());
    const token = codec.encode(state);
    expect(rejection(() => codec.decode(token, 'logs', fingerprint({ q: 'b' }))).message).toMatch(/different query/);
    expect(rejection(() => codec.decode(token, 'spans', state.fingerprint)).message).toMatch(/different query/);
  });

  it('fingerprints independent of key order, sensitive to values', () => {
    expect(fingerprint({ a: 1, b: 'x' })).toBe(fingerprint({ b: 'x', a: 1 }));
    expect(fingerprint({ a: 1, b: 'x' })).not.toBe(fingerprint({ a: 1, b: 'y' }));
    expect(fingerprint({ a: undefined })).toBe(fingerprint({ a: null }));
  });
});
