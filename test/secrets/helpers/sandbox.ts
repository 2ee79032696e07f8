import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { isolatedCloudEnv } from './env.ts';
import { installLoopbackGuard } from './loopback-guard.ts';

/**
 * What every test file that drives a cloud SDK sets up first and takes down last: the loopback
 * guard (nothing may reach past 127.0.0.1: IMDS, metadata servers, real cloud endpoints), a
 * scratch HOME, and the default chains' variables isolated from the machine's.
 */
export interface CloudSandbox {
  readonly home: string;
  /** Clears every chain variable and sets `vars` (isolatedCloudEnv); undone by close(). */
  isolateEnv(vars: Record<string, string | undefined>): void;
  /** Restores the environment, removes HOME, and asserts nothing reached past loopback. */
  close(): void;
}

export function openCloudSandbox(prefix: string): CloudSandbox {
  const guard = installLoopbackGuard();
  const home = mkdtempSync(join(tmpdir(), prefix));
  let restoreEnv = (): void => {};
  return {
    home,
    isolateEnv(vars) {
      restoreEnv = isolatedCloudEnv(home, vars);
    },
    close() {
      restoreEnv();
      rmSync(home, { recursive: true, force: true });
      guard.uninstall();
      expect(guard.violations).toEqual([]);
    },
  };
}
