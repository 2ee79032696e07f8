import { Pool } from 'undici';
import type { MemorySample } from './probe.ts';
import type { Measured } from './processes.ts';

/**
 * Memory under a query mix no cache can hold: `queries` distinct 500-row log searches (each a
 * new cache key, each answer a few hundred kB) through one server, then its memory after a
 * forced GC and its peak resident set, against the configured cache size. Distinct answers
 * fill the cache to its bound and keep evicting; what the process holds beyond that bound is
 * the cost of the rest of the server.
 */

export interface MemoryReport {
  queries: number;
  /** Rows per answer asked for. */
  rows: number;
  /** Answers that were 200; every other status is counted as a failure. */
  ok: number;
  failed: number;
  /** Bytes of one answer as sent (the first one's body), to show what the mix would cost unbounded. */
  answerBytes: number;
  /** `upstream.cache.max_bytes` the server ran with. */
  cacheMaxBytes: number;
  baseline: MemorySample;
  after: MemorySample;
}

/** Requests in flight at once: a busy dashboard fleet, without queueing at the concurrency limit. */
const MEMORY_CONCURRENCY = 8;
export const MEMORY_ROWS = 500;

export function memoryPath(pid: number, n: number): string {
  // A negated term that matches nothing: every query is new, every answer full.
  return `/logs?since=1h&limit=${MEMORY_ROWS}&query=${encodeURIComponent(`-zzmem${pid}x${n}`)}`;
}

export async function measureMemory(server: Measured, tokens: readonly string[], queries: number, cacheMaxBytes: number): Promise<MemoryReport> {
  const pool = new Pool(server.url, { connections: MEMORY_CONCURRENCY });
  let next = 0;
  let ok = 0;
  let failed = 0;
  let answerBytes = 0;
  const ask = async (n: number): Promise<number> => {
    // Spread over the callers, as the other runs are, so no caller's quota turns them into 429s.
    const token = tokens[(n + tokens.length) % tokens.length]!;
    const response = await pool.request({ method: 'GET', path: memoryPath(process.pid, n), headers: { authorization: `Bearer ${token}` } });
    const text = await response.body.text();
    if (n === 0) answerBytes = Buffer.byteLength(text);
    return response.statusCode;
  };
  try {
    // Warm: lazy imports, JIT and sockets are not what is measured.
    await ask(-1);
    const baseline = await server.memory();
    const worker = async (): Promise<void> => {
      while (next < queries) {
        const status = await ask(next++).catch(() => 0);
        if (status === 200) ok++;
        else failed++;
      }
    };
    await Promise.all(Array.from({ length: MEMORY_CONCURRENCY }, worker));
    const after = await server.memory();
    return { queries, rows: MEMORY_ROWS, ok, failed, answerBytes, cacheMaxBytes, baseline, after };
  } finally {
    await pool.close();
  }
}
