import { slotOf } from './traces.ts';
import { compareTimed, type Timed } from '../wire.ts';

/**
 * Walks the events of a time range slot by slot, in either direction, starting strictly after a
 * position. Only one slot's events exist at a time, so a 15-day range pages in constant memory.
 */
export interface ScanOptions<T> {
  /** Inclusive start of the range, epoch ms. */
  readonly fromMs: number;
  /** Exclusive end of the range, epoch ms. */
  readonly toMs: number;
  readonly descending: boolean;
  /** Resume strictly after this event (in scan order). */
  readonly after?: { ms: number; id: string } | undefined;
  /** Only these slots can hold matches (a query pinned to trace ids); undefined = all. */
  readonly slots?: readonly number[] | undefined;
  readonly eventsInSlot: (slot: number) => Timed<T>[];
  readonly accept: (event: T) => boolean;
}

export function* scan<T>(options: ScanOptions<T>): Generator<Timed<T>> {
  const { fromMs, toMs, descending, after } = options;
  if (fromMs >= toMs) return;
  let first = slotOf(fromMs);
  let last = slotOf(toMs - 1);
  if (after) {
    if (descending) last = Math.min(last, slotOf(after.ms));
    else first = Math.max(first, slotOf(after.ms));
  }
  const slots = options.slots
    ? [...new Set(options.slots)].filter((s) => s >= first && s <= last).sort((a, b) => (descending ? b - a : a - b))
    : undefined;
  const count = slots ? slots.length : last - first + 1;
  for (let i = 0; i < count; i++) {
    const slot = slots ? slots[i]! : descending ? last - i : first + i;
    const events = options.eventsInSlot(slot);
    if (descending) events.reverse();
    for (const timed of events) {
      if (timed.ms < fromMs || timed.ms >= toMs) continue;
      if (after) {
        const order = compareTimed(timed, after);
        if (descending ? order >= 0 : order <= 0) continue;
      }
      if (options.accept(timed.event)) yield timed;
    }
  }
}
