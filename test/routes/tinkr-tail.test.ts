import { describe, expect, it } from 'vitest';
import { DEFAULT_STEPS, stepFor } from '../../src/time/buckets.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * `tinkr tail` as the real CLI runs it (tinkr.md §5.1): an optional first fetch of the last 30
 * minutes, then `POST /api/v1/logs` every 2 s with `limit: 200`, `start` = the newest timestamp
 * printed so far and `end` = its own clock, both as Python's isoformat() (microseconds, +00:00),
 * printing each (timestamp, message) once. Five of them at once, each on a slightly different
 * clock, must cost Datadog one search per time bucket, and none may miss a line.
 */
const { clock, stack } = sharedStack({ simulator: { rateLimits: { logs: { limit: 1_000_000, periodS: 3_600 } } } });

/** `datetime.isoformat()` of a UTC datetime: microseconds only when not zero, then +00:00. */
function pyIso(ms: number, micros = 0): string {
  const base = new Date(ms).toISOString().slice(0, 19);
  const us = (ms % 1000) * 1000 + micros;
  return `${base}${us === 0 ? '' : `.${String(us).padStart(6, '0')}`}+00:00`;
}

interface Entry {
  timestamp: string;
  message: string;
}

/** One `tinkr tail SERVICE -n 10 -p 2`, its clock `skewMs` off ours (microseconds included). */
class CliTail {
  cursor = '';
  readonly printed: Entry[] = [];
  readonly #seen = new Set<string>();

  readonly service: string;
  readonly skewMs: number;
  readonly micros: number;

  constructor(service: string, skewMs: number, micros: number) {
    this.service = service;
    this.skewMs = skewMs;
    this.micros = micros;
  }

  #now(): string {
    return pyIso(clock.now() + this.skewMs, this.micros);
  }

  async #fetch(body: Record<string, unknown>): Promise<void> {
    const res = await stack.app.post('/api/v1/logs', { service: this.service, query: '*', ...body });
    expect(res.status).toBe(200);
    const { entries } = (await res.json()) as { entries: Entry[] };
    // The CLI sorts by timestamp, prints what it has not printed, and moves its cursor on.
    for (const entry of [...entries].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp))) {
      const key = `${entry.timestamp}|${entry.message}`;
      if (this.#seen.has(key)) continue;
      this.#seen.add(key);
      this.printed.push(entry);
      if (this.cursor === '' || Date.parse(entry.timestamp) > Date.parse(this.cursor)) this.cursor = pyIso(Date.parse(entry.timestamp));
    }
  }

  first(): Promise<void> {
    return this.#fetch({ start: pyIso(clock.now() + this.skewMs - 30 * 60_000, this.micros), end: this.#now(), limit: 10 });
  }

  poll(): Promise<void> {
    return this.#fetch({ start: this.cursor, end: this.#now(), limit: 200 });
  }
}

describe('tinkr tail against POST /api/v1/logs', () => {
  it('costs one Datadog search per time bucket for five viewers, and every viewer prints every line', async () => {
    const service = 'payments-api';
    // Clocks a little behind ours. Sub-millisecond digits round up (an end of …00.000011 covers a
    // log at …00.000), so an end exactly on the step grid would belong to the next bucket.
    const tails = [0, 1, 2, 3, 4].map((i) => new CliTail(service, -300 * i - 100, 137 * i + 11));
    stack.sim.resetRequests();
    await Promise.all(tails.map((t) => t.first()));
    expect(stack.sim.callCount('logs')).toBe(1);
    const cursor = tails[0]!.cursor;
    expect(tails.every((t) => t.cursor === cursor)).toBe(true);

    const step = stepFor(2_000, DEFAULT_STEPS);
    const buckets = new Set<number>();
    for (let i = 0; i < 15; i++) {
      clock.advance(2_000);
      for (const t of tails) buckets.add(Math.ceil((clock.now() + t.skewMs + (t.micros > 0 ? 1 : 0)) / step) * step);
      await Promise.all(tails.map((t) => t.poll()));
    }
    // 75 polls; one search per bucket their `end`s fell in (a step is 5 s: 2 to 3 polls each).
    expect(buckets.size).toBeLessThan(15);
    expect(stack.sim.callCount('logs')).toBe(1 + buckets.size);

    // Every viewer printed the same lines: each line from the first cursor on, up to what was
    // surely fetched (the last answer may be up to one step old).
    const expected = stack.sim.truth
      .logs({ query: `service:${service}`, from: Date.parse(cursor), to: clock.now() - step, sort: 'timestamp' })
      .map((l) => `${l.attributes.timestamp}|${l.attributes.message}`);
    expect(expected.length).toBeGreaterThan(5);
    for (const t of tails) {
      const printed = t.printed.map((e) => `${e.timestamp}|${e.message}`);
      expect(printed.slice(0, tails[0]!.printed.length)).toEqual(tails[0]!.printed.map((e) => `${e.timestamp}|${e.message}`));
      expect(printed).toEqual(expect.arrayContaining(expected));
    }

    // What each upstream search was: the bucket's panel, newest first, never the viewer's own range.
    const bodies = stack.sim.requests.filter((r) => r.endpoint === 'logs').map((r) => r.body as any);
    for (const body of bodies.slice(1)) {
      expect(Date.parse(body.filter.to) % step).toBe(0);
      expect(Date.parse(body.filter.to) - Date.parse(body.filter.from)).toBe(5 * 60_000);
      expect(body.page.limit).toBe(200);
    }
  });

  it('answers a live range exactly as the range asked: nothing before start, the newest first', async () => {
    clock.advance(60_000);
    const start = clock.now() - 20_000 + 1;
    const ask = (limit: number) => stack.app.post('/api/v1/logs', { service: 'checkout', start: pyIso(start, 250), end: pyIso(clock.now(), 999), limit });
    const truth = stack.sim.truth.logs({ query: 'service:checkout', from: start, to: clock.now() });
    expect(truth.length).toBeGreaterThan(3);
    for (const limit of [200, 3]) {
      const { entries } = (await (await ask(limit)).json()) as { entries: Entry[] };
      expect(entries.map((e) => `${e.timestamp}|${e.message}`)).toEqual(truth.slice(0, limit).map((l) => `${l.attributes.timestamp}|${l.attributes.message}`));
    }
  });
});
