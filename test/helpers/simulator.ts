import { afterAll, beforeAll } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '@tinkr/datadog-simulator';
import { validateDatadogRequest } from './datadog-openapi.ts';
import { ManualClock, TEST_NOW } from './manual-clock.ts';

export interface TestSimulator extends Simulator {
  /** Throws, listing them, when any request the simulator received broke Datadog's spec. */
  assertNoViolations(): void;
}

/**
 * The Datadog simulator with every incoming request checked against Datadog's OpenAPI subset:
 * an invalid request is answered 400 (as Datadog would) and recorded as a violation.
 */
export async function startTestSimulator(options: Omit<SimulatorOptions, 'validateRequest'> = {}): Promise<TestSimulator> {
  const simulator = await startSimulator({ ...options, validateRequest: validateDatadogRequest });
  // The simulator's getters (requests, invalidCount, ...) stay live through the prototype.
  return Object.assign(Object.create(simulator) as Simulator, {
    assertNoViolations(): void {
      if (simulator.invalidCount === 0) return;
      const listed = simulator.invalidRequests
        .map((r) => `  ${r.method} ${r.path}\n${r.violations.map((v) => `    - ${v}`).join('\n')}`)
        .join('\n');
      throw new Error(`${simulator.invalidCount} upstream request(s) broke the Datadog API spec:\n${listed}`);
    },
  });
}

/**
 * One validating simulator for all the tests of a file, on a ManualClock at TEST_NOW: started
 * before the first test; after the last, checked that no request broke Datadog's spec, then
 * closed. The simulator returned stands for the one started (each property is read from it), so
 * a file declares it once at the top.
 */
export function sharedTestSimulator(options: Omit<SimulatorOptions, 'validateRequest' | 'clock'> = {}): { clock: ManualClock; sim: TestSimulator } {
  const clock = new ManualClock(TEST_NOW);
  let started: TestSimulator | undefined;
  beforeAll(async () => {
    started = await startTestSimulator({ ...options, clock });
  });
  afterAll(async () => {
    if (started === undefined) return;
    started.assertNoViolations();
    await started.close();
  });
  const sim = new Proxy({} as TestSimulator, {
    get(_, property) {
      if (started === undefined) throw new Error('the shared simulator is used outside a test (it starts in beforeAll)');
      const value: unknown = Reflect.get(started, property, started);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
  return { clock, sim };
}
