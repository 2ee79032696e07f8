import { DEFAULT_DEMO_KEYS, type ApiKeys } from '@tinkr/datadog-simulator';

export interface DatadogAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: any;
  text: string;
}

/** Calls a (simulated) Datadog endpoint the way a client would: keys, JSON body. */
export async function callDatadog(
  baseUrl: string,
  path: string,
  options: { method?: string; body?: unknown; keys?: ApiKeys | null; signal?: AbortSignal } = {},
): Promise<DatadogAnswer> {
  const keys = options.keys === undefined ? DEFAULT_DEMO_KEYS : options.keys;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (keys) {
    headers['DD-API-KEY'] = keys.apiKey;
    headers['DD-APPLICATION-KEY'] = keys.appKey;
  }
  const init: RequestInit = { method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), headers };
  if (options.signal) init.signal = options.signal;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const res = await fetch(baseUrl + path, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text (malformed-body faults, HTML error pages).
  }
  return { status: res.status, headers: res.headers, body, text };
}
