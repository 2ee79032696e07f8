import { MIN_POLL_INTERVAL_MS } from '../../src/tail/options.ts';
import type { PrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { TEST_TOKEN } from './app.ts';
import { eventually } from './eventually.ts';
import type { ManualClock } from './manual-clock.ts';
import { parsePrometheus, valueOf } from './prometheus.ts';
import { openSse, type SseClient } from './sse.ts';
import type { Stack } from './stack.ts';

/**
 * Driving GET /logs/tail in a test: subscribers over real sockets, time moved one poll interval
 * at a time (waiting until the polls of that interval have run, by the server's own poll
 * counter), and the simulator's ground truth of which logs appeared meanwhile.
 */
export interface TailHarness {
  subscribe(query: string, headers?: Record<string, string>, token?: string): Promise<SseClient>;
  /** Moves the clock one interval (or `ms`) and waits until `polls` more polls have run. */
  step(polls?: number, ms?: number): Promise<void>;
  /** A sample of the server's Prometheus metrics (summed over matching labels). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Ids of the logs of `query` visible now in [fromMs, now). */
  visible(query: string, fromMs: number): string[];
  /** Ids of the logs visible now that were not in `before`: what a tail started then must send. */
  arrivedSince(query: string, fromMs: number, before: ReadonlySet<string>): Set<string>;
  /** Hangs up every subscriber and waits until the server has let them go. */
  closeAll(): Promise<void>;
}

export function tailHarness(stack: () => Stack, clock: ManualClock, telemetry: PrometheusTelemetry): TailHarness {
  const open: SseClient[] = [];
  const metric = async (name: string, labels: Record<string, string> = {}) => valueOf(parsePrometheus(await telemetry.metrics()), name, labels);
  const visible = (query: string, fromMs: number) => stack().sim.truth.logs({ query, from: fromMs, to: clock.now() }).map((l) => l.id);
  return {
    async subscribe(query, headers = {}, token = TEST_TOKEN) {
      const client = await openSse(`${stack().app.url}/logs/tail${query}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
      open.push(client);
      return client;
    },
    async step(polls = 1, ms = MIN_POLL_INTERVAL_MS) {
      const before = await metric('tinkr_tail_polls_total');
      clock.advance(ms);
      await eventually(async () => (await metric('tinkr_tail_polls_total')) >= before + polls, `${polls} poll(s) after the clock moved`);
    },
    metric,
    visible,
    arrivedSince: (query, fromMs, before) => new Set(visible(query, fromMs).filter((id) => !before.has(id))),
    async closeAll() {
      for (const client of open.splice(0)) client.close();
      await eventually(async () => (await metric('tinkr_tail_subscribers')) === 0, 'every subscriber has left');
    },
  };
}
