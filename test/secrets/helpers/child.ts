import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../../fixtures/secrets/boot-child.ts', import.meta.url));

// Cold start of Node plus an SDK import; generous because CI machines are shared.
const CHILD_TIMEOUT_MS = 60_000;

/**
 * Runs test/fixtures/secrets/boot-child.ts in a fresh Node (this one, i.e. 24) with exactly
 * `env`: nothing from this process's environment leaks in, so no real cloud setting can.
 */
export function runBootChild(mode: 'boot' | 'lazy', payload: unknown, env: Record<string, string | undefined>): Promise<Record<string, unknown>> {
  const cleanEnv = Object.fromEntries(Object.entries({ PATH: process.env.PATH, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, mode, JSON.stringify(payload)], { env: cleanEnv, timeout: CHILD_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) {
        // A crash after the result (an unhandled rejection, say) is a failure too.
        reject(new Error(`boot child failed (${err.message}): ${stderr.slice(0, 2000)}`));
        return;
      }
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`boot child printed no result: ${stderr.slice(0, 2000)}`));
      }
    });
  });
}
