import type { Clock } from '../clock.ts';
import type { Engine } from '../upstream/answer.ts';
import type { CursorCodec } from './cursor.ts';

/** What the signal services need; built once in server.ts, swapped for fakes in tests. */
export interface QueryDeps {
  /** Resolves ranges, caches finished answers and makes every Datadog call (upstream/engine.ts). */
  engine: Engine;
  /** For answers that name their own windows (anomalies, Tinkr's tail polls). */
  clock: Clock;
  cursors: CursorCodec;
  /** The profile's longest allowed range per signal, in ms. */
  maxRangeMs: { logs: number; traces: number; metrics: number };
  /** Most upstream pages one search request may cost (upstream/paging.ts). */
  maxPages: number;
}
