import { describe, expect, it } from 'vitest';
import { pyRound } from '../../src/tinkr/py-round.ts';

/** Expected values are what CPython 3 prints for round(x, n). */
describe("Python's round()", () => {
  it.each([
    [0.125, 2, 0.12],
    [0.375, 2, 0.38],
    [2.675, 2, 2.67],
    [2.5, 0, 2],
    [3.5, 0, 4],
    [1.05, 1, 1.1],
    [1.15, 1, 1.1],
    [99.98765, 4, 99.9877],
    [99.9, 1, 99.9],
    [100, 4, 100],
    [-0.125, 2, -0.12],
    [-2.675, 2, -2.67],
    [0.3333333333333333, 2, 0.33],
    [12.345, 1, 12.3],
    [1e-20, 2, 0],
    [0.005, 2, 0.01],
    [0.015, 2, 0.01],
  ])('round(%s, %s) = %s', (x, digits, expected) => {
    expect(pyRound(x, digits)).toBe(expected);
  });
});
