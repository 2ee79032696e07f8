import type { Scrub } from '../secrets/scrub.ts';
import { asObject } from './shape.ts';

/**
 * Scrubs, in a freshly parsed Datadog answer, every piece of Datadog's own text that is passed on
 * to callers, so that neither the caller nor the cache ever holds a secret it quotes:
 *
 * - a metrics answer's `error` (`status: "error"`), relayed as UPSTREAM_BAD_QUERY (metrics.ts);
 * - a search answer's `meta.warnings` (`code`, `title`, `detail`), relayed as warnings (shape.ts).
 *
 * Error bodies (non-2xx) are scrubbed where their message is read (client.ts). A reader that
 * starts relaying another piece of Datadog's text adds it here.
 */
export function scrubRelayedText(body: unknown, scrub: Scrub): void {
  const root = asObject(body);
  if (typeof root.error === 'string') root.error = scrub(root.error);
  const warnings = asObject(root.meta).warnings;
  if (!Array.isArray(warnings)) return;
  for (const item of warnings) {
    const warning = asObject(item);
    for (const field of ['code', 'title', 'detail'] as const) {
      if (typeof warning[field] === 'string') warning[field] = scrub(warning[field]);
    }
  }
}
