import type { Clock } from '../clock.ts';
import type { DatadogTransport } from '../datadog/transport.ts';
import type { Telemetry } from '../telemetry.ts';
import { createDatadogClient, type Credentials } from './datadog-client.ts';
import type { RetryPolicy } from './retry.ts';
import type { Upstream } from './types.ts';

export interface PipelineDeps {
  transport: DatadogTransport;
  credentials: Credentials;
  clock: Clock;
  telemetry: Telemetry;
  retry?: RetryPolicy;
}

/**
 * The Upstream the routes use: every layer between a service's request and Datadog, composed in
 * one place so tests run exactly what production runs.
 */
export function createUpstreamPipeline(deps: PipelineDeps): Upstream {
  return createDatadogClient({
    transport: deps.transport,
    credentials: deps.credentials,
    clock: deps.clock,
    telemetry: deps.telemetry,
    ...(deps.retry ? { retry: deps.retry } : {}),
  });
}
