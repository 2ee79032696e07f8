import { startSimulator, type Simulator, type SimulatorOptions } from '@tinkr/datadog-simulator';
import { validateDatadogRequest } from './datadog-openapi.ts';

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
