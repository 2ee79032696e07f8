/**
 * What lazy SDK loading saves an env-only boot: each variant runs in fresh Node processes
 * (a cold module cache, as at boot) that load src/secrets and build an env-only credential
 * store; the eager variants also import cloud SDKs, as a static import would. Prints medians
 * of time-to-ready and memory side by side, with ratios against the lazy (shipped) variant.
 *
 *   node bench/secrets-lazy-load.ts [runs]   (or as part of `npm run bench`)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './lib/stats.ts';

const SDKS = {
  aws: ['@aws-sdk/client-secrets-manager'],
  gcp: ['@google-cloud/secret-manager'],
  azure: ['@azure/keyvault-secrets', '@azure/identity'],
} as const;

const VARIANTS = {
  'lazy (shipped)': [],
  'eager: aws': SDKS.aws,
  'eager: gcp': SDKS.gcp,
  'eager: azure': SDKS.azure,
  'eager: all three': [...SDKS.aws, ...SDKS.gcp, ...SDKS.azure],
} as const satisfies Record<string, readonly string[]>;

export type Variant = keyof typeof VARIANTS;

interface Sample {
  readyMs: number;
  rssMb: number;
  heapMb: number;
}

// Odd, so the median is a real run; enough to smooth a shared machine's noise.
export const DEFAULT_RUNS = 7;

async function child(variant: Variant): Promise<void> {
  for (const pkg of VARIANTS[variant]) await import(pkg);
  const { createCredentialStore } = await import('../src/secrets/store.ts');
  const { systemClock } = await import('../src/clock.ts');
  const store = createCredentialStore({
    initial: { apiKey: 'bench-api-key', appKey: 'bench-app-key' },
    clock: systemClock,
    timeoutMs: 15_000,
    log: { info: () => {}, warn: () => {} },
  });
  store.state();
  const mem = process.memoryUsage();
  // performance.now() counts from process start, so this includes Node's own startup.
  const sample: Sample = { readyMs: performance.now(), rssMb: mem.rss / 2 ** 20, heapMb: mem.heapUsed / 2 ** 20 };
  process.stdout.write(JSON.stringify(sample));
}

export interface VariantResult {
  variant: Variant;
  /** Medians over the runs. */
  readyMs: number;
  rssMb: number;
  heapMb: number;
  /** Against the lazy (shipped) variant. */
  readyRatio: number;
  rssRatio: number;
  heapRatio: number;
}

export interface SecretsLazyLoadReport {
  node: string;
  runs: number;
  variants: VariantResult[];
}

/** Most fresh processes per variant; each costs a Node start. */
export const MAX_RUNS = 101;

export function runSecretsLazyLoad(runs = DEFAULT_RUNS): SecretsLazyLoadReport {
  if (!Number.isInteger(runs) || runs < 1 || runs > MAX_RUNS) throw new RangeError(`runs must be an integer in 1..${MAX_RUNS}, got ${runs}`);
  const self = fileURLToPath(import.meta.url);
  const samples = new Map<Variant, Sample[]>();
  const variants = Object.keys(VARIANTS) as Variant[];
  // Interleaved so a busy moment on the machine hits every variant alike.
  for (let i = 0; i < runs; i++) {
    for (const variant of variants) {
      const out = execFileSync(process.execPath, [self, '--child', variant], { encoding: 'utf8' });
      samples.set(variant, [...(samples.get(variant) ?? []), JSON.parse(out) as Sample]);
    }
  }
  const medians = (variant: Variant) => {
    const s = samples.get(variant) ?? [];
    return { readyMs: median(s.map((x) => x.readyMs)), rssMb: median(s.map((x) => x.rssMb)), heapMb: median(s.map((x) => x.heapMb)) };
  };
  const base = medians('lazy (shipped)');
  return {
    node: process.versions.node,
    runs,
    variants: variants.map((variant) => {
      const m = medians(variant);
      return { variant, ...m, readyRatio: m.readyMs / base.readyMs, rssRatio: m.rssMb / base.rssMb, heapRatio: m.heapMb / base.heapMb };
    }),
  };
}

export function formatSecretsLazyLoad(report: SecretsLazyLoadReport): string {
  const lines = [
    `Node ${report.node}, ${report.runs} fresh processes per variant, medians:`,
    '',
    `${'variant'.padEnd(18)} ${'ready ms'.padStart(9)} ${'×'.padStart(6)} ${'RSS MB'.padStart(8)} ${'×'.padStart(6)} ${'heap MB'.padStart(8)} ${'×'.padStart(6)}`,
  ];
  for (const v of report.variants) {
    lines.push(
      `${v.variant.padEnd(18)} ${v.readyMs.toFixed(0).padStart(9)} ${v.readyRatio.toFixed(2).padStart(6)} ${v.rssMb.toFixed(1).padStart(8)} ${v.rssRatio.toFixed(2).padStart(6)} ${v.heapMb.toFixed(1).padStart(8)} ${v.heapRatio.toFixed(2).padStart(6)}`,
    );
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const [flag, variant] = process.argv.slice(2);
  if (flag === '--child' && variant !== undefined && variant in VARIANTS) await child(variant as Variant);
  else console.log(formatSecretsLazyLoad(runSecretsLazyLoad(Number(flag ?? DEFAULT_RUNS) || DEFAULT_RUNS)));
}
