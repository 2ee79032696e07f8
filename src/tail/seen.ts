/**
 * The log ids a stream has already sent, so that a log found again by an overlapping poll is
 * not sent twice. Each id keeps its log's timestamp: ids older than the next poll's window can
 * never be found again and are dropped (`forgetBefore`). The count is bounded too; past it the
 * earliest remembered id goes first (ids arrive roughly in timestamp order).
 */
export class SeenIds {
  readonly #max: number;
  readonly #ids = new Map<string, number>();

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Remembers `id` with its log's timestamp (epoch ms). */
  add(id: string, timestampMs: number): void {
    this.#ids.delete(id);
    this.#ids.set(id, timestampMs);
    while (this.#ids.size > this.#max) this.#ids.delete(this.#ids.keys().next().value!);
  }

  /** Drops ids whose logs are older than `ms`: no later search reaches back that far. */
  forgetBefore(ms: number): void {
    for (const [id, timestampMs] of this.#ids) if (timestampMs < ms) this.#ids.delete(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
