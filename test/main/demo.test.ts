import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as simulatorPackage from '@tinkr/datadog-simulator';
import { loadSimulatorPackage, SIMULATOR_PACKAGE, type DemoSimulatorPackage } from '../../src/demo.ts';
import { parseLogLines, scratchDirs } from '../helpers/cli.ts';

/**
 * The README's quick start: `npm run demo` prints the URL, a demo token and `curl` calls that
 * work verbatim. The demo runs through npm exactly as a user types it (on `--port 0`), every
 * printed `curl` line is executed as printed — with curl itself when the machine has it, and
 * always with fetch using the same URL and headers — and each must answer 200 with data.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
/** npm, a cold Node and the simulator; generous because CI machines are shared. */
const START_TIMEOUT_MS = 60_000;
const HAS_CURL = spawnSync('curl', ['--version']).status === 0;

const scratch = scratchDirs('tinkr-demo-');
afterAll(() => scratch.cleanup());

interface Demo {
  child: ChildProcess;
  output(): string;
  /** Stops npm and everything it started (its process group), and waits for npm to exit. */
  stop(): Promise<number | null>;
}

function startDemo(): Demo {
  // Its own process group, so stopping it reaches the node process npm runs, not just npm.
  const child = spawn('npm', ['run', 'demo', '--', '--port', '0'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: scratch.home, TINKR_METRICS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Already gone.
      }
      return exited;
    },
  };
}

/** Splits a shell line into words, honouring single quotes (all the banner uses). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/'([^']*)'|(\S+)/g)) words.push(match[1] ?? match[2]!);
  return words;
}

/** A `curl -s -H '…' 'URL'` line as a URL and headers. */
function parseCurl(line: string): { url: string; headers: Record<string, string> } {
  const [command, ...args] = shellWords(line.trim());
  expect(command).toBe('curl');
  const headers: Record<string, string> = {};
  let url: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-H') {
      const header = args[++i]!;
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (arg === '-s') {
      // Silent: no progress bar. Nothing to do for fetch.
    } else if (/^https?:\/\//.test(arg)) {
      url = arg;
    } else {
      throw new Error(`the banner's curl line uses an option this test does not know: ${arg}`);
    }
  }
  expect(url).toBeDefined();
  return { url: url!, headers };
}

/** What a working example answers: logs, traces and aggregates have data, metrics a series with points. */
function expectData(body: unknown): void {
  const b = body as { data?: unknown[]; series?: Array<{ points: unknown[] }> };
  if (b.series !== undefined) {
    expect(b.series.length).toBeGreaterThan(0);
    expect(b.series[0]!.points.length).toBeGreaterThan(0);
  } else {
    expect(b.data?.length ?? 0).toBeGreaterThan(0);
  }
}

const runShell = (line: string) =>
  new Promise<string>((resolve, reject) => {
    execFile('sh', ['-c', line], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });

describe('npm run demo', () => {
  it('is `node src/main.ts demo`, as the README says', () => {
    expect(pkg.scripts.demo).toBe('node src/main.ts demo');
  });

  it('imports the simulator package, a dev dependency only, which has what the demo uses', async () => {
    expect(pkg.devDependencies[SIMULATOR_PACKAGE]).toBeDefined();
    expect(pkg.dependencies[SIMULATOR_PACKAGE]).toBeUndefined();
    // Type-checked (npm run typecheck): the package fits the demo's view of it.
    const fits: DemoSimulatorPackage = simulatorPackage;
    const loaded = await loadSimulatorPackage();
    expect(loaded.DEFAULT_DEMO_KEYS).toEqual(fits.DEFAULT_DEMO_KEYS);
    expect(typeof loaded.startSimulator).toBe('function');
  });

  it('prints the real URL, a token and curl calls that each answer 200 with data, verbatim', async () => {
    const demo = startDemo();
    let server: string | undefined;
    try {
      await vi.waitFor(
        () => {
          if (demo.child.exitCode !== null) throw new Error(`npm run demo exited early:\n${demo.output()}`);
          expect(demo.output()).toContain('Press Ctrl+C to stop.');
          expect(parseLogLines(demo.output()).some((l) => l.msg === 'listening')).toBe(true);
        },
        { timeout: START_TIMEOUT_MS, interval: 50 },
      );
      const output = demo.output();
      const listening = parseLogLines(output).find((l) => l.msg === 'listening')!;
      server = /^\s*Server:\s+(\S+)$/m.exec(output)?.[1];
      const token = /^\s*Token:\s+(\S+)$/m.exec(output)?.[1];
      // --port 0: the banner names the port actually listened on.
      expect(server).toBe(listening.url);
      expect(Number(new URL(server!).port)).toBeGreaterThan(0);
      expect(token).toBeTruthy();

      const curls = output.split('\n').filter((line) => /^\s*curl /.test(line));
      expect(curls.map((line) => new URL(parseCurl(line).url).pathname)).toEqual(['/logs', '/metrics', '/traces', '/logs/aggregate']);
      for (const line of curls) {
        const { url, headers } = parseCurl(line);
        expect(url.startsWith(`${server}/`)).toBe(true);
        expect(headers.authorization).toBe(`Bearer ${token}`);

        const res = await fetch(url, { headers });
        expect(res.status, line).toBe(200);
        expectData(await res.json());

        if (HAS_CURL) expectData(JSON.parse(await runShell(line)));
      }
    } finally {
      await demo.stop();
    }
    // Stopping npm's process group stops the server too: soon nothing is left listening.
    await vi.waitFor(() => expect(fetch(`${server}/healthz`)).rejects.toThrow(), { timeout: START_TIMEOUT_MS, interval: 100 });
  });
});
