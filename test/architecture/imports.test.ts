import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import direction of ARCHITECTURE.md, checked on the source: a request runs from the
 * routes through the signal services into the engine (upstream/) and out through the Datadog
 * client (datadog/), and imports follow it one way. A small scan (every `from '…'` and
 * `import('…')` of src/, relative paths resolved) is enough: the rules are about folders.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

interface Edge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every import of src/: `to` is a path under the repository for a relative import, else the bare name. */
function scan(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\b(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      const specifier = match[1]!;
      const to = specifier.startsWith('.') ? posix(relative(ROOT, resolve(dirname(file), specifier))) : specifier;
      edges.push({ from: posix(relative(ROOT, file)), to });
    }
  }
  return edges;
}

function posix(path: string): string {
  return path.split(sep).join('/');
}

/** `src/upstream/engine.ts` → `upstream/`; `src/errors.ts` → `errors.ts`; outside src/: the path itself. */
function room(path: string): string {
  if (!path.startsWith('src/')) return path;
  const inner = path.slice('src/'.length);
  const slash = inner.indexOf('/');
  return slash < 0 ? inner : inner.slice(0, slash + 1);
}

/** What each room may import besides itself and packages from the registry (ARCHITECTURE.md "Imports"). */
const ALLOWED: Record<string, readonly string[]> = {
  // The Datadog adapter: wire formats and the one HTTP client; it knows nothing of the engine.
  'datadog/': ['clock.ts', 'errors.ts', 'secrets/', 'telemetry/', 'time/', 'upstream-call.ts', 'warnings.ts'],
  // The engine: it drives the Datadog client and knows no signal, route or Tinkr rule.
  'upstream/': ['clock.ts', 'datadog/client.ts', 'errors.ts', 'hash.ts', 'secrets/', 'telemetry/', 'time/', 'upstream-call.ts', 'warnings.ts'],
  // The native signals: translation (datadog/) run through the engine, inside the caller's scope.
  'signals/': ['auth/', 'clock.ts', 'datadog/', 'errors.ts', 'hash.ts', 'time/', 'upstream-call.ts', 'upstream/', 'warnings.ts'],
  // Tinkr compatibility: built on the native signals, never the other way round.
  'tinkr/': ['auth/', 'clock.ts', 'datadog/', 'errors.ts', 'hash.ts', 'signals/', 'time/', 'upstream-call.ts', 'upstream/', 'warnings.ts'],
  // The neutral modules both sides share.
  'upstream-call.ts': ['errors.ts'],
  'warnings.ts': ['errors.ts'],
  'errors.ts': [],
  // Pure time arithmetic (durations, instants, ranges, the bucket grid): read by every room, it reads none.
  'time/': ['errors.ts'],
  // Shared state on Redis: it implements the seams other rooms declare (the engine's store, budget and share
  // ledgers, the quota counter, the cursor keys); boot.ts loads it only when a store is configured.
  'redis/': ['clock.ts', 'config/', 'http/', 'signals/', 'telemetry/', 'upstream-call.ts', 'upstream/'],
};

/** The server's wiring: the only files outside routes/ that may import a route. */
const WIRING = new Set(['server.ts', 'boot.ts', 'openapi.ts']);

/** The simulator's package name; only the demo command loads it (src/demo.ts, by name in a variable). */
const SIMULATOR_PACKAGE = '@tinkr/datadog-simulator';

/** Imports that break a rule, as `from → to` lines (empty when the tree keeps them all). */
function violations(edges: readonly Edge[]): string[] {
  const found: string[] = [];
  for (const { from, to } of edges) {
    const source = room(from);
    const isLocal = to.startsWith('src/') || to.startsWith('packages/') || to.startsWith('bench/') || to.startsWith('test/');
    if (to.startsWith('packages/') || to === SIMULATOR_PACKAGE || to.startsWith(`${SIMULATOR_PACKAGE}/`)) {
      found.push(`${from} → ${to}: src/ does not import the simulator (only the demo loads it, by name)`);
      continue;
    }
    if (!isLocal) continue;
    if (!to.startsWith('src/')) {
      found.push(`${from} → ${to}: src/ imports nothing outside src/`);
      continue;
    }
    const target = room(to);
    if (target === source) continue;
    if (target === 'routes/' && !WIRING.has(source)) found.push(`${from} → ${to}: only the server's wiring imports routes/`);
    const allowed = ALLOWED[source];
    if (allowed && !allowed.includes(target) && !allowed.includes(to.slice('src/'.length))) {
      found.push(`${from} → ${to}: ${source} may import only ${allowed.join(', ') || 'nothing'}`);
    }
  }
  return found;
}

describe('import direction (ARCHITECTURE.md)', () => {
  const edges = scan();

  it('sees the imports it checks', () => {
    // Without these the rules below would pass on an empty scan.
    expect(edges).toContainEqual({ from: 'src/server.ts', to: 'src/routes/logs.ts' });
    expect(edges).toContainEqual({ from: 'src/upstream/pipeline.ts', to: 'src/datadog/client.ts' });
    expect(edges.filter((e) => e.from.startsWith('src/datadog/')).length).toBeGreaterThan(10);
  });

  it('keeps every rule', () => {
    expect(violations(edges)).toEqual([]);
  });

  it('names a broken rule', () => {
    expect(
      violations([
        { from: 'src/datadog/logs.ts', to: 'src/upstream/types.ts' },
        { from: 'src/upstream/engine.ts', to: 'src/signals/logs.ts' },
        { from: 'src/upstream/engine.ts', to: 'src/datadog/logs.ts' },
        { from: 'src/signals/logs.ts', to: 'src/tinkr/operations.ts' },
        { from: 'src/tail/hub.ts', to: 'src/routes/deps.ts' },
        { from: 'src/demo.ts', to: SIMULATOR_PACKAGE },
        { from: 'src/demo.ts', to: 'packages/simulator/src/index.ts' },
      ]),
    ).toHaveLength(7);
  });

  it('finds the simulator package named only in the demo command', () => {
    const naming = sourceFiles(SRC)
      .filter((file) => readFileSync(file, 'utf8').includes(SIMULATOR_PACKAGE))
      .map((file) => posix(relative(ROOT, file)));
    expect(naming).toEqual(['src/demo.ts']);
  });

  it('has every folder of src/ described in ARCHITECTURE.md', () => {
    const architecture = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
    expect(folders.filter((folder) => !architecture.includes(`\`${folder}/\``))).toEqual([]);
  });
});
