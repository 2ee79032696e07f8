import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { envOnlyStart } from './helpers/cli.ts';
import { eventually } from './helpers/eventually.ts';
import { ManualClock } from './helpers/manual-clock.ts';
import { openSocket } from './helpers/raw-http.ts';
import { untilReady } from './helpers/ready.ts';
import { startTestSimulator, type TestSimulator } from './helpers/simulator.ts';

/**
 * `node src/main.ts` as a real child process, booted from the environment alone against a
 * simulator in this process, then stopped with a signal while slow requests are in flight.
 * The simulator runs on an injected clock: its injected latency ends only when the test moves
 * that clock, so "still in flight when the signal lands" holds however slow the machine is.
 */

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const TOKEN = 'shutdown-test-token';
/** Upstream latency of the in-flight requests, on the simulator's clock: they end when the test says. */
const SLOW_MS = 2_500;
/** Cold start of Node and the server; generous because CI machines are shared (a bound, not a timing). */
const START_TIMEOUT_MS = 60_000;

let sim: TestSimulator;
let simClock: ManualClock;
let scratch: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  simClock = new ManualClock(Date.now());
  sim = await startTestSimulator({ clock: simClock });
  // An empty HOME and working directory: no ~/.tinkr/config.toml or .env can leak in.
  scratch = mkdtempSync(join(tmpdir(), 'tinkr-main-'));
});
afterAll(async () => {
  await sim.close();
  rmSync(scratch, { recursive: true, force: true });
});
afterEach(() => {
  sim.faults.clear();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Child {
  process: ChildProcess;
  url: string;
  logs: () => Record<string, unknown>[];
  exit: Promise<[number | null, NodeJS.Signals | null]>;
}

async function startMain(extraEnv: Record<string, string> = {}): Promise<Child> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: scratch,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: scratch,
      ...envOnlyStart(sim.url, { token: TOKEN, subject: 'shutdown-test' }),
      TINKR_METRICS_PORT: '0',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += String(c)));
  child.stderr!.on('data', (c) => (err += String(c)));
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  await eventually(() => {
    if (child.exitCode !== null) throw new Error(`tinkr-server exited ${child.exitCode}: ${err.slice(0, 2000)}`);
    return logs().some((l) => l.msg === 'listening');
  }, 'tinkr-server logs "listening"', START_TIMEOUT_MS);
  const url = logs().find((l) => l.msg === 'listening')!.url as string;
  return { process: child, url, logs, exit };
}

const get = (url: string) => fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });

/** True once a new TCP connection to `url` is refused. */
async function refused(url: string): Promise<boolean> {
  const { port } = new URL(url);
  try {
    const socket = await openSocket(Number(port));
    socket.destroy();
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

describe('tinkr-server shutdown (src/main.ts)', () => {
  it('SIGTERM: refuses new connections, finishes the slow in-flight requests with 200, exits 0', async () => {
    const server = await startMain();
    // Ready once Datadog (the simulator) accepted the keys, some time after "listening".
    await untilReady(server.url);

    sim.faults.add({ kind: 'latency', delayMs: SLOW_MS, endpoint: 'logs', times: 3 });
    sim.resetRequests();
    let settled = 0;
    const inFlight = [1, 2, 3].map((n) =>
      get(`${server.url}/logs?since=5m&limit=${n}`).then(async (res) => {
        settled++;
        return { status: res.status, body: (await res.json()) as { data: unknown[] } };
      }),
    );
    await eventually(() => sim.callCount('logs') === 3, 'the three requests reach the simulator');

    server.process.kill('SIGTERM');
    await eventually(() => refused(server.url), 'new connections are refused');
    // Refused while the slow ones were still being served: the drain, not the end of it.
    expect(settled).toBe(0);
    // Now the simulator answers them.
    simClock.advance(SLOW_MS);

    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.body.data.length)).toEqual([1, 2, 3]);
    expect(await server.exit).toEqual([0, null]);

    const messages = server.logs().map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['shutting down', 'draining: no new connections; waiting for in-flight requests', 'stopped']));
    expect(server.logs().find((l) => l.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM' });
    expect(server.logs().find((l) => l.msg === 'stopped')).toMatchObject({ exit_code: 0 });
    expect(messages).not.toContain('shutdown timeout reached: closing the connections still open');
  });

  it('SIGINT with nothing in flight: exits 0 at once', async () => {
    const server = await startMain();
    server.process.kill('SIGINT');
    expect(await server.exit).toEqual([0, null]);
    expect(server.logs().find((l) => l.msg === 'shutting down')).toMatchObject({ signal: 'SIGINT' });
  });

  it('cuts requests still running at [server] shutdown_timeout_ms, and still exits 0', async () => {
    const file = join(scratch, 'short-drain.toml');
    writeFileSync(file, '[server]\nshutdown_timeout_ms = 300\n\n[profiles.default]\nbackend = "datadog"\n');
    const server = await startMain({ TINKR_CONFIG: file });
    sim.faults.add({ kind: 'latency', delayMs: 60_000, endpoint: 'logs' });
    sim.resetRequests();
    const stuck = get(`${server.url}/logs?since=5m`).then(
      (res) => res.status,
      (error: unknown) => error,
    );
    await eventually(() => sim.callCount('logs') === 1, 'the request reaches the simulator');

    server.process.kill('SIGTERM');
    expect(await server.exit).toEqual([0, null]);
    expect(await stuck).toBeInstanceOf(Error);
    expect(server.logs().find((l) => l.msg === 'shutdown timeout reached: closing the connections still open')).toMatchObject({
      level: 'warn',
      timeout_ms: 300,
    });
  });
});
