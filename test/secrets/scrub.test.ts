import { describe, expect, it } from 'vitest';
import { createScrubber, MIN_SCRUBBED_LENGTH, REDACTED } from '../../src/secrets/scrub.ts';

/** The one scrubber of upstream text (its use through the real server: test/routes/scrubbed-upstream-text.test.ts). */
describe('createScrubber', () => {
  const values = (...v: string[]) => ({ secretValues: () => v });

  it('replaces every occurrence of every value, whatever its case', () => {
    const scrub = createScrubber(values('abcdef0123456789', 'token-with.dots+and(parens)'));
    expect(scrub('key ABCDEF0123456789, again abcdef0123456789; token-with.dots+and(parens)!')).toBe(
      `key ${REDACTED}, again ${REDACTED}; ${REDACTED}!`,
    );
    // Regular-expression characters in a value are literal: "." does not match any character.
    expect(scrub('token-withXdots+and(parens)')).toBe('token-withXdots+and(parens)');
  });

  it('replaces a value containing another one whole', () => {
    const scrub = createScrubber(values('secret-value', 'secret-value-longer'));
    expect(scrub('x secret-value-longer y')).toBe(`x ${REDACTED} y`);
  });

  it(`leaves values under ${MIN_SCRUBBED_LENGTH} characters alone, and text without secrets unchanged`, () => {
    const scrub = createScrubber(values('prod', '', 'abcdefgh'));
    expect(scrub('env prod, abcdefgh')).toBe(`env prod, ${REDACTED}`);
    expect(createScrubber(values())('nothing to hide')).toBe('nothing to hide');
  });

  it('follows the values as they change (a rotation)', () => {
    let current = ['first-secret-value'];
    const scrub = createScrubber({ secretValues: () => current });
    expect(scrub('first-secret-value')).toBe(REDACTED);
    current = ['second-secret-value'];
    expect(scrub('first-secret-value second-secret-value')).toBe(`first-secret-value ${REDACTED}`);
  });
});
