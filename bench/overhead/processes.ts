import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SHIPPED_RUNTIME_ENV } from '../lib/runtime.ts';
import type { CpuSample, Listening, MemorySample } from './probe.ts';

/**
 * The benchmark's processes: the simulator, the server and the bare reference each run alone,
 * so each one's CPU time is its own and the load generator (another child) competes with them
 * only for the machine, as a real client would.
 */

/** A child that does not answer the benchmark within this long is stuck; the run fails. */
const CHILD_ANSWER_MS = 60_000;

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const SIMULATOR_MAIN = here('../../packages/simulator/src/main.ts');
const GATEWAY_CHILD = here('./gateway-child.ts');
const BARE_CHILD = here('./bare-child.ts');

export interface Measured {
  url: string;
  pid: number;
  cpuUs(): Promise<number>;
  memory(): Promise<MemorySample>;
  close(): Promise<void>;
}

function timeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CHILD_ANSWER_MS / 1000} s`)), CHILD_ANSWER_MS);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  for (;;) {
    const [message] = (await once(child, 'message')) as [T];
    if (message.type === type) return message;
  }
}

/** A forked child speaking probe.ts over IPC. */
async function measured(child: ChildProcess, label: string): Promise<Measured> {
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${label} exited (code ${String(code)}) before it was ready`);
  });
  exited.catch(() => {});
  const listening = await timeout(Promise.race([nextMessage<Listening>(child, 'listening'), exited]), label);
  const ask = async <T extends { type: string }>(type: T['type']): Promise<T> => {
    const answer = nextMessage<T>(child, type);
    child.send({ type });
    return timeout(answer, `${label} ${type}`);
  };
  return {
    url: listening.url,
    pid: listening.pid,
    async cpuUs() {
      const sample = await ask<CpuSample>('cpu');
      return sample.userUs + sample.systemUs;
    },
    memory: () => ask<MemorySample>('memory'),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, 'exit');
      child.send({ type: 'close' });
      await timeout(gone, `${label} close`).catch(() => child.kill('SIGKILL'));
    },
  };
}

/**
 * The server, booted from the environment in its own process. Its stdout (the access log, one
 * JSON line per request, as in production) is appended to `logFile`, a real file. `args` go to
 * gateway-child.ts (`--no-near-copies`).
 */
export async function startGatewayProcess(env: Record<string, string>, logFile: string, args: readonly string[] = []): Promise<Measured> {
  const log = openSync(logFile, 'a');
  try {
    const child = fork(GATEWAY_CHILD, [...args], {
      execArgv: ['--expose-gc'],
      // Node and glibc settings as the image sets them: the server as it ships.
      env: { PATH: process.env.PATH ?? '', ...SHIPPED_RUNTIME_ENV, ...env },
      stdio: ['ignore', log, 'inherit', 'ipc'],
    });
    return await measured(child, 'server');
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
}

/** The bare Fastify reference serving the JSON body in `bodyFile` at `path`. */
export async function startBareProcess(bodyFile: string, path: string): Promise<Measured> {
  const child = fork(BARE_CHILD, [bodyFile, path], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return measured(child, 'bare route');
}

export interface SimulatorProcess {
  url: string;
  /** Requests the simulator has received so far (from its control API). */
  callCount(): Promise<number>;
  close(): Promise<void>;
}

/** The Datadog simulator in its own process (`packages/simulator/src/main.ts`), with the given budgets. */
export async function startSimulatorProcess(rateLimits: Record<string, { limit: number; periodS: number }>): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, [SIMULATOR_MAIN, '--port', '0'], {
    env: { PATH: process.env.PATH ?? '', SIM_RATE_LIMITS: JSON.stringify(rateLimits) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await timeout(
    new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`the simulator exited (code ${String(code)}) before listening`)));
    }),
    'simulator',
  );
  return {
    url,
    async callCount() {
      const response = await fetch(`${url}/_sim/stats`);
      const stats = (await response.json()) as { calls?: { total?: number } };
      return stats.calls?.total ?? 0;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      await timeout(gone, 'simulator close').catch(() => child.kill('SIGKILL'));
    },
  };
}
