import type { Clock } from '../clock.ts';
import type { QueryDeps } from '../signals/deps.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';

/** What the query routes need. */
export interface RouteDeps {
  query: QueryDeps;
  telemetry: Telemetry;
  clock: Clock;
}
