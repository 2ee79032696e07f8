import type { Logger } from 'pino';
import type { Telemetry } from '../telemetry/telemetry.ts';

/**
 * Whether the shared store may be used right now. Two states that matter: `up` (share through
 * Redis) and `degraded` (each replica on its own state); before the first connection it is
 * `starting`, which shares nothing either. Every change of state is one log line (a warning,
 * except the first successful connection) and one value of `tinkr_store_up`, so a flapping
 * Redis is visible without flooding the logs with one line per failed call.
 */

export type StoreState = 'starting' | 'up' | 'degraded';

export interface StoreHealth {
  readonly state: StoreState;
  /** Sharing is on: calls go to Redis. */
  readonly up: boolean;
  /** Redis answered (a probe, a command, a fresh connection). */
  succeeded(): void;
  /** Redis did not answer: down, unreachable, hung past the timeout, or refused us. */
  failed(reason: string): void;
  /** Called on every change of state (after logging it). */
  onChange(listener: (state: StoreState) => void): () => void;
}

export interface HealthDeps {
  log: Logger;
  telemetry: Telemetry;
  /** `redis://host:port/db`, never with the password. */
  endpoint: string;
  /** Scrubs a reason before it is logged (the password must never reach a log line). */
  scrub: (text: string) => string;
}

export function createStoreHealth(deps: HealthDeps): StoreHealth {
  let state: StoreState = 'starting';
  const listeners = new Set<(state: StoreState) => void>();
  deps.telemetry.storeUp(false);

  function move(next: StoreState, reason?: string): void {
    if (next === state) return;
    const previous = state;
    state = next;
    deps.telemetry.storeUp(next === 'up');
    const fields = { store: deps.endpoint, ...(reason !== undefined ? { reason: deps.scrub(reason) } : {}) };
    if (next === 'up' && previous === 'starting') deps.log.info(fields, 'shared store connected: state is shared with the other replicas');
    else if (next === 'up') deps.log.warn(fields, 'shared store is back: sharing state with the other replicas again');
    else if (previous === 'starting') deps.log.warn(fields, 'shared store unreachable at start: serving with this replica\'s own state until it answers');
    else deps.log.warn(fields, 'shared store degraded: serving with this replica\'s own state until it answers again');
    for (const listener of listeners) listener(next);
  }

  return {
    get state() {
      return state;
    },
    get up() {
      return state === 'up';
    },
    succeeded: () => move('up'),
    failed: (reason) => move('degraded', reason),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
