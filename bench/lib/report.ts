import { FAMILIES, type Family, type FleetReport, type SideReport } from '../fleet.ts';
import { OVERHEAD_TARGETS, type Comparison, type OverheadReport } from '../overhead.ts';
import type { ReplicaFleetReport, ReplicasReport } from '../replicas.ts';
import type { SecretsLazyLoadReport } from '../secrets-lazy-load.ts';
import type { Percentiles } from './stats.ts';

/** Everything one `npm run bench` measured; written to bench/results/latest.json. */
export interface BenchResults {
  /** The command that produced these numbers. */
  command: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; memoryGb: number };
  startedAt: string;
  finishedAt: string;
  fleet?: FleetReport[];
  overhead?: OverheadReport;
  replicas?: ReplicasReport;
  secrets?: SecretsLazyLoadReport;
}

const ms = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–');
const times = (v: number): string => (Number.isFinite(v) ? `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}×` : '–');
const x2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');
const pct = (p: Percentiles): string => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`;
const counts = (c: Record<string, number>): string =>
  Object.entries(c).length === 0
    ? '–'
    : Object.entries(c)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT MET');

/** The families a run used (either side called them); the searches and metrics when none did. */
function familiesOf(r: Pick<FleetReport, 'gateway' | 'passThrough'>): Family[] {
  const used = FAMILIES.filter((f) => r.gateway.upstream[f] + r.passThrough.upstream[f] > 0);
  return used.length > 0 ? used : ['logs', 'spans', 'metrics'];
}

function fleetRows(r: Pick<FleetReport, 'gateway' | 'passThrough'>): Array<[string, string, string]> {
  const side = (f: (s: SideReport) => string): [string, string] => [f(r.gateway), f(r.passThrough)];
  const families = familiesOf(r);
  const up = (s: SideReport): string => `${s.upstream.total} (${families.map((f) => `${f} ${s.upstream[f]}`).join(', ')})`;
  const perHour = (s: SideReport): string => families.map((f) => `${f} ${s.upstreamPerHour[f]}`).join(', ');
  return [
    ['panel requests sent (skipped while loading)', ...side((s) => `${s.sent} (${s.skipped})`)],
    ['answered / no answer', ...side((s) => `${s.answered} / ${s.noAnswer}`)],
    ['upstream calls (counted by the simulator)', ...side(up)],
    ['upstream calls per hour at this pace', ...side(perHour)],
    ['HTTP statuses', ...side((s) => counts(s.byStatus))],
    ['429 to dashboards', ...side((s) => String(s.status429))],
    ['5xx to dashboards', ...side((s) => String(s.status5xx))],
    ['error codes', ...side((s) => counts(s.byErrorCode))],
    ['latency p50 / p95 / p99, all answers (ms)', ...side((s) => pct(s.latencyMs))],
    ['latency p50 / p95 / p99, 2xx only (ms)', ...side((s) => pct(s.latencyOkMs))],
    ['x-tinkr-cache', ...side((s) => counts(s.cache))],
    ['data age p50 / p95 / max, 2xx (s)', ...side((s) => `${s.ageS.p50} / ${s.ageS.p95} / ${s.ageS.max}`)],
  ];
}

function fleetHeadline(r: Pick<FleetReport, 'mixSummary' | 'options' | 'refreshes' | 'budgetPerHour' | 'budgetRolledOver' | 'gateway' | 'passThrough'>): string[] {
  const m = r.mixSummary;
  const o = r.options;
  const kinds = Object.entries(m.panelsByKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  return [
    `mix "${m.mix}": ${o.dashboards} dashboards × ${o.panels} panels, refresh every ${o.intervalMs / 1000} s (±${(o.jitter * 50).toFixed(0)} %) for ${o.durationMs / 1000} s: ${r.refreshes} dashboard refreshes`,
    `dashboards: ${counts(m.dashboards)}`,
    `panel requests per fleet refresh: ${m.panelsPerRefresh} (${kinds}); distinct panels ${m.distinctPanels} (${m.distinctRelative} relative, ${m.distinctAbsolute} fixed windows): ${m.sharing.toFixed(1)} dashboards per panel`,
    `budget per hour (both simulators): ${familiesOf(r).map((f) => `${f} ${r.budgetPerHour[f]}`).join(', ')}${Object.values(r.budgetRolledOver).some(Boolean) ? ' — a budget period ended during the run' : ''}`,
  ];
}

function fleetVerdict(r: FleetReport): string[] {
  const pace = familiesOf(r)
    .map((f) => `${f} ${r.gateway.upstreamPerHour[f]}/${r.budgetPerHour[f]}${r.gateway.upstreamPerHour[f] > r.budgetPerHour[f] ? ' (over)' : ''}`)
    .join(', ');
  return [
    `upstream reduction vs pass-through: ${times(r.reduction)} (target ≥ ${r.target.reduction}×: ${verdict(r.target.reductionMet)}); 5xx: ${r.gateway.status5xx} (target 0: ${verdict(r.target.zero5xx)})`,
    `reference: one upstream call per distinct panel per refresh interval would be ${r.onePerIntervalFloor} calls (${times(r.passThrough.upstream.total / r.onePerIntervalFloor)} fewer than pass-through)`,
    `gateway's pace per hour vs budget: ${pace}`,
  ];
}

export function formatFleet(r: FleetReport): string {
  const rows = fleetRows(r);
  const w0 = Math.max(...rows.map((row) => row[0].length));
  const w1 = Math.max('gateway'.length, ...rows.map((row) => row[1].length));
  const lines = [...fleetHeadline(r).map((l) => `  ${l}`), '', `  ${''.padEnd(w0)}  ${'gateway'.padEnd(w1)}  pass-through`];
  for (const [label, a, b] of rows) lines.push(`  ${label.padEnd(w0)}  ${a.padEnd(w1)}  ${b}`);
  lines.push('', ...fleetVerdict(r).map((l) => `  ${l}`));
  return lines.join('\n');
}

/** The replicas fleet in the fleet's shapes: the one replica where the gateway was, the replicas beside it. */
const asPair = (r: ReplicaFleetReport) => ({ ...r, gateway: r.single, passThrough: r.fleet });

function replicasVerdict(r: ReplicasReport): string[] {
  const f = r.fleet;
  const [near, far] = [r.hitNearCopy, r.hitFromRedis];
  const p50 = (v: number): string => `${x2(v)} ms`;
  const added = (v: number): string => `${v >= 0 ? '+' : ''}${x2(v)} ms`;
  return [
    `upstream calls, ${f.replicas} replicas / one replica: ${x2(f.callRatio)} (${f.fleet.upstream.total} / ${f.single.upstream.total}; target ≤ ${f.target.callRatio}: ${verdict(f.target.callRatioMet)}); 5xx: ${f.fleet.status5xx} (target 0: ${verdict(f.target.zero5xx)})`,
    `a cache hit at p50 with one connection: ${p50(near.referenceSummary.latencyP50Ms)} in process, ${p50(near.subjectSummary.latencyP50Ms)} via Redis with a near copy (${added(near.addedP50Ms)}), ${p50(far.subjectSummary.latencyP50Ms)} read from Redis (${added(far.addedP50Ms)})`,
    `server CPU per hit: ${us(near.referenceSummary.cpuPerRequestUs)} µs in process, ${us(near.subjectSummary.cpuPerRequestUs)} µs via Redis with a near copy (${x2(near.cpuRatio ?? Number.NaN)}), ${us(far.subjectSummary.cpuPerRequestUs)} µs read from Redis (${x2(far.cpuRatio ?? Number.NaN)}); Redis GETs per hit: ${perRequest(near.subjectSummary.redisGetsPerRequest)} with a near copy, ${perRequest(far.subjectSummary.redisGetsPerRequest)} read from Redis`,
  ];
}

const perRequest = (v: number | undefined): string => (v !== undefined ? x2(v) : '–');

/** The hit runs side by side: in process (the reference), then each Redis contender and its ratio to it. */
function replicaHitTable(r: ReplicasReport): { header: string[]; rows: string[][] } {
  const [near, far] = [r.hitNearCopy, r.hitFromRedis];
  const nearRows = comparisonRows(near);
  const farRows = comparisonRows(far);
  const rows = nearRows.map(([label, s, ref, q], i) => {
    const [, s2, , q2] = farRows[i]!;
    return [label, ref, s, q, s2, q2];
  });
  rows.splice(rows.length - 1, 0, ['Redis GETs per request', '–', perRequest(near.subjectSummary.redisGetsPerRequest), '', perRequest(far.subjectSummary.redisGetsPerRequest), '']);
  return { header: ['', near.reference, near.subject, 'ratio', far.subject, 'ratio'], rows };
}

export function formatReplicas(r: ReplicasReport): string {
  const pair = asPair(r.fleet);
  const rows = fleetRows(pair);
  const [single, fleet] = ['one replica', `${r.fleet.replicas} replicas + Redis`];
  const w0 = Math.max(...rows.map((row) => row[0].length));
  const w1 = Math.max(single.length, ...rows.map((row) => row[1].length));
  const lines = [...fleetHeadline(pair).map((l) => `  ${l}`), '', `  ${''.padEnd(w0)}  ${single.padEnd(w1)}  ${fleet}`];
  for (const [label, a, b] of rows) lines.push(`  ${label.padEnd(w0)}  ${a.padEnd(w1)}  ${b}`);
  const hits = replicaHitTable(r);
  const widths = hits.header.map((h, i) => Math.max(h.length, ...hits.rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  lines.push('', `  Cache hits, one connection: ${hits.header.slice(1).filter((h) => h !== 'ratio').join(' / ')} (ratios to ${r.hitNearCopy.reference})`, line(hits.header));
  for (const row of hits.rows) lines.push(line(row));
  lines.push('', ...replicasVerdict(r).map((l) => `  ${l}`));
  return lines.join('\n');
}

const us = (v: number | undefined): string => (v !== undefined && Number.isFinite(v) ? v.toFixed(0) : '–');
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)}`;

function comparisonRows(c: Comparison): Array<[string, string, string, string]> {
  const s = c.subjectSummary;
  const r = c.referenceSummary;
  return [
    ['server CPU per request (µs, median)', us(s.cpuPerRequestUs), us(r.cpuPerRequestUs), c.cpuRatio !== undefined ? `${x2(c.cpuRatio)} (reference / server)` : ''],
    ['throughput (req/s, median)', s.rps.toFixed(0), r.rps.toFixed(0), x2(c.throughputRatio)],
    ['latency p50 (ms)', x2(s.latencyP50Ms), x2(r.latencyP50Ms), x2(c.latencyP50Ratio)],
    ['latency p99 (ms)', x2(s.latencyP99Ms), x2(r.latencyP99Ms), x2(c.latencyP99Ratio)],
    ['latency mean (ms)', x2(s.latencyMeanMs), x2(r.latencyMeanMs), x2(s.latencyMeanMs / r.latencyMeanMs)],
    ['latency added at p50 (ms, median of rounds)', x2(c.addedP50Ms), '', ''],
    ['responses / non-2xx / errors', `${s.responses} / ${s.non2xx} / ${s.errors}`, `${r.responses} / ${r.non2xx} / ${r.errors}`, ''],
    ['x-tinkr-cache', counts(s.cache), counts(r.cache), ''],
    ['upstream calls per request', s.upstreamPerRequest !== undefined ? x2(s.upstreamPerRequest) : '–', r.upstreamPerRequest !== undefined ? x2(r.upstreamPerRequest) : '–', ''],
  ];
}

const COMPARISONS = [
  ['(a) Caching bypassed, one connection', 'bypass'],
  ['(b) Cache hits, one connection', 'hitLatency'],
  ['(b) Cache hits, throughput', 'hitThroughput'],
] as const;

function overheadVerdict(r: OverheadReport): string[] {
  const t = r.targets;
  const lines = [
    `cache hit CPU per request, bare route / server: ${x2(t.hitCpuRatio)} at ${r.hitThroughput.connections} connections, ${x2(r.hitLatency.cpuRatio ?? Number.NaN)} at one (target ≥ ${OVERHEAD_TARGETS.hitCpuRatio}: ${verdict(t.hitCpuRatioMet)})`,
    `bypass adds ${x2(t.bypassAddedP50Ms)} ms at p50 with one connection (target ≤ ${OVERHEAD_TARGETS.bypassAddedP50Ms} ms: ${verdict(t.bypassAddedP50MsMet)}); server CPU ${us(r.bypass.subjectSummary.cpuPerRequestUs)} µs per bypassed request`,
  ];
  const m = r.memory;
  if (m) {
    lines.push(
      `memory after ${m.queries} distinct ${m.rows}-row queries (${m.ok} ok, ${m.failed} failed; ${mb(m.answerBytes * m.queries)} MiB of answers, ${(m.answerBytes / 1024).toFixed(0)} kB each) with a ${mb(m.cacheMaxBytes)} MiB cache: ` +
        `RSS ${mb(m.baseline.rss)} → ${mb(m.after.rss)} MiB (peak ${mb(m.after.maxRss)} MiB), heap used ${mb(m.baseline.heapUsed)} → ${mb(m.after.heapUsed)} MiB (of ${mb(m.after.heapTotal)} reserved), ` +
        `array buffers ${mb(m.baseline.arrayBuffers)} → ${mb(m.after.arrayBuffers)} MiB (after a forced GC)`,
    );
  }
  return lines;
}

export function formatOverhead(r: OverheadReport): string {
  const o = r.options;
  const lines = [
    `  ${o.rounds} round(s) of ${o.runMs / 1000} s per target (after ${o.warmupMs / 1000} s warm-up), alternating ABBA; each party in its own process`,
    `  equivalence: one unique query answered ${r.equivalence.gatewayItems} items via the server, ${r.equivalence.directItems} direct (${r.equivalence.same ? 'same' : 'DIFFERENT'})`,
  ];
  for (const [title, key] of COMPARISONS) {
    const c = r[key];
    const rows = comparisonRows(c);
    const w0 = Math.max(...rows.map((row) => row[0].length));
    const w1 = Math.max(c.subject.length, ...rows.map((row) => row[1].length));
    const w2 = Math.max(c.reference.length, ...rows.map((row) => row[2].length));
    lines.push('', `  ${title} (${c.connections} connection${c.connections === 1 ? '' : 's'}): ${c.subject} vs ${c.reference}`, `  ${''.padEnd(w0)}  ${c.subject.padEnd(w1)}  ${c.reference.padEnd(w2)}  ratio`);
    for (const [label, a, b, q] of rows) lines.push(`  ${label.padEnd(w0)}  ${a.padEnd(w1)}  ${b.padEnd(w2)}  ${q}`);
  }
  lines.push('', ...overheadVerdict(r).map((l) => `  ${l}`));
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/** The result tables of bench/README.md, regenerated from a run: `node bench/run.ts --render <results.json>`. */
export function markdown(results: BenchResults): string {
  const m = results.machine;
  const out = [
    `Measured ${results.startedAt.slice(0, 10)} with \`${results.command}\` on ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, ${m.platform}, Node ${m.node}.`,
  ];
  for (const r of results.fleet ?? []) {
    out.push('', `#### Dashboard fleet, mix \`${r.mixSummary.mix}\``, '', ...fleetHeadline(r).map((l) => `- ${l}`), '');
    out.push(table(['', 'gateway', 'pass-through'], fleetRows(r).map((row) => [...row])));
    out.push('', ...fleetVerdict(r).map((l) => `- **${l.slice(0, l.indexOf(':'))}:**${l.slice(l.indexOf(':') + 1)}`));
  }
  if (results.overhead) {
    const r = results.overhead;
    out.push(
      '',
      '#### Overhead',
      '',
      `${r.options.rounds} round(s) of ${r.options.runMs / 1000} s per target after a ${r.options.warmupMs / 1000} s warm-up, ABBA order; simulator, server, bare route and load generator each in their own process; the server at its shipped defaults (metrics on, access log to a file). CPU per request is the measured process's own CPU time over the responses it sent. Ratios are medians of per-round ratios.`,
    );
    for (const [title, key] of COMPARISONS) {
      const c = r[key];
      out.push('', `${title} (${c.connections} connection${c.connections === 1 ? '' : 's'}): ${c.subject} vs ${c.reference}`, '');
      out.push(table(['', c.subject, c.reference, 'ratio'], comparisonRows(c).map((row) => [...row])));
    }
    out.push('', ...overheadVerdict(r).map((l) => `- ${l}`));
  }
  if (results.replicas) {
    const r = results.replicas;
    const pair = asPair(r.fleet);
    out.push('', `#### Replicas: ${r.fleet.replicas} sharing Redis vs one`, '', ...fleetHeadline(pair).map((l) => `- ${l}`), '');
    out.push(table(['', 'one replica', `${r.fleet.replicas} replicas + Redis`], fleetRows(pair).map((row) => [...row])));
    const c = r.hitNearCopy;
    const hits = replicaHitTable(r);
    out.push(
      '',
      `Cache hits, one connection: ${c.reference} / ${c.subject} / ${r.hitFromRedis.subject} (${c.subjectSummary.runs.length} round(s) of ${(c.subjectSummary.runs[0]?.durationS ?? 0).toFixed(0)} s each, the three in turn, order reversed every other round, each server in its own process; ratios to ${c.reference})`,
      '',
    );
    out.push(table(hits.header, hits.rows));
    out.push('', ...replicasVerdict(r).map((l) => `- ${l}`));
  }
  if (results.secrets) {
    const s = results.secrets;
    out.push('', '#### Secrets: lazy vs eager cloud SDK imports', '', `${s.runs} fresh processes per variant, medians; ratios against the shipped lazy variant.`, '');
    out.push(
      table(
        ['variant', 'ready ms', '×', 'RSS MB', '×', 'heap MB', '×'],
        s.variants.map((v) => [v.variant, v.readyMs.toFixed(0), x2(v.readyRatio), v.rssMb.toFixed(1), x2(v.rssRatio), v.heapMb.toFixed(1), x2(v.heapRatio)]),
      ),
    );
  }
  return out.join('\n');
}
