import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { describe, expect, it } from 'vitest';
import type { UpstreamRequest } from '../../src/upstream-call.ts';
import { canonicalJson, keyFingerprint, requestKey } from '../../src/upstream/key.ts';

const request: UpstreamRequest = {
  family: 'logs',
  method: 'POST',
  path: '/api/v2/logs/events/search',
  body: { filter: { query: 'service:checkout', from: '2026-11-25T03:45:00.000Z', to: '2026-11-25T04:00:00.000Z' }, page: { limit: 10 } },
};

describe('cache keys', () => {
  it('are the same for equal requests whatever the key order', () => {
    const reordered: UpstreamRequest = { ...request, body: { page: { limit: 10 }, filter: { to: '2026-11-25T04:00:00.000Z', from: '2026-11-25T03:45:00.000Z', query: 'service:checkout' } } };
    expect(requestKey(reordered, '', 'o')).toBe(requestKey(request, '', 'o'));
    expect(canonicalJson({ b: [2, { d: 1, c: 0 }], a: null })).toBe('{"a":null,"b":[2,{"c":0,"d":1}]}');
  });

  it('differ by body, query string, path, partition and origin', () => {
    const key = requestKey(request, '', 'o');
    expect(requestKey({ ...request, body: { ...(request.body as object), page: { limit: 11 } } }, '', 'o')).not.toBe(key);
    expect(requestKey({ ...request, query: { a: '1' } }, '', 'o')).not.toBe(key);
    expect(requestKey({ ...request, path: '/api/v2/spans/events/search' }, '', 'o')).not.toBe(key);
    expect(requestKey(request, 'scope-a', 'o')).not.toBe(key);
    expect(requestKey(request, 'scope-a', 'o')).not.toBe(requestKey(request, 'scope-b', 'o'));
    expect(requestKey(request, '', 'other-site')).not.toBe(key);
  });

  it('contain nothing secret and nothing the caller wrote, only a hash', () => {
    const key = requestKey(request, 'scope-a', keyFingerprint(DEFAULT_DEMO_KEYS.apiKey));
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const part of [DEFAULT_DEMO_KEYS.apiKey, DEFAULT_DEMO_KEYS.appKey, 'checkout', 'scope-a']) expect(key).not.toContain(part);
  });

  it('name API keys by a short fingerprint that tells keys apart and reveals nothing', () => {
    const print = keyFingerprint(DEFAULT_DEMO_KEYS.apiKey);
    expect(print).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(DEFAULT_DEMO_KEYS.apiKey).not.toContain(print);
    expect(keyFingerprint(`${DEFAULT_DEMO_KEYS.apiKey}x`)).not.toBe(print);
    expect(keyFingerprint(DEFAULT_DEMO_KEYS.apiKey)).toBe(print);
  });
});
