/**
 * Deterministic pseudo-randomness. Every synthetic value is a pure function of its coordinates
 * (time slot, series, index), so any time range can be regenerated on demand, by any simulator
 * instance, with no stored state.
 */

const TWO_32 = 2 ** 32;

/** A 32-bit finaliser with good avalanche (the "lowbias32" constants). */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a tuple of non-negative integers (up to 2^53) into 32 bits. */
export function hashInts(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / TWO_32) >>> 0;
    h = mix32(h ^ mix32(lo + 0x632be5ab));
    h = mix32(h ^ mix32(hi + 0x85ebca77));
  }
  return h;
}

/** FNV-1a of a string, mixed; used to key series by metric name and tag set. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** A uniform number in [0, 1) from a hash. */
export function unit(hash: number): number {
  return hash / TWO_32;
}

/** A deterministic integer in [min, max] from a hash. */
export function between(hash: number, min: number, max: number): number {
  return min + Math.floor(unit(hash) * (max - min + 1));
}

/** Picks one element of a non-empty list from a hash. */
export function pick<T>(hash: number, items: readonly T[]): T {
  return items[Math.floor(unit(hash) * items.length)]!;
}

const FEISTEL_ROUNDS = 4;

/**
 * A keyed bijection on 64-bit values held as two 32-bit halves (a balanced Feistel network).
 * Ids made with it look random but can be inverted back to the slot that produced them, which
 * is what lets `trace_id:<id>` queries and `truth.trace(id)` jump straight to the data.
 */
export function feistel64(hi: number, lo: number, key: number): bigint {
  let left = hi >>> 0;
  let right = lo >>> 0;
  for (let round = 0; round < FEISTEL_ROUNDS; round++) {
    const next = (left ^ mix32(right ^ mix32(key + round))) >>> 0;
    left = right;
    right = next;
  }
  return (BigInt(left) << 32n) | BigInt(right);
}

/** The inverse of `feistel64` with the same key. */
export function unfeistel64(value: bigint, key: number): { hi: number; lo: number } {
  let left = Number((value >> 32n) & 0xffffffffn);
  let right = Number(value & 0xffffffffn);
  for (let round = FEISTEL_ROUNDS - 1; round >= 0; round--) {
    const previous = (right ^ mix32(left ^ mix32(key + round))) >>> 0;
    right = left;
    left = previous;
  }
  return { hi: left, lo: right };
}
