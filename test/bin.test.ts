import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_RUNTIME_ENV } from '../bench/lib/runtime.ts';
import { REQUIRED_NODE_MAJOR, unsupportedNode } from '../src/node-guard.ts';
import { envOnlyStart } from './helpers/cli.ts';
import { eventually } from './helpers/eventually.ts';

/**
 * The `tinkr-server` command as a user gets it: the README's install steps run as written in a
 * copy of the repository, into a temporary npm prefix (never the machine's own), then the
 * installed command on the project's Node 24 and on an older Node, which must be refused before
 * any of the server loads (exit 78, naming the version).
 */

const REPO = fileURLToPath(new URL('../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; engines: { node: string } };
/** What `npm run build` needs from the repository. */
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'scripts', 'bin'];
/** tsc on a shared, cold machine; a bound, not a timing. */
const INSTALL_TIMEOUT_MS = 300_000;
/** Directories a clean shell searches for `node`, besides the project's own Node 24. */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
/** npm's settings for this machine, not the README's steps: no audit, funding or update round trips, no network. */
const NPM_QUIET = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_offline: 'true' };

/** The README's install block (after "A `tinkr-server` command on your PATH"), line by line. */
function readmeInstallSteps(): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### A `tinkr-server` command on your PATH'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  expect(block, 'the README has the install block').toBeDefined();
  return block!.trim().split('\n');
}

/** A Node on this machine older than REQUIRED_NODE_MAJOR, found as a clean shell finds `node`; undefined when there is none. */
function olderSystemNode(): { path: string; version: string } | undefined {
  for (const dir of SYSTEM_PATH.split(':')) {
    const path = join(dir, 'node');
    if (!existsSync(path)) continue;
    const version = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8', env: {} }).stdout.trim();
    if (Number(version.split('.')[0]) < REQUIRED_NODE_MAJOR) return { path, version };
  }
  return undefined;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(line: string, cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], { cwd, env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let root: string;
let checkout: string;
let prefix: string;
/** The environment of a user who followed the README: the project's Node 24 first, the prefix's bin on PATH. */
let userEnv: Record<string, string>;
const steps = readmeInstallSteps();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tinkr-install-'));
  checkout = join(root, 'checkout');
  prefix = join(root, 'prefix');
  const home = join(root, 'home');
  mkdirSync(home);
  for (const input of BUILD_INPUTS) cpSync(join(REPO, input), join(checkout, input), { recursive: true });
  userEnv = { PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:${SYSTEM_PATH}`, HOME: home, npm_config_prefix: prefix, ...NPM_QUIET };

  // `npm ci` stands in as the repository's own node_modules (one install per test run); every
  // other step runs verbatim.
  expect(steps[0]).toBe('npm ci');
  symlinkSync(join(REPO, 'node_modules'), join(checkout, 'node_modules'), 'dir');
  for (const step of steps.slice(1, -1)) {
    const result = await sh(step, checkout, userEnv);
    expect(result.code, `${step}\n${result.stderr}`).toBe(0);
  }
}, INSTALL_TIMEOUT_MS);
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the README install steps', () => {
  it('are npm ci, npm run build, npm install -g . and the command itself', () => {
    expect(steps).toEqual(['npm ci', 'npm run build', 'npm install -g .', 'tinkr-server --version']);
  });

  it('put a tinkr-server command on PATH that runs the server (the last step, verbatim)', async () => {
    const result = await sh(steps.at(-1)!, root, userEnv);
    expect(result).toEqual({ code: 0, stdout: `tinkr-server ${PKG.version}\n`, stderr: '' });
    // It is the package's bin, installed under the temporary prefix only.
    expect(PKG.bin['tinkr-server']).toBe('bin/tinkr-server');
    expect(existsSync(join(prefix, 'bin', 'tinkr-server'))).toBe(true);
    const help = await sh('tinkr-server --help', root, userEnv);
    expect(help.stdout).toContain('--check');
  });
});

describe('the memory settings of the command', () => {
  /** A `node` first on PATH that only reports what the command handed it. */
  function reportingNode(): Record<string, string> {
    const dir = join(root, 'reporting-node');
    mkdirSync(dir, { recursive: true });
    const script = join(dir, 'node');
    writeFileSync(script, '#!/bin/sh\nprintf "%s\\n" "MALLOC_MMAP_THRESHOLD_=$MALLOC_MMAP_THRESHOLD_" "NODE_OPTIONS=$NODE_OPTIONS" "$@"\n');
    chmodSync(script, 0o755);
    return { ...userEnv, PATH: `${join(prefix, 'bin')}:${dir}:${SYSTEM_PATH}` };
  }

  it("runs dist/bin.js with the image's settings (docs/operations.md#memory), the arguments untouched", async () => {
    const result = await sh("tinkr-server --config 'my file.toml' --check", root, reportingNode());
    expect(result.code).toBe(0);
    const [threshold, options, script, ...args] = result.stdout.trimEnd().split('\n');
    expect(threshold).toBe(`MALLOC_MMAP_THRESHOLD_=${SHIPPED_RUNTIME_ENV.MALLOC_MMAP_THRESHOLD_}`);
    expect(options).toBe(`NODE_OPTIONS=${SHIPPED_RUNTIME_ENV.NODE_OPTIONS}`);
    // Through npm's link in the prefix's bin, to the checkout's build.
    expect(script).toBe(join(checkout, 'dist', 'bin.js'));
    expect(args).toEqual(['--config', 'my file.toml', '--check']);
  });

  it("keeps the caller's own: a threshold already set, and NODE_OPTIONS after the default so they win", async () => {
    const env = { ...reportingNode(), MALLOC_MMAP_THRESHOLD_: '65536', NODE_OPTIONS: '--max-semi-space-size=32 --enable-source-maps' };
    const [threshold, options] = (await sh('tinkr-server --version', root, env)).stdout.split('\n');
    expect(threshold).toBe('MALLOC_MMAP_THRESHOLD_=65536');
    expect(options).toBe(`NODE_OPTIONS=${SHIPPED_RUNTIME_ENV.NODE_OPTIONS} --max-semi-space-size=32 --enable-source-maps`);
  });

  it('reach the running server, which is Node itself (exec: a SIGTERM stops it with exit 0)', async () => {
    // Nothing listens at the upstream address: the server starts and waits for its keys, which is enough here.
    const env = { ...userEnv, ...envOnlyStart('http://127.0.0.1:9', { token: 'memory-settings-token', subject: 'ops' }), TINKR_METRICS_PORT: '0' };
    const server = spawn('tinkr-server', [], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    let output = '';
    server.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await eventually(() => output.includes('"msg":"listening"'), 'the installed command to start the server', INSTALL_TIMEOUT_MS);
    // The process the command started is Node running the server, with the settings in its environment.
    const environ = readFileSync(`/proc/${server.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`MALLOC_MMAP_THRESHOLD_=${SHIPPED_RUNTIME_ENV.MALLOC_MMAP_THRESHOLD_}`);
    expect(environ).toContain(`NODE_OPTIONS=${SHIPPED_RUNTIME_ENV.NODE_OPTIONS}`);
    expect(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0')).toContain(join(checkout, 'dist', 'bin.js'));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('the runtime guard', () => {
  const older = olderSystemNode();

  // This machine has the system's Node 20 besides the project's Node 24, so the real run is the
  // one that happens; where no older Node exists the guard is checked as a unit instead.
  it(older ? `refuses the machine's own Node ${older.version}: exit 78 naming Node ${REQUIRED_NODE_MAJOR}, before the server loads` : 'no older Node on this machine: the guard, as a unit', async () => {
    if (!older) {
      expect(unsupportedNode('20.20.2')).toMatch(/Node\.js 24 or newer is required; this is Node\.js 20\.20\.2/);
      return;
    }
    // A clean shell: `node` is whatever the system has (the installed command runs the `node` on PATH).
    const env = { PATH: `${join(prefix, 'bin')}:${dirname(older.path)}:${SYSTEM_PATH}`, HOME: userEnv.HOME! };
    expect((await sh('node -p process.versions.node', root, env)).stdout.trim()).toBe(older.version);
    const result = await sh('tinkr-server --version', root, env);
    expect(result.code).toBe(78);
    expect(result.stdout).toBe('');
    // Exactly the guard's message: nothing of the server (a TypeError from undici) got to run.
    expect(result.stderr).toBe(`${unsupportedNode(older.version)}\n`);
    expect(result.stderr).toContain(`Node.js ${REQUIRED_NODE_MAJOR} or newer is required; this is Node.js ${older.version}`);
  });

  it('agrees with package.json engines and lets Node 24 and later through', () => {
    expect(PKG.engines.node).toBe(`>=${REQUIRED_NODE_MAJOR}`);
    expect(unsupportedNode(process.versions.node)).toBeUndefined();
    expect(unsupportedNode('24.0.0')).toBeUndefined();
    expect(unsupportedNode('25.1.0')).toBeUndefined();
    for (const old of ['23.11.1', '20.20.2', '18.0.0', 'v12']) {
      expect(unsupportedNode(old)).toBe(
        `tinkr-server: Node.js 24 or newer is required; this is Node.js ${old}. Install Node.js 24 (https://nodejs.org), or run the container image, which brings its own.`,
      );
    }
  });
});
