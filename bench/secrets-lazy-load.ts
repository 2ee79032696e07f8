/**
 * What lazy SDK loading saves an env-only boot: each variant runs in fresh Node processes
 * (a cold module cache, as at boot) that load src/secrets and build an env-only credential
 * store; the eager variants also import cloud SDKs, as a static import would. Prints medians
 * of time-to-ready and memory side by side, with ratios against the lazy (shipped) variant.
 *
 *   node bench/secrets-lazy-load.ts [runs]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

type Variant = keyof typeof VARIANTS;

interface Sample {
  readyMs: number;
  rssMb: number;
  heapMb: number;
}

// Odd, so the median is a real run; enough to smooth a shared machine's noise.
const DEFAULT_RUNS = 7;

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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function parent(runs: number): void {
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
  const base = samples.get('lazy (shipped)') ?? [];
  const baseReady = median(base.map((s) => s.readyMs));
  const baseRss = median(base.map((s) => s.rssMb));
  const baseHeap = median(base.map((s) => s.heapMb));
  console.log(`Node ${process.versions.node}, ${runs} fresh processes per variant, medians:\n`);
  console.log(`${'variant'.padEnd(18)} ${'ready ms'.padStart(9)} ${'×'.padStart(6)} ${'RSS MB'.padStart(8)} ${'×'.padStart(6)} ${'heap MB'.padStart(8)} ${'×'.padStart(6)}`);
  for (const variant of variants) {
    const s = samples.get(variant) ?? [];
    const ready = median(s.map((x) => x.readyMs));
    const rss = median(s.map((x) => x.rssMb));
    const heap = median(s.map((x) => x.heapMb));
    console.log(
      `${variant.padEnd(18)} ${ready.toFixed(0).padStart(9)} ${(ready / baseReady).toFixed(2).padStart(6)} ${rss.toFixed(1).padStart(8)} ${(rss / baseRss).toFixed(2).padStart(6)} ${heap.toFixed(1).padStart(8)} ${(heap / baseHeap).toFixed(2).padStart(6)}`,
    );
  }
}

const [flag, variant] = process.argv.slice(2);
if (flag === '--child' && variant !== undefined && variant in VARIANTS) await child(variant as Variant);
else parent(Number(flag ?? DEFAULT_RUNS) || DEFAULT_RUNS);
