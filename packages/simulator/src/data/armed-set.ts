/**
 * What a test or demo has armed at once (error bursts, latency bursts): checked on the way in,
 * bounded so that a runaway test fails loudly rather than slowing every scan, and versioned so
 * that anything derived from the data knows when it is stale.
 */
export class ArmedSet<T extends object> {
  protected armed: T[] = [];
  #version = 0;

  readonly #check: (input: unknown) => T;
  readonly #max: number;
  /** What the items are, for the error past `max`. */
  readonly #what: string;

  constructor(check: (input: unknown) => T, max: number, what: string) {
    this.#check = check;
    this.#max = max;
    this.#what = what;
  }

  add(input: unknown): void {
    const checked = this.#check(input);
    if (this.armed.length >= this.#max) throw new RangeError(`more than ${this.#max} ${this.#what}`);
    this.armed.push(checked);
    this.#version++;
  }

  clear(): void {
    this.armed = [];
    this.#version++;
  }

  /** Changes whenever the set does. */
  get version(): number {
    return this.#version;
  }

  list(): T[] {
    return this.armed.map((item) => ({ ...item }));
  }

  get size(): number {
    return this.armed.length;
  }
}

/**
 * What the simulator hands out of an armed set (`sim.bursts`, `sim.latencyBursts`, the control
 * endpoints): arming takes the documented input shape, and nothing else of the set is reachable.
 */
export function armedControls<I>(set: ArmedSet<I & object>): { add(item: I): void; clear(): void; list(): I[] } {
  return {
    add: (item) => set.add(item),
    clear: () => set.clear(),
    list: () => set.list(),
  };
}
