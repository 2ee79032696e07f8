/**
 * Server-sent events framing (WHATWG HTML §9.2). A frame is `field: value` lines ending in a
 * blank line; `data` is one line of JSON here (JSON.stringify escapes every CR and LF inside
 * strings), so no payload can end a frame early or forge a field.
 */

/** An event with JSON data, and an id when given (the client echoes it as Last-Event-ID). */
export function sseEvent(event: string, data: unknown, id?: string): string {
  const idLine = id !== undefined && isEventId(id) ? `id: ${id}\n` : '';
  return `event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`;
}

/** A comment line: ignored by EventSource, seen by `curl -N`, and traffic that keeps proxies from timing out. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** How long an EventSource waits before it reconnects. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.round(ms))}\n\n`;
}

/** Longest event id sent or accepted back: Datadog log ids are a few dozen characters. */
export const MAX_EVENT_ID_LENGTH = 256;

/**
 * Whether `id` can be an SSE id: no CR, LF or NUL (they would end or break the field) and not
 * empty (an empty id resets the client's Last-Event-ID).
 */
export function isEventId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_EVENT_ID_LENGTH && !/[\r\n\0]/.test(id);
}
