import type { DatadogCredentials } from '../secrets/types.ts';
import type { DatadogRequest, DatadogTransport, RawResponse } from './client.ts';

/**
 * Asks Datadog whether a pair of keys works (docs/operations.md#keys-checked-at-boot), in the two
 * calls that tell the keys apart: `GET /api/v1/validate` checks the API key alone (Datadog answers
 * `{"valid":true}`, or 403), then the cheapest read that needs the application key too: one `GET
 * /api/v1/query` of `avg:system.cpu.user{*}` over the last minute.
 */

export type KeyVerdict =
  | { outcome: 'accepted' }
  /** Datadog refused this key; `status` is its answer (401 or 403, or 200 with `valid: false`). */
  | { outcome: 'rejected'; key: 'api' | 'application'; status: number }
  /** No usable answer: a connection failure, a timeout, a 5xx or an answer Datadog does not send. No secret in `reason`. */
  | { outcome: 'unreachable'; reason: string };

/** A metric every Datadog agent reports; the answer for one minute is a few hundred bytes. */
export const APP_KEY_PROBE_QUERY = 'avg:system.cpu.user{*}';
/** The probe reads the last minute: the shortest range Datadog answers with a point or two. */
const APP_KEY_PROBE_WINDOW_S = 60;

export const VALIDATE_REQUEST: DatadogRequest = { method: 'GET', path: '/api/v1/validate', apiKeyOnly: true };

/** The application-key probe for a check made at `nowMs`. */
export function appKeyProbe(nowMs: number): DatadogRequest {
  const to = Math.floor(nowMs / 1000);
  return { method: 'GET', path: '/api/v1/query', query: { from: String(to - APP_KEY_PROBE_WINDOW_S), to: String(to), query: APP_KEY_PROBE_QUERY } };
}

/** Checks the API key, then (if it passed) the application key. Never throws. */
export async function validateKeys(transport: DatadogTransport, credentials: DatadogCredentials, signal: AbortSignal, nowMs: number): Promise<KeyVerdict> {
  const api = await exchange(transport, VALIDATE_REQUEST, credentials, signal);
  if (typeof api === 'string') return { outcome: 'unreachable', reason: api };
  const apiVerdict = judge(api, 'api', validateBody(api));
  if (apiVerdict.outcome !== 'accepted') return apiVerdict;

  const app = await exchange(transport, appKeyProbe(nowMs), credentials, signal);
  if (typeof app === 'string') return { outcome: 'unreachable', reason: app };
  return judge(app, 'application', 'ok');
}

/** The answer, or why there is none. */
async function exchange(transport: DatadogTransport, request: DatadogRequest, credentials: DatadogCredentials, signal: AbortSignal): Promise<RawResponse | string> {
  try {
    return await transport.request(request, credentials, signal);
  } catch (error) {
    if (signal.aborted) return `no answer to ${request.path} in time`;
    // The code only (ECONNREFUSED, ENOTFOUND, UND_ERR_CONNECT_TIMEOUT): messages may quote hosts and headers.
    const code = (error as { code?: unknown } | null)?.code;
    return `could not reach ${request.path} (${typeof code === 'string' ? code : error instanceof Error ? error.name : 'error'})`;
  }
}

/** What a 200 from validate says: Datadog's `{"valid": true}`, `false`, or something else entirely. */
function validateBody(response: RawResponse): 'ok' | 'invalid' | 'foreign' {
  if (response.status !== 200) return 'ok';
  try {
    const valid = (JSON.parse(response.text) as { valid?: unknown } | null)?.valid;
    return valid === true ? 'ok' : valid === false ? 'invalid' : 'foreign';
  } catch {
    return 'foreign';
  }
}

function judge(response: RawResponse, key: 'api' | 'application', body: 'ok' | 'invalid' | 'foreign'): KeyVerdict {
  const { status } = response;
  const path = key === 'api' ? VALIDATE_REQUEST.path : '/api/v1/query';
  if (status === 401 || status === 403 || body === 'invalid') return { outcome: 'rejected', key, status };
  if (body === 'foreign') return { outcome: 'unreachable', reason: `${path} answered HTTP 200 without Datadog's {"valid": true}` };
  // Datadog identifies the key before it counts the request against the organisation's limit:
  // a 429 means the key was recognised.
  if ((status >= 200 && status < 300) || status === 429) return { outcome: 'accepted' };
  return { outcome: 'unreachable', reason: `${path} answered HTTP ${status}` };
}
