import { bump, percentiles, type Percentiles } from '../lib/stats.ts';
import type { Dashboard } from './mix.ts';
import { PANEL_KINDS, type Panel, type PanelKind } from './panels.ts';

/**
 * What one side of a fleet run saw: each panel request sent through a Side, observed by a
 * Recorder (status, latency, `x-tinkr-cache`, age), and the counts reported against what its
 * simulator received.
 */

/** The simulator's endpoint families, each with its own budget. */
export const FAMILIES = ['logs', 'spans', 'metrics', 'logs_aggregate', 'spans_aggregate'] as const;
export type Family = (typeof FAMILIES)[number];
export type Upstream = Record<Family | 'other' | 'total', number>;

export interface SideReport {
  /** Panel requests sent (refreshes × panels, minus skipped). */
  sent: number;
  sentByKind: Record<PanelKind, number>;
  /** Panel refreshes not sent because the panel's previous request was still loading. */
  skipped: number;
  answered: number;
  /** Requests that got no HTTP answer within panelTimeoutMs (network error or timeout). */
  noAnswer: number;
  byStatus: Record<string, number>;
  /** `code` of problem+json answers (gateway), e.g. UPSTREAM_RATE_LIMITED. */
  byErrorCode: Record<string, number>;
  status429: number;
  status5xx: number;
  /** Latency of every answer, and of 2xx answers only (a 429 is fast and would flatter). */
  latencyMs: Percentiles;
  latencyOkMs: Percentiles;
  /** `x-tinkr-cache` of each answer; `(none)` when absent (always, for pass-through). */
  cache: Record<string, number>;
  /** Age of 2xx answers in seconds: the `Age` header when present, else 0 (fresh from upstream). */
  ageS: Percentiles;
  /** Requests received by this side's simulator, per family. */
  upstream: Upstream;
  /** Upstream calls per hour at this pace, per family, against the hourly budget. */
  upstreamPerHour: Record<Family, number>;
}

export interface Observation {
  status: number | undefined;
  latencyMs: number;
  cache: string | undefined;
  ageS: number | undefined;
  code: string | undefined;
}

export interface Side {
  send(panel: Panel, dashboard: number): Promise<Observation>;
  close(): Promise<void>;
}

/** Sends every panel of a dashboard whose previous request on this side has finished. */
export function fire(dashboard: Dashboard, side: Side, recorder: Recorder): void {
  dashboard.panels.forEach((panel, i) => {
    const key = `${dashboard.index}:${i}`;
    if (recorder.inFlight.has(key)) {
      recorder.skipped++;
      return;
    }
    recorder.sent++;
    recorder.sentByKind[panel.kind]++;
    const pending = side.send(panel, dashboard.index).then(
      (o) => recorder.observe(o),
      () => recorder.observe({ status: undefined, latencyMs: 0, cache: undefined, ageS: undefined, code: undefined }),
    );
    recorder.inFlight.set(key, pending);
    void pending.finally(() => recorder.inFlight.delete(key));
  });
}

/** What one side saw. Samples are bounded by FLEET_LIMITS.maxRequests (fleet.ts, checked up front). */
export class Recorder {
  sent = 0;
  readonly sentByKind = Object.fromEntries(PANEL_KINDS.map((k) => [k, 0])) as Record<PanelKind, number>;
  skipped = 0;
  readonly inFlight = new Map<string, Promise<void>>();
  readonly #latency: number[] = [];
  readonly #latencyOk: number[] = [];
  readonly #age: number[] = [];
  readonly #status: Record<string, number> = {};
  readonly #codes: Record<string, number> = {};
  readonly #cache: Record<string, number> = {};
  #answered = 0;
  #noAnswer = 0;

  observe(o: Observation): void {
    if (o.status === undefined) {
      this.#noAnswer++;
      return;
    }
    this.#answered++;
    this.#latency.push(o.latencyMs);
    bump(this.#status, String(o.status));
    bump(this.#cache, o.cache ?? '(none)');
    if (o.code !== undefined) bump(this.#codes, o.code);
    if (o.status >= 200 && o.status < 300) {
      this.#latencyOk.push(o.latencyMs);
      this.#age.push(o.ageS ?? 0);
    }
  }

  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }

  report(upstream: Upstream, durationMs: number): SideReport {
    const statuses = Object.entries(this.#status);
    const perHour = (n: number): number => Math.round((n * 3_600_000) / durationMs);
    return {
      sent: this.sent,
      sentByKind: { ...this.sentByKind },
      skipped: this.skipped,
      answered: this.#answered,
      noAnswer: this.#noAnswer,
      byStatus: { ...this.#status },
      byErrorCode: { ...this.#codes },
      status429: this.#status['429'] ?? 0,
      status5xx: statuses.filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0),
      latencyMs: percentiles(this.#latency),
      latencyOkMs: percentiles(this.#latencyOk),
      cache: { ...this.#cache },
      ageS: percentiles(this.#age),
      upstream,
      upstreamPerHour: Object.fromEntries(FAMILIES.map((f) => [f, perHour(upstream[f])])) as Record<Family, number>,
    };
  }
}
