import { isRelative, PANEL_KINDS, panelPath, type Panel, type PanelKind, type PanelTime } from './panels.ts';

/**
 * Which dashboards the fleet opens. Dashboards are built from three templates of eight panels
 * over the simulator's services (checkout → payments-api → ledger):
 *
 * - `checkout`: the checkout team's service dashboard;
 * - `payments`: the payments team's (payments-api and ledger), sharing the host CPU panel;
 * - `overview`: an SRE overview, four panels of its own and four taken from the other two.
 *
 * Mix `mixed` (the default), per ten dashboards: 4 checkout, 3 payments, 1 overview, 1 checkout
 * with the viewer's time frame set to "past 4 hours" (shared by every such viewer), and 1
 * checkout zoomed into a fixed 30-minute window of its own in the past (unique to that viewer,
 * and immutable). Mix `same` is the scenario: every dashboard is the checkout dashboard.
 * Mix `analytics` is dashboards of aggregate panels only (`/logs/aggregate`, `/traces/aggregate`):
 * per ten, 7 `analytics` and 3 `analytics@4h` (the viewer's time frame set to "past 4 hours").
 */

export const MIXES = ['mixed', 'same', 'analytics'] as const;
export type Mix = (typeof MIXES)[number];

export interface Dashboard {
  index: number;
  /** `checkout`, `payments`, `overview`, `checkout@4h` or `checkout@zoomed`. */
  name: string;
  panels: Panel[];
}

/** Eight panels per template, kinds interleaved so a smaller `--panels` keeps the mix. */
export const PANELS_PER_TEMPLATE = 8;
/** Most panels per dashboard: past the template's eight, panels repeat at other ranges. */
export const MAX_PANELS = 32;
/** Ranges of the repeated panels beyond the eighth (none equals a template range). */
const EXTRA_RANGES = ['30m', '2h', '12h'] as const;
/** The zoomed windows: 30 minutes long, ending this long before the run, one minute apart per viewer. */
const ZOOM_LENGTH_MS = 30 * 60_000;
const ZOOM_END_AGO_MS = 2 * 3_600_000;
const ZOOM_STEP_MS = 60_000;

const since = (s: string): PanelTime => ({ since: s });

const CPU_BY_HOST: Panel = { kind: 'metrics', title: 'CPU by host', metric: 'system.cpu.user', aggregation: 'avg', groupBy: ['host'], time: since('1h') };
const CHECKOUT_ERRORS: Panel = { kind: 'logs', title: 'checkout error logs', services: ['checkout'], levels: ['error'], limit: 50, time: since('15m') };
const PAYMENTS_ERRORS: Panel = {
  kind: 'logs',
  title: 'payments + ledger error logs',
  services: ['payments-api', 'ledger'],
  levels: ['error', 'critical'],
  limit: 50,
  time: since('15m'),
};
const PAYMENTS_FAILED_SPANS: Panel = { kind: 'spans', title: 'failed payments-api spans', services: ['payments-api'], status: 'error', limit: 20, time: since('15m') };

/** The analytics dashboard: the classic aggregate panels (counts over time, top lists, percentiles). */
const ANALYTICS: readonly Panel[] = [
  { kind: 'aggregate', title: 'checkout errors by status, 1 m', signal: 'logs', services: ['checkout'], levels: ['error', 'critical'], compute: 'count', groupBy: ['status'], interval: '1m', time: since('1h') },
  { kind: 'aggregate', title: 'p95 latency by service', signal: 'spans', services: [], compute: 'pc95:@duration', groupBy: ['service'], interval: '30m', time: since('24h') },
  { kind: 'aggregate', title: 'log volume by service, 1 m', signal: 'logs', services: [], compute: 'count', groupBy: ['service'], interval: '1m', time: since('1h') },
  { kind: 'aggregate', title: 'top 5 failing resources', signal: 'spans', services: [], status: 'error', compute: 'count', groupBy: ['resource_name'], limit: 5, time: since('24h') },
  { kind: 'aggregate', title: 'payments-api errors by status, 30 s', signal: 'logs', services: ['payments-api'], levels: ['error', 'critical'], compute: 'count', groupBy: ['status'], interval: '30s', time: since('15m') },
  { kind: 'aggregate', title: 'ledger p99 latency, 1 m', signal: 'spans', services: ['ledger'], compute: 'pc99:@duration', groupBy: [], interval: '1m', time: since('1h') },
  { kind: 'aggregate', title: 'checkout HTTP status codes', signal: 'logs', services: ['checkout'], compute: 'count', groupBy: ['@http.status_code'], limit: 5, time: since('1h') },
  { kind: 'aggregate', title: 'hosts per service', signal: 'logs', services: [], compute: 'cardinality:host', groupBy: ['service'], time: since('15m') },
];

export const TEMPLATES: Readonly<Record<'checkout' | 'payments' | 'overview' | 'analytics', readonly Panel[]>> = {
  checkout: [
    CHECKOUT_ERRORS,
    { kind: 'metrics', title: 'checkout hits', metric: 'trace.web.request.hits', service: 'checkout', aggregation: 'sum', groupBy: [], time: since('1h') },
    { kind: 'spans', title: 'failed checkout spans', services: ['checkout'], status: 'error', limit: 20, time: since('15m') },
    {
      kind: 'metrics',
      title: 'checkout latency by resource',
      metric: 'trace.web.request.duration',
      service: 'checkout',
      aggregation: 'avg',
      groupBy: ['resource_name'],
      time: since('24h'),
    },
    { kind: 'logs', title: 'checkout log stream', services: ['checkout'], levels: [], limit: 100, time: since('1h') },
    { kind: 'metrics', title: 'checkout errors', metric: 'trace.web.request.errors', service: 'checkout', aggregation: 'sum', groupBy: [], time: since('15m') },
    { kind: 'spans', title: 'checkout prod spans', services: ['checkout'], env: 'prod', limit: 50, time: since('1h') },
    CPU_BY_HOST,
  ],
  payments: [
    PAYMENTS_ERRORS,
    { kind: 'metrics', title: 'payments hits', metric: 'trace.web.request.hits', service: 'payments-api', aggregation: 'sum', groupBy: [], time: since('1h') },
    PAYMENTS_FAILED_SPANS,
    {
      kind: 'metrics',
      title: 'ledger latency by resource',
      metric: 'trace.web.request.duration',
      service: 'ledger',
      aggregation: 'avg',
      groupBy: ['resource_name'],
      time: since('24h'),
    },
    { kind: 'logs', title: 'payments warnings and errors', services: ['payments-api'], levels: ['warn', 'error'], limit: 100, time: since('1h') },
    { kind: 'metrics', title: 'payments errors', metric: 'trace.web.request.errors', service: 'payments-api', aggregation: 'sum', groupBy: [], time: since('15m') },
    { kind: 'spans', title: 'ledger entries', services: ['ledger'], env: 'prod', resource: 'POST /v1/entries', limit: 50, time: since('1h') },
    CPU_BY_HOST,
  ],
  overview: [
    CHECKOUT_ERRORS,
    { kind: 'metrics', title: 'hits by service', metric: 'trace.web.request.hits', aggregation: 'sum', groupBy: ['service'], time: since('1h') },
    { kind: 'spans', title: 'failed prod spans', services: [], env: 'prod', status: 'error', limit: 20, time: since('15m') },
    PAYMENTS_ERRORS,
    { kind: 'logs', title: 'critical logs', services: [], levels: ['critical'], limit: 50, time: since('24h') },
    { kind: 'metrics', title: 'errors by service', metric: 'trace.web.request.errors', aggregation: 'sum', groupBy: ['service'], time: since('24h') },
    CPU_BY_HOST,
    PAYMENTS_FAILED_SPANS,
  ],
  analytics: ANALYTICS,
};

/** The template's first `count` panels; past eight, the template again at EXTRA_RANGES. */
export function templatePanels(template: readonly Panel[], count: number): Panel[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PANELS) throw new RangeError(`panels must be an integer in 1..${MAX_PANELS}, got ${count}`);
  return Array.from({ length: count }, (_, k) => {
    const base = template[k % template.length]!;
    const round = Math.floor(k / template.length);
    return round === 0 ? base : { ...base, title: `${base.title} (${EXTRA_RANGES[round - 1]})`, time: since(EXTRA_RANGES[round - 1]!) };
  });
}

/** The fleet's dashboards. `startMs` anchors the zoomed windows so a run is self-consistent. */
export function buildDashboards(count: number, panels: number, mix: Mix, startMs: number): Dashboard[] {
  return Array.from({ length: count }, (_, index) => {
    if (mix === 'same') return { index, name: 'checkout', panels: templatePanels(TEMPLATES.checkout, panels) };
    const slot = index % 10;
    if (mix === 'analytics') {
      const base = templatePanels(TEMPLATES.analytics, panels);
      return slot <= 6 ? { index, name: 'analytics', panels: base } : { index, name: 'analytics@4h', panels: base.map((p) => ({ ...p, time: since('4h') })) };
    }
    if (slot <= 3) return { index, name: 'checkout', panels: templatePanels(TEMPLATES.checkout, panels) };
    if (slot <= 6) return { index, name: 'payments', panels: templatePanels(TEMPLATES.payments, panels) };
    if (slot === 7) return { index, name: 'overview', panels: templatePanels(TEMPLATES.overview, panels) };
    if (slot === 8) {
      return { index, name: 'checkout@4h', panels: templatePanels(TEMPLATES.checkout, panels).map((p) => ({ ...p, time: since('4h') })) };
    }
    const end = Math.floor((startMs - ZOOM_END_AGO_MS - index * ZOOM_STEP_MS) / 60_000) * 60_000;
    const window: PanelTime = { from: new Date(end - ZOOM_LENGTH_MS).toISOString(), to: new Date(end).toISOString() };
    return { index, name: 'checkout@zoomed', panels: templatePanels(TEMPLATES.checkout, panels).map((p) => ({ ...p, time: window })) };
  });
}

export interface MixSummary {
  mix: Mix;
  dashboards: Record<string, number>;
  /** Panel requests per refresh of the whole fleet. */
  panelsPerRefresh: number;
  panelsByKind: Record<PanelKind, number>;
  /** Distinct panels (same route, parameters and range) across the fleet. */
  distinctPanels: number;
  distinctRelative: number;
  distinctAbsolute: number;
  /** panelsPerRefresh / distinctPanels: how many dashboards show the same panel, on average. */
  sharing: number;
}

export function summarizeMix(dashboards: readonly Dashboard[], mix: Mix): MixSummary {
  const names: Record<string, number> = {};
  const byKind = Object.fromEntries(PANEL_KINDS.map((k) => [k, 0])) as Record<PanelKind, number>;
  const distinct = new Map<string, Panel>();
  let total = 0;
  for (const d of dashboards) {
    names[d.name] = (names[d.name] ?? 0) + 1;
    for (const p of d.panels) {
      total++;
      byKind[p.kind]++;
      distinct.set(panelPath(p), p);
    }
  }
  const relative = [...distinct.values()].filter(isRelative).length;
  return {
    mix,
    dashboards: names,
    panelsPerRefresh: total,
    panelsByKind: byKind,
    distinctPanels: distinct.size,
    distinctRelative: relative,
    distinctAbsolute: distinct.size - relative,
    sharing: distinct.size === 0 ? 0 : total / distinct.size,
  };
}
