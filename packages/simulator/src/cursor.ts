import { createHash } from 'node:crypto';

/**
 * Paging cursors (`meta.page.after` → `page.cursor`). A cursor is opaque to clients: base64url
 * JSON of the position of the last event returned, the absolute range the first page resolved
 * (so `now-15m` does not drift between pages, as with Datadog) and a fingerprint of the query.
 * A cursor presented with a different query, sort, index list or tier is rejected.
 */

export interface CursorState {
  /** Fingerprint of what the cursor was issued for. */
  readonly query: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** Position of the last event returned. */
  readonly ms: number;
  readonly id: string;
}

const CURSOR_VERSION = 1;
/** Cursors longer than this are not ours; bounds the JSON we are willing to parse. */
const MAX_CURSOR_LENGTH = 1_024;

/** A short stable fingerprint of the parts of a request that a cursor is tied to. */
export function fingerprint(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, state.query, state.fromMs, state.toMs, state.ms, state.id])).toString('base64url');
}

/** The state inside a cursor, or undefined when it is not a cursor this simulator issued. */
export function decodeCursor(cursor: string): CursorState | undefined {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 6 || parsed[0] !== CURSOR_VERSION) return undefined;
  const [, query, fromMs, toMs, ms, id] = parsed as unknown[];
  if (typeof query !== 'string' || typeof id !== 'string') return undefined;
  if (![fromMs, toMs, ms].every((n) => Number.isSafeInteger(n))) return undefined;
  return { query, fromMs: fromMs as number, toMs: toMs as number, ms: ms as number, id };
}
