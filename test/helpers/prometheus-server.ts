import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { freePort } from './free-port.ts';

/**
 * A real Prometheus (Debian package `prometheus`; `.ci/run` installs it) on a free loopback
 * port, with a config and a data directory of its own in a scratch directory, scraping the
 * given targets every second and evaluating the given rule files every second.
 */

/** One second: the shortest interval Prometheus takes, so a test waits little for a scrape. */
export const SCRAPE_INTERVAL = '1s';
/** Prometheus reads its TSDB and rules, then opens its port; a busy machine makes that slow. */
const READY_TIMEOUT_MS = 60_000;
/** Readiness is polled a few times a second. */
const READY_POLL_MS = 50;
/** Tries with another port when the free port was taken between choosing and binding it. */
const MAX_PORT_TRIES = 3;
/** SIGTERM lets Prometheus close its TSDB; past this it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** Most bytes of Prometheus' log kept for an error message. */
const MAX_LOG_CHARS = 20_000;

export interface PrometheusServerOptions {
  job: string;
  /** `host:port` of each metrics endpoint (path /metrics). */
  targets: readonly string[];
  /** Absolute paths of rule files to load. */
  ruleFiles: readonly string[];
}

/** One sample of an instant vector. */
export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusServer {
  url: string;
  /** An instant query at now; throws with Prometheus' error for a bad expression. */
  query(expr: string): Promise<VectorSample[]>;
  /** GET an API path (`/api/v1/...`) and return its `data`. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  /** Its log so far (stderr), for failure messages. */
  log(): string;
  close(): Promise<void>;
}

export async function startPrometheus(options: PrometheusServerOptions): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tinkr-prometheus-'));
  const config = {
    global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL },
    rule_files: options.ruleFiles,
    scrape_configs: [{ job_name: options.job, static_configs: [{ targets: options.targets }] }],
  };
  // JSON is YAML, and needs no quoting rules of its own.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = await launch(dir, port);
      if (started.ok) return started.server;
      if (!/address already in use/.test(started.log) || attempt >= MAX_PORT_TRIES) throw new Error(`prometheus did not start:\n${started.log}`);
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Whether the Prometheus at `url` is the one started with `configFile`. */
async function runsConfig(url: string, configFile: string): Promise<boolean> {
  const res = await fetch(`${url}/api/v1/status/flags`);
  const body = (await res.json()) as { data?: Record<string, string> };
  return body.data?.['config.file'] === configFile;
}

type Launch = { ok: true; server: PrometheusServer } | { ok: false; log: string };

async function launch(dir: string, port: number): Promise<Launch> {
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (log.length < MAX_LOG_CHARS) log += chunk;
  });
  let exited = false;
  let spawnError: NodeJS.ErrnoException | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('close', () => {
      exited = true;
      resolve();
    }),
  );
  child.on('error', (err) => (spawnError = err));
  const url = `http://127.0.0.1:${port}`;

  try {
    await eventually(
      async () => {
        if (exited || spawnError) return true;
        try {
          return (await fetch(`${url}/-/ready`)).status === 200;
        } catch {
          return false;
        }
      },
      'prometheus is ready',
      READY_TIMEOUT_MS,
      READY_POLL_MS,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  if (spawnError) {
    throw new Error(spawnError.code === 'ENOENT' ? 'prometheus is not installed: apt-get install prometheus (.ci/run installs it)' : `prometheus: ${spawnError.message}`);
  }
  if (exited) return { ok: false, log };
  // Another Prometheus (a parallel test's) may have taken the port first and answered for us.
  if (!(await runsConfig(url, join(dir, 'prometheus.yml')))) {
    child.kill('SIGKILL');
    await exit;
    return { ok: false, log: `${log}\naddress already in use: another Prometheus answered on port ${port}` };
  }

  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    ok: true,
    server: {
      url,
      api,
      async query(expr) {
        const data = await api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('/api/v1/query', { query: expr });
        if (data.resultType !== 'vector') throw new Error(`${expr} is a ${data.resultType}, not an instant vector`);
        return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
      },
      log: () => log,
      async close() {
        if (!exited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exit;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}

