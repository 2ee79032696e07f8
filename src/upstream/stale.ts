import { signalName, type Family } from '../upstream-call.ts';
import type { Warning } from '../warnings.ts';
import type { BudgetDenied } from './budget.ts';
import { ShareDenied } from './fair-share.ts';

/**
 * The budget's stale fallback (the rare path): a cached answer served because the gate
 * refused the call says so in `meta.warnings`. Hits and stale-while-revalidate answers are
 * served as their bytes; only this path parses, adds the warning and serialises again.
 */

/** Why a cached answer is served instead of a fresh one. */
export function budgetWarning(denied: BudgetDenied, family: Family, ageS: number): Warning {
  if (denied instanceof ShareDenied) return denied.staleWarning(ageS);
  const why =
    denied.reason === 'reserve'
      ? 'is down to the reserve kept for requests with nothing cached'
      : denied.reason === 'pacing'
        ? `is being spread to last until its reset (in ${denied.retryAfterS} s)`
        : `is spent (next call in ${denied.retryAfterS} s)`;
  return { code: `budget_${denied.reason}`, message: `Datadog's ${signalName(family)} budget ${why}; this answer is from the cache, ${ageS} s old` };
}

/**
 * The answer with `warning` added to its `meta.warnings`. Answers without that list (the Tinkr
 * routes' shapes) have nowhere to say it and are returned as they are.
 */
export function withWarning(bytes: Buffer, warning: Warning): Buffer {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes;
  }
  const meta = (body as { meta?: { warnings?: unknown } } | null)?.meta;
  if (!meta || !Array.isArray(meta.warnings)) return bytes;
  meta.warnings.push(warning);
  return Buffer.from(JSON.stringify(body), 'utf8');
}
