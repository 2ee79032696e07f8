import { ENDPOINTS, type ApiEndpoint } from './http/reply.ts';

/**
 * Injected failures. A fault applies to the next `times` requests (default 1) of its endpoint
 * family (or of any family when `endpoint` is omitted), after authentication and rate limiting,
 * in the order faults were added. Every kind accepts `delayMs`, an added latency before the
 * fault (or the normal answer, for `latency`) is sent; a client that hangs up stops the wait.
 *
 * - `status`: answer `status` with the family's error body (`message` in it), or a raw `body`
 *   (string sent as is, anything else as JSON), plus `headers`. A 429 also gets the rate-limit
 *   headers with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset: resetS` (if given).
 * - `latency`: answer normally after `delayMs`.
 * - `malformed`: a 200 whose body is not JSON (`non-json`, an HTML error page) or is the real
 *   answer cut in half (`truncated`, the default).
 * - `timeout`: not for metrics; a search page cut to half its events, an aggregate computed over
 *   the first half of its range, with `meta.status: "timeout"`.
 * - `drop`: the connection is destroyed without an answer.
 */
export type Fault = FaultCommon &
  (
    | { kind: 'status'; status: number; message?: string; body?: unknown; headers?: Record<string, string>; resetS?: number }
    | { kind: 'latency' }
    | { kind: 'malformed'; variant?: 'non-json' | 'truncated' }
    | { kind: 'timeout' }
    | { kind: 'drop' }
  );

export interface FaultCommon {
  endpoint?: ApiEndpoint;
  /** How many requests it applies to; `'always'` until cleared. Default 1. */
  times?: number | 'always';
  delayMs?: number;
}

export const FAULT_KINDS = ['status', 'latency', 'malformed', 'timeout', 'drop'] as const;
/** Endpoints a fault may target: every rate-limited family, and the key check. */
const FAULT_ENDPOINTS: readonly ApiEndpoint[] = [...ENDPOINTS, 'validate'];
/** Longest injectable delay: long enough for any client timeout test, short enough to not hang CI. */
export const MAX_FAULT_DELAY_MS = 600_000;
/** Most faults queued at once; a runaway test loop fails loudly instead of growing memory. */
export const MAX_PENDING_FAULTS = 1_000;

/** Checks a fault given as JSON (control endpoint) or in code; throws a TypeError naming the problem. */
export function parseFault(input: unknown): Fault {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TypeError('a fault must be an object');
  const f = input as Record<string, unknown>;
  const kind = f['kind'];
  if (!(FAULT_KINDS as readonly unknown[]).includes(kind)) throw new TypeError(`fault.kind must be one of ${FAULT_KINDS.join(', ')}`);
  const endpoint = f['endpoint'];
  if (endpoint !== undefined && !(FAULT_ENDPOINTS as readonly unknown[]).includes(endpoint)) {
    throw new TypeError(`fault.endpoint must be one of ${FAULT_ENDPOINTS.join(', ')}`);
  }
  const times = f['times'] ?? 1;
  if (times !== 'always' && !(typeof times === 'number' && Number.isInteger(times) && times >= 1)) {
    throw new TypeError('fault.times must be a positive integer or "always"');
  }
  const delayMs = f['delayMs'];
  if (delayMs !== undefined && !(typeof delayMs === 'number' && Number.isInteger(delayMs) && delayMs >= 0 && delayMs <= MAX_FAULT_DELAY_MS)) {
    throw new TypeError(`fault.delayMs must be an integer between 0 and ${MAX_FAULT_DELAY_MS}`);
  }
  const common: FaultCommon = { times: times as number | 'always' };
  if (endpoint !== undefined) common.endpoint = endpoint as ApiEndpoint;
  if (delayMs !== undefined) common.delayMs = delayMs as number;
  switch (kind) {
    case 'status': {
      const status = f['status'];
      if (!(typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599)) {
        throw new TypeError('fault.status must be an HTTP status code');
      }
      const out: Fault = { ...common, kind, status };
      if (f['message'] !== undefined) {
        if (typeof f['message'] !== 'string') throw new TypeError('fault.message must be a string');
        out.message = f['message'];
      }
      if (f['body'] !== undefined) out.body = f['body'];
      if (f['headers'] !== undefined) {
        const headers = f['headers'];
        if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
          throw new TypeError('fault.headers must map names to strings');
        }
        out.headers = { ...(headers as Record<string, string>) };
      }
      if (f['resetS'] !== undefined) {
        const resetS = f['resetS'];
        if (!(typeof resetS === 'number' && Number.isInteger(resetS) && resetS >= 0)) throw new TypeError('fault.resetS must be a non-negative integer');
        out.resetS = resetS;
      }
      return out;
    }
    case 'latency':
      if (delayMs === undefined) throw new TypeError('a latency fault needs delayMs');
      return { ...common, kind };
    case 'malformed': {
      const variant = f['variant'] ?? 'truncated';
      if (variant !== 'non-json' && variant !== 'truncated') throw new TypeError('fault.variant must be non-json or truncated');
      return { ...common, kind, variant };
    }
    case 'timeout':
      if (endpoint === 'metrics' || endpoint === 'validate') throw new TypeError('a timeout fault applies to the logs or spans endpoints (searches and aggregates) only');
      return { ...common, kind };
    default:
      return { ...common, kind: 'drop' };
  }
}

interface Armed {
  fault: Fault;
  remaining: number;
}

/** The queue of armed faults. */
export class FaultQueue {
  #armed: Armed[] = [];

  add(fault: Fault): void {
    const checked = parseFault(fault);
    if (this.#armed.length >= MAX_PENDING_FAULTS) throw new RangeError(`more than ${MAX_PENDING_FAULTS} pending faults`);
    this.#armed.push({ fault: checked, remaining: checked.times === 'always' ? Infinity : (checked.times ?? 1) });
  }

  clear(): void {
    this.#armed = [];
  }

  pending(): Fault[] {
    return this.#armed.map((a) => a.fault);
  }

  /** The fault for the next request of `endpoint`, consuming one use of it. */
  take(endpoint: ApiEndpoint): Fault | undefined {
    const index = this.#armed.findIndex(
      (a) => (a.fault.endpoint === undefined || a.fault.endpoint === endpoint) && !(a.fault.kind === 'timeout' && (endpoint === 'metrics' || endpoint === 'validate')),
    );
    if (index < 0) return undefined;
    const armed = this.#armed[index]!;
    if (--armed.remaining <= 0) this.#armed.splice(index, 1);
    return armed.fault;
  }
}
