import { inspect } from 'node:util';
import { expect } from 'vitest';

/**
 * Asserts that `marker` appears nowhere an error could carry it to a log: its message, stack,
 * JSON form, util.inspect form (hidden fields included) and every cause in its chain.
 */
export function expectNoLeak(err: unknown, marker: string): void {
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    if (current instanceof Error) {
      expect(current.message).not.toContain(marker);
      expect(current.stack ?? '').not.toContain(marker);
    }
    expect(JSON.stringify(current) ?? '').not.toContain(marker);
    expect(inspect(current, { depth: 10, showHidden: true })).not.toContain(marker);
    current = (current as { cause?: unknown }).cause;
  }
}
