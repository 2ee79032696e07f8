/**
 * How often and how patiently a failed read is repeated (the loop is retrying-call.ts). Reads are
 * safe to repeat; what is retried is the set below: 5xx and broken connections. Never past the
 * deadline.
 */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  maxAttempts: number;
  /** Backoff before the second try; doubles with every further one. */
  baseDelayMs: number;
  /** Ceiling of one backoff. */
  maxDelayMs: number;
}

/** Three tries, 250 ms then 500 ms (± jitter): a blip is absorbed, an outage is reported fast. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000 };

/**
 * Backoff before try `attempt + 1` ("equal jitter": half fixed, half random), so replicas that
 * failed together do not come back together.
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Statuses worth another try: the request is a read, so repeating it is safe. */
export function isRetryableStatus(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}

/** Failures of the connection itself (not of our deadline) that another try may fix. */
export function isRetryableFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    [
      'ECONNRESET',
      'ECONNREFUSED',
      'EPIPE',
      'ETIMEDOUT',
      'EAI_AGAIN',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_CLOSED',
    ].includes(code)
  );
}
