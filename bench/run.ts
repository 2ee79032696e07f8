/**
 * `npm run bench [-- <benchmark...>] [options]`: runs the benchmarks in sequence, prints a
 * report, writes bench/results/latest.json and, with --markdown, the tables of bench/README.md.
 *
 *   npm run bench                       every benchmark at its full size (about 15 minutes)
 *   npm run bench -- fleet --mix same   one benchmark, one fleet mix
 *   npm run bench -- replicas           three replicas sharing Redis against one
 *   npm run bench -- --quick            a short smoke run of everything (a minute or two)
 *   node bench/run.ts --render bench/results/latest.json   the README tables of a saved run
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/time/duration.ts';
import { FLEET_DEFAULTS, runFleet, type FleetOptions, type FleetReport } from './fleet.ts';
import { MIXES, MAX_PANELS, type Mix } from './fleet/mix.ts';
import { formatFleet, formatOverhead, formatReplicas, markdown, type BenchResults } from './lib/report.ts';
import { OVERHEAD_DEFAULTS, runOverhead, type OverheadOptions } from './overhead.ts';
import { DEFAULT_REPLICAS, runReplicas } from './replicas.ts';
import { DEFAULT_RUNS, formatSecretsLazyLoad, runSecretsLazyLoad } from './secrets-lazy-load.ts';

export const BENCHMARKS = ['fleet', 'overhead', 'replicas', 'secrets'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const USAGE = `usage: npm run bench -- [fleet] [overhead] [replicas] [secrets] [options]

  (no names)          run every benchmark
  --quick             a short smoke run (small fleet, short overhead runs, few processes)
  --markdown          also print the result tables of bench/README.md
  --render FILE       print the README tables of a saved results file and exit
  --out FILE          where to write the results (default bench/results/latest.json)

fleet:    --dashboards N (${FLEET_DEFAULTS.dashboards})  --panels N (${FLEET_DEFAULTS.panels}, at most ${MAX_PANELS})
          --duration D (${FLEET_DEFAULTS.durationMs / 1000}s)  --interval D (${FLEET_DEFAULTS.intervalMs / 1000}s)
          --mix mixed|same|analytics|all (all)  --seed N (${FLEET_DEFAULTS.seed})
overhead: --run D (${OVERHEAD_DEFAULTS.runMs / 1000}s)  --warmup D (${OVERHEAD_DEFAULTS.warmupMs / 1000}s)
          --rounds N (${OVERHEAD_DEFAULTS.rounds})  --connections N (${OVERHEAD_DEFAULTS.connections}, the throughput run)
          --memory-queries N (${OVERHEAD_DEFAULTS.memoryQueries}; 0 skips the memory run)
replicas: --replicas N (${DEFAULT_REPLICAS}); the fleet flags (one --mix, mixed by default) and --run, --warmup, --rounds
secrets:  --runs N (${DEFAULT_RUNS})
Durations: 500ms, 10s, 2m.`;

/** --quick: enough of every benchmark to see it work, not to trust its numbers. */
const QUICK = {
  fleet: { dashboards: 10, durationMs: 15_000, intervalMs: 5_000 },
  overhead: { runMs: 1_000, warmupMs: 300, rounds: 1, memoryQueries: 200 },
  secretsRuns: 3,
} as const;

const DEFAULT_OUT = fileURLToPath(new URL('./results/latest.json', import.meta.url));

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(64);
}

function duration(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = parseDuration(text, ['ms', 's', 'm', 'h']);
  if (value === undefined) fail(`--${name} must be a duration such as 500ms, 10s or 2m, got "${text}"`);
  return value;
}

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) fail(`--${name} must be a whole number, got "${text}"`);
  return Number(text);
}

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        quick: { type: 'boolean' },
        markdown: { type: 'boolean' },
        render: { type: 'string' },
        out: { type: 'string' },
        dashboards: { type: 'string' },
        panels: { type: 'string' },
        duration: { type: 'string' },
        interval: { type: 'string' },
        mix: { type: 'string' },
        seed: { type: 'string' },
        run: { type: 'string' },
        warmup: { type: 'string' },
        rounds: { type: 'string' },
        connections: { type: 'string' },
        'memory-queries': { type: 'string' },
        runs: { type: 'string' },
        replicas: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
})();

if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (flags.render !== undefined) {
  process.stdout.write(`${markdown(JSON.parse(readFileSync(flags.render, 'utf8')) as BenchResults)}\n`);
  process.exit(0);
}

for (const name of positionals) if (!(BENCHMARKS as readonly string[]).includes(name)) fail(`unknown benchmark "${name}"; choose from ${BENCHMARKS.join(', ')}`);
const selected: Benchmark[] = positionals.length > 0 ? BENCHMARKS.filter((b) => positionals.includes(b)) : [...BENCHMARKS];
const mixFlag = flags.mix ?? 'all';
if (mixFlag !== 'all' && !(MIXES as readonly string[]).includes(mixFlag)) fail(`--mix must be ${MIXES.join(', ')} or all, got "${mixFlag}"`);
const mixes: Mix[] = mixFlag === 'all' ? [...MIXES] : [mixFlag as Mix];
const quick = flags.quick === true;
const progress = (line: string): void => void process.stdout.write(`${line}\n`);

const fleetBase: Omit<FleetOptions, 'mix'> = {
  ...FLEET_DEFAULTS,
  ...(quick ? QUICK.fleet : {}),
  progress,
};
const fleetOptions = (mix: Mix): FleetOptions => ({
  ...fleetBase,
  mix,
  dashboards: integer(flags.dashboards, 'dashboards') ?? fleetBase.dashboards,
  panels: integer(flags.panels, 'panels') ?? fleetBase.panels,
  durationMs: duration(flags.duration, 'duration') ?? fleetBase.durationMs,
  intervalMs: duration(flags.interval, 'interval') ?? fleetBase.intervalMs,
  seed: integer(flags.seed, 'seed') ?? fleetBase.seed,
});
const overheadBase = { ...OVERHEAD_DEFAULTS, ...(quick ? QUICK.overhead : {}) };
const overheadOptions: OverheadOptions = {
  runMs: duration(flags.run, 'run') ?? overheadBase.runMs,
  warmupMs: duration(flags.warmup, 'warmup') ?? overheadBase.warmupMs,
  rounds: integer(flags.rounds, 'rounds') ?? overheadBase.rounds,
  connections: integer(flags.connections, 'connections') ?? overheadBase.connections,
  memoryQueries: integer(flags['memory-queries'], 'memory-queries') ?? overheadBase.memoryQueries,
  progress,
};
const secretsRuns = integer(flags.runs, 'runs') ?? (quick ? QUICK.secretsRuns : DEFAULT_RUNS);

const cpuList = cpus();
const results: BenchResults = {
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  machine: {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown CPU',
    node: process.versions.node,
    platform: `${platform()} ${release()}`,
    memoryGb: Math.round(totalmem() / 2 ** 30),
  },
  startedAt: new Date().toISOString(),
  finishedAt: '',
};
const rule = (title: string): void => progress(`\n== ${title} ${'='.repeat(Math.max(0, 76 - title.length))}`);
progress(`tinkr-server benchmarks: ${selected.join(', ')}${quick ? ' (quick)' : ''} — ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${results.machine.node}`);

if (selected.includes('fleet')) {
  const reports: FleetReport[] = [];
  for (const mix of mixes) {
    const options = fleetOptions(mix);
    rule(`Dashboard fleet (${mix})`);
    progress(`  running ${options.durationMs / 1000} s, gateway and pass-through side by side...`);
    const report = await runFleet(options);
    reports.push(report);
    progress(`\n${formatFleet(report)}`);
  }
  results.fleet = reports;
}
if (selected.includes('overhead')) {
  rule('Overhead');
  const report = await runOverhead(overheadOptions);
  results.overhead = report;
  progress(`\n${formatOverhead(report)}`);
}
if (selected.includes('replicas')) {
  const replicas = integer(flags.replicas, 'replicas') ?? DEFAULT_REPLICAS;
  const fleet = fleetOptions(mixFlag === 'all' ? 'mixed' : (mixFlag as Mix));
  rule(`Replicas: ${replicas} sharing Redis vs one (${fleet.mix})`);
  const report = await runReplicas({ fleet, replicas, hit: overheadOptions, progress });
  results.replicas = report;
  progress(`\n${formatReplicas(report)}`);
}
if (selected.includes('secrets')) {
  rule('Secrets: lazy vs eager cloud SDK imports');
  const report = runSecretsLazyLoad(secretsRuns);
  results.secrets = report;
  progress(formatSecretsLazyLoad(report));
}

results.finishedAt = new Date().toISOString();
const out = resolve(flags.out ?? DEFAULT_OUT);
mkdirSync(dirname(out), { recursive: true });
// Written whole or not at all: a half-written file would break --render.
writeFileSync(`${out}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
renameSync(`${out}.tmp`, out);
progress(`\nresults: ${out}`);
if (flags.markdown) progress(`\n${markdown(results)}`);
