import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * `upstream.cache.max_bytes` bounds what the cache costs only if each entry is counted at least
 * at what it really takes. A child process (with a forced GC on either side) stores real-shaped
 * answers through the answer cache and compares the memory they took with what was counted.
 * Memory, not time: the figures are the same run after run.
 */

const CHILD = fileURLToPath(new URL('../fixtures/cache/entry-cost-child.ts', import.meta.url));

interface Cost {
  entries: number;
  payloadBytes: number;
  countedBytes: number;
  measuredBytes: number;
}

/** `--max-opt=0`: V8 never optimizes the code that makes the entries, which then take the most. */
function measure(entries: number, rows: number, flags: string[]): Promise<Cost> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', ...flags, CHILD, String(entries), String(rows)], { timeout: 120_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Cost),
    );
  });
}

describe('the cost of a cached answer', () => {
  it.each([
    ['many small answers (empty-ish searches)', 10_000, 3, []],
    ['many small answers, made by code V8 has not optimized', 10_000, 3, ['--max-opt=0']],
    ['fewer larger answers (a page of logs)', 2_000, 60, []],
  ])('is counted at least at what it takes, and not far above: %s', async (_what, entries, rows, flags) => {
    const cost = await measure(entries, rows, flags as string[]);
    expect(cost.entries).toBe(entries);
    console.log(
      `${entries} answers of ${(cost.payloadBytes / entries).toFixed(0)} bytes: counted ${(cost.countedBytes / entries).toFixed(0)}, ` +
        `measured ${(cost.measuredBytes / entries).toFixed(0)} bytes an entry`,
    );
    expect(cost.countedBytes).toBeGreaterThanOrEqual(cost.measuredBytes);
    // Counting the worst case over-counts a little when V8 did better (small answers show it most).
    expect(cost.measuredBytes).toBeGreaterThan(0.6 * cost.countedBytes);
  });
});
