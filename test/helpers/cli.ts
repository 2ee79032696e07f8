import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { VIOLATIONS_MARKER } from '../secrets/helpers/loopback-guard.ts';

export { VIOLATIONS_MARKER };

/**
 * `tinkr-server` as a user runs it: `node src/main.ts` in a child process with exactly the
 * environment a test gives (nothing of this process's leaks in), HOME and the working
 * directory in a scratch directory (so `~/.tinkr` and `./.env` are the test's own), and a
 * loopback guard preloaded that reports any connection past loopback.
 */

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const GUARD = fileURLToPath(new URL('../fixtures/loopback-guard-preload.ts', import.meta.url));

/** Cold start of Node and the server, plus an SDK import; generous because CI machines are shared. */
const CLI_TIMEOUT_MS = 60_000;

/** A HOME and a working directory of the test's own, removed by cleanup(). */
export interface Scratch {
  root: string;
  home: string;
  cwd: string;
  /** Writes a file relative to the scratch root (e.g. `home/.tinkr/config.toml`); returns its path. */
  write(relative: string, text: string): string;
  cleanup(): void;
}

export function scratchDirs(prefix = 'tinkr-cli-'): Scratch {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const home = join(root, 'home');
  const cwd = join(root, 'work');
  mkdirSync(home);
  mkdirSync(cwd);
  return {
    root,
    home,
    cwd,
    write(relative, text) {
      const path = join(root, relative);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface CliOptions {
  /** The whole environment of the child, besides PATH, HOME and the defaults below. */
  env?: Record<string, string | undefined>;
  /** HOME and working directory. */
  scratch: Scratch;
}

/**
 * The child's environment: PATH (to find nothing in particular, but a real shell has it),
 * HOME, the self-metrics port off (parallel children would fight over 9464), then the test's.
 */
function childEnv(options: CliOptions): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: options.scratch.home,
    TINKR_METRICS_PORT: '0',
    ...options.env,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

function spawnCli(args: readonly string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, ['--import', GUARD, MAIN, ...args], {
    cwd: options.scratch.cwd,
    env: childEnv(options),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its exit. */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tinkr-server ${args.join(' ')} did not exit within ${CLI_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A JSON log line of the server. */
export type LogLine = Record<string, unknown> & { level?: string; msg?: string };

export interface RunningCli {
  /** From the JSON "listening" log line. */
  url: string;
  /** The "listening" log line itself. */
  listening: LogLine;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** stdout's JSON lines (the server's logs); other lines are skipped. */
  logLines(): LogLine[];
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<CliResult>;
  /** SIGKILL (the process dies with no chance to clean up), then waits for the exit. */
  kill(): Promise<CliResult>;
}

/** Parses the JSON lines of a log stream, skipping anything else (a banner, say). */
export function parseLogLines(text: string): LogLine[] {
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

/** Starts the CLI and resolves once it logs "listening"; rejects with its output if it exits first. */
export function startCli(args: readonly string[], options: CliOptions): Promise<RunningCli> {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`tinkr-server did not log "listening" within ${CLI_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.on('error', reject);
    void exited.then((result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`tinkr-server exited (${result.code ?? result.signal}) before listening\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (done) return;
      const listening = parseLogLines(stdout).find((l) => l.msg === 'listening');
      if (!listening) return;
      done = true;
      clearTimeout(timer);
      resolve({
        url: String(listening.url),
        listening,
        stdout: () => stdout,
        stderr: () => stderr,
        logLines: () => parseLogLines(stdout),
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          return exited;
        },
      });
    });
  });
}

/**
 * The variables of a start from the environment alone, as Datadog's backend docs give it, in
 * front of the simulator at `simUrl` (its demo keys), with one caller, on a free loopback port.
 */
export function envOnlyStart(simUrl: string, caller: { token: string; subject: string; quota?: 'off' }): Record<string, string> {
  const key = { hash: sha256Hex(caller.token), subject: caller.subject, roles: ['viewer'], ...(caller.quota ? { quota: caller.quota } : {}) };
  return {
    TINKR_BACKEND: 'datadog',
    DD_API_KEY: DEFAULT_DEMO_KEYS.apiKey,
    DD_APP_KEY: DEFAULT_DEMO_KEYS.appKey,
    DD_API_URL: simUrl,
    TINKR_API_KEYS: JSON.stringify([key]),
    HOST: '127.0.0.1',
    PORT: '0',
  };
}
