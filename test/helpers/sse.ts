import { eventually } from './eventually.ts';

/**
 * A small server-sent events client over fetch's body stream, parsing frames as the WHATWG
 * spec says (fields, comments, blank-line dispatch, CR/LF/CRLF line ends), keeping everything
 * it received so a test can poll for conditions on it.
 */

export interface SseEvent {
  event: string;
  /** The frame's `id:` field, when it had one. */
  id: string | undefined;
  data: string;
}

export interface SseClient {
  status: number;
  headers: Headers;
  /** The body of a refused (non-200) request. */
  text: string;
  /** Events received so far, in order. */
  readonly events: SseEvent[];
  /** Comment lines received so far (without the colon). */
  readonly comments: string[];
  /** The last `retry:` value. */
  readonly retry: number | undefined;
  /** The id an EventSource would send as Last-Event-ID now. */
  readonly lastEventId: string | undefined;
  /** True once the server ended the stream. */
  readonly ended: boolean;
  /** Ids of the `log` events, in order. */
  logIds(): string[];
  /** Parsed `data` of the events named `event`. */
  data<T = any>(event: string): T[];
  /** Waits (bounded) until `check` holds on what was received. */
  until(check: (client: SseClient) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Hangs up. */
  close(): void;
}

export async function openSse(url: string, init: { headers?: Record<string, string> } = {}): Promise<SseClient> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...init.headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  let lastEventId: string | undefined;
  let ended = false;
  let text = '';

  const client: SseClient = {
    status: response.status,
    headers: response.headers,
    get text() {
      return text;
    },
    events,
    comments,
    get retry() {
      return retry;
    },
    get lastEventId() {
      return lastEventId;
    },
    get ended() {
      return ended;
    },
    logIds: () => events.filter((e) => e.event === 'log').map((e) => e.id!),
    data: (event) => events.filter((e) => e.event === event).map((e) => JSON.parse(e.data)),
    until: (check, what, timeoutMs) => eventually(() => check(client), what, timeoutMs),
    close: () => abort.abort(),
  };

  if (response.status !== 200 || !response.body) {
    text = await response.text();
    ended = true;
    return client;
  }

  // The frame being read.
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let pending = '';
  const line = (raw: string): void => {
    if (raw === '') {
      if (data.length > 0) events.push({ event: event || 'message', id, data: data.join('\n') });
      event = '';
      data = [];
      id = undefined;
      return;
    }
    if (raw.startsWith(':')) {
      comments.push(raw.slice(1).trim());
      return;
    }
    const colon = raw.indexOf(':');
    const field = colon < 0 ? raw : raw.slice(0, colon);
    const value = colon < 0 ? '' : raw.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) {
      id = value;
      lastEventId = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  };

  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        pending += decoder.decode(chunk, { stream: true });
        const parts = pending.split(/\r\n|\r|\n/);
        pending = parts.pop()!;
        for (const part of parts) line(part);
      }
    } catch {
      // Aborted by close(), or the connection was cut.
    } finally {
      ended = true;
    }
  })();
  return client;
}
