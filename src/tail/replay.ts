/** One event as sent: its id (the log id) and its finished frame. */
export interface ReplayEntry {
  id: string;
  frame: string;
}

/**
 * The latest events of a stream, in the order they were sent, bounded by count and bytes. A
 * subscriber that reconnects with Last-Event-ID gets exactly the events sent after that one
 * (no gap, no repeat); a new subscriber may ask for the last N first.
 */
export class ReplayBuffer {
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  #entries: ReplayEntry[] = [];
  #bytes = 0;

  constructor(maxEvents: number, maxBytes: number) {
    this.#maxEvents = Math.max(0, maxEvents);
    this.#maxBytes = Math.max(0, maxBytes);
  }

  push(entry: ReplayEntry): void {
    this.#entries.push(entry);
    this.#bytes += entry.frame.length;
    while (this.#entries.length > this.#maxEvents || (this.#bytes > this.#maxBytes && this.#entries.length > 0)) {
      this.#bytes -= this.#entries.shift()!.frame.length;
    }
  }

  /** The frames sent after the event `id`, or undefined when that event is no longer held. */
  after(id: string): string[] | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      if (this.#entries[i]!.id === id) return this.#entries.slice(i + 1).map((e) => e.frame);
    }
    return undefined;
  }

  /** The last `n` frames, oldest first. */
  last(n: number): string[] {
    return n <= 0 ? [] : this.#entries.slice(-n).map((e) => e.frame);
  }

  get size(): number {
    return this.#entries.length;
  }
}
