/**
 * Python's `round(x, digits)`, which Tinkr's server uses for its numbers (tinkr.md §1.3): the
 * exact binary value of `x` rounded to `digits` decimals, a tie going to the even digit. So
 * round(0.125, 2) is 0.12 and round(2.675, 2) is 2.67 (its binary value is just below), where
 * `toFixed` would say 0.13. Values too large or small for a tie are returned as they are.
 */
export function pyRound(x: number, digits: number): number {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return x;
  // toFixed(100) is the exact expansion of any double of magnitude above about 1e-14; anything
  // smaller rounds to zero at the few digits used here anyway.
  const [whole, fraction] = Math.abs(x).toFixed(100).split('.') as [string, string];
  const kept = fraction.slice(0, digits);
  const rest = fraction.slice(digits);
  let scaled = BigInt(whole + kept);
  const first = rest[0] ?? '0';
  const beyond = /[1-9]/.test(rest.slice(1));
  if (first > '5' || (first === '5' && (beyond || scaled % 2n === 1n))) scaled += 1n;
  const text = scaled.toString().padStart(digits + 1, '0');
  const value = Number(digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`);
  return x < 0 ? -value : value;
}
