/**
 * The one scrubber of text that comes from Datadog and is passed on (docs/secrets.md): an error
 * message, a search warning. Datadog may quote what it was sent, and a misconfigured proxy or a
 * key pasted in the wrong place can put a key into such text; every key and secret value known
 * now is replaced by `[redacted]` before the text reaches a caller, a log line or the cache.
 */

export const REDACTED = '[redacted]';

/**
 * Shorter values are not scrubbed: no real key or secret is this short (Datadog's keys have 32
 * and 40 characters), and replacing every "prod" or "true" would garble messages for nothing.
 */
export const MIN_SCRUBBED_LENGTH = 8;

/** Where the current secret values come from: the credential store (secrets/store.ts). */
export interface SecretValues {
  /** Every key and secret value in use (and those just rotated out); never logged. */
  secretValues(): readonly string[];
}

/** Returns the text with every known secret value replaced by REDACTED. */
export type Scrub = (text: string) => string;

const SPECIAL = /[.*+?^${}()|[\]\\]/g;

export function createScrubber(secrets: SecretValues): Scrub {
  // The values change only on rotation; the pattern is rebuilt only when they do.
  let seen: readonly string[] | undefined;
  let pattern: RegExp | undefined;
  return (text) => {
    const values = secrets.secretValues();
    if (values !== seen) {
      seen = values;
      const scrubbed = [...new Set(values.filter((v) => v.length >= MIN_SCRUBBED_LENGTH))]
        // Longest first, so a value that contains another is replaced whole.
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(SPECIAL, '\\$&'));
      // Case-insensitive: an echo that upper-cases a hex key must not get through.
      pattern = scrubbed.length > 0 ? new RegExp(scrubbed.join('|'), 'gi') : undefined;
    }
    return pattern && text.length > 0 ? text.replace(pattern, REDACTED) : text;
  };
}
