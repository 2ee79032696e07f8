import { describe, expect, it } from 'vitest';
import { credentialsFromJson, credentialsFromPlaintexts, type SecretContext } from '../../src/secrets/payload.ts';
import { SecretsBootError } from '../../src/secrets/types.ts';
import { expectNoLeak } from './helpers/no-leak.ts';

const ctx: SecretContext = { provider: 'aws', secretRef: 'prod/datadog', location: 'region eu-west-1' };
const siteCtx: SecretContext = { ...ctx, secretRef: 'prod/dd-site (DD_SITE)' };

function failure(run: () => unknown): SecretsBootError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SecretsBootError);
    return err as SecretsBootError;
  }
  throw new Error('expected a SecretsBootError');
}

describe('credentialsFromJson', () => {
  it('trims values and keeps DD_SITE when it is one of the nine sites', () => {
    expect(credentialsFromJson('{"DD_API_KEY":" a1 ","DD_APP_KEY":"b2\\n","DD_SITE":"ddog-gov.com"}', ctx)).toEqual({
      apiKey: 'a1',
      appKey: 'b2',
      site: 'ddog-gov.com',
    });
  });

  it('keeps the other string values of the secret, nested ones too, for scrubbing only', () => {
    const text = JSON.stringify({ DD_API_KEY: 'a1', DD_APP_KEY: 'b2', DD_SITE: 'datadoghq.eu', DD_CLIENT_TOKEN: ' pub-token-1 ', n: 7, extra: { password: 'hunter2-secret' }, empty: '' });
    expect(credentialsFromJson(text, ctx)).toEqual({ apiKey: 'a1', appKey: 'b2', site: 'datadoghq.eu', otherSecrets: ['pub-token-1', 'hunter2-secret'] });
  });

  it('names the provider, ref and location in every error', () => {
    const err = failure(() => credentialsFromJson('[]', ctx));
    expect(err.message).toBe(
      'AWS Secrets Manager secret prod/datadog (region eu-west-1): is valid JSON but an array, not an object; expected keys DD_API_KEY, DD_APP_KEY and optionally DD_SITE',
    );
    expect([err.provider, err.secretRef, err.location, err.kind]).toEqual(['aws', 'prod/datadog', 'region eu-west-1', 'malformed']);
  });

  it('says a non-string value is the wrong type without showing it', () => {
    const err = failure(() => credentialsFromJson('{"DD_API_KEY":12345678,"DD_APP_KEY":"b"}', ctx));
    expect(err.kind).toBe('malformed');
    expect(err.message).toContain('DD_API_KEY is a number, not a string');
    expect(err.message).not.toContain('12345678');
  });

  it('refuses a key with whitespace inside, giving only its length', () => {
    const err = failure(() => credentialsFromJson('{"DD_API_KEY":"two words-7b1","DD_APP_KEY":"b"}', ctx));
    expect(err.kind).toBe('malformed');
    expect(err.message).toContain('DD_API_KEY contains whitespace or control characters (length 13)');
    expectNoLeak(err, 'words-7b1');
  });

  it('shows identifier-like key names but only counts the others, which might be values', () => {
    const err = failure(() => credentialsFromJson('{"api_key":"x","3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c":"y"}', ctx));
    expect(err.kind).toBe('missing_key');
    expect(err.message).toContain('present: api_key, 1 other name not shown');
    expectNoLeak(err, '3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c');
  });

  it('calls an empty object missing keys and a blank text empty', () => {
    expect(failure(() => credentialsFromJson('{}', ctx)).message).toContain('present: none');
    expect(failure(() => credentialsFromJson(' \n', ctx)).kind).toBe('empty');
    expect(failure(() => credentialsFromJson(undefined, ctx)).kind).toBe('empty');
  });
});

describe('credentialsFromPlaintexts', () => {
  it('trims each value', () => {
    expect(
      credentialsFromPlaintexts({
        DD_API_KEY: { text: 'a1\n', ctx },
        DD_APP_KEY: { text: '\tb2 ', ctx },
        DD_SITE: { text: 'datadoghq.eu\n', ctx: siteCtx },
      }),
    ).toEqual({ apiKey: 'a1', appKey: 'b2', site: 'datadoghq.eu' });
  });

  it('refuses a JSON object stored where a plaintext key belongs, without guessing', () => {
    const marker = 'LEAKMARKER-plaintext-json';
    const err = failure(() =>
      credentialsFromPlaintexts({ DD_API_KEY: { text: `{"DD_API_KEY":"${marker}"}`, ctx }, DD_APP_KEY: { text: 'b', ctx } }),
    );
    expect(err.kind).toBe('malformed');
    expect(err.message).toContain('for one JSON secret use `secret`');
    expectNoLeak(err, marker);
  });

  it('names the DD_SITE secret when its value is not a site, without the value', () => {
    const err = failure(() =>
      credentialsFromPlaintexts({ DD_API_KEY: { text: 'a', ctx }, DD_APP_KEY: { text: 'b', ctx }, DD_SITE: { text: 'datadoghq.con', ctx: siteCtx } }),
    );
    expect([err.kind, err.secretRef]).toEqual(['misconfigured', 'prod/dd-site (DD_SITE)']);
    expect(err.message).not.toContain('datadoghq.con');
  });

  it('calls a value-less or blank secret empty', () => {
    expect(failure(() => credentialsFromPlaintexts({ DD_API_KEY: { text: undefined, ctx }, DD_APP_KEY: { text: 'b', ctx } })).kind).toBe('empty');
    expect(failure(() => credentialsFromPlaintexts({ DD_API_KEY: { text: 'a', ctx }, DD_APP_KEY: { text: '\r\n', ctx } })).kind).toBe('empty');
  });
});
